// The Ticks loop against a manual clock: which ticks are sent, with which due instants, when
// the receiver keeps up, when it is slow (each missed-tick behaviour), when it goes away and
// when the call is cancelled.
#include "orch/schedules/tick_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <vector>

using namespace std::chrono_literals;

namespace orch::schedules {
namespace {

namespace asio = boost::asio;
using engine::Clock;
using engine::TimePoint;

struct Sent {
  FiredTick tick;
  TimePoint sent_at;
};

// Records every tick; each send takes `busy` of clock time (a slow reader), and the receiver
// is gone after `accept` ticks.
class RecordingSink final : public TickSink {
 public:
  explicit RecordingSink(Duration busy = Duration::zero(), std::size_t accept = SIZE_MAX)
      : busy_(busy), accept_(accept) {}

  asio::awaitable<bool> send(const FiredTick& tick, TimePoint sent_at) override {
    if (sent_.size() >= accept_) co_return false;
    sent_.push_back({tick, sent_at});
    if (busy_ > Duration::zero()) {
      engine::Timer timer(co_await asio::this_coro::executor);
      timer.expires_after(busy_);
      // Not cancellable, like StreamCall::write: a started write always completes.
      co_await timer.async_wait(
          asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    }
    co_return true;
  }

  const std::vector<Sent>& sent() const { return sent_; }

 private:
  Duration busy_;
  std::size_t accept_;
  std::vector<Sent> sent_;
};

class TickLoopTest : public ::testing::Test {
 protected:
  TickLoopTest() { Clock::use_manual(); }
  ~TickLoopTest() override {
    // Let a loop that is still waiting see its cancellation before the io_context goes.
    cancel_.emit(asio::cancellation_type::terminal);
    settle();
    Clock::use_real();
  }

  void settle() {
    for (int i = 0; i < 1000; ++i) {
      io_.restart();
      if (io_.poll() == 0) break;
    }
  }

  void start_loop(IntervalTimeline& timeline, TickSink& sink) {
    asio::co_spawn(
        io_, run_ticks(timeline, sink),
        asio::bind_cancellation_slot(cancel_.slot(), [this](std::exception_ptr e, TickLoopEnd end) {
          if (e) std::rethrow_exception(e);
          end_ = end;
        }));
    settle();
  }

  // Moves the clock 1 ms at a time until the loop has ended or `limit` has passed.
  void run_for(Duration limit) {
    for (Duration t{}; t < limit && !end_; t += 1ms) {
      Clock::advance(1ms);
      settle();
    }
  }

  static IntervalOptions options(MissedTickBehavior behavior, std::uint64_t count) {
    IntervalOptions o;
    o.start = Clock::now();
    o.period = 10ms;
    o.missed_tick_behavior = behavior;
    if (count > 0) o.max_ticks = count;
    return o;
  }

  std::vector<Duration> scheduled_offsets(const RecordingSink& sink, TimePoint start) const {
    std::vector<Duration> out;
    for (const auto& s : sink.sent()) out.push_back(s.tick.scheduled - start);
    return out;
  }

  asio::io_context io_;
  asio::cancellation_signal cancel_;
  std::optional<TickLoopEnd> end_;
};

TEST_F(TickLoopTest, AFastReaderGetsEveryTickOnTimeAndTheLoopEndsAfterCount) {
  const TimePoint start = Clock::now();
  IntervalTimeline timeline(options(MissedTickBehavior::kSkip, 5));
  RecordingSink sink;
  start_loop(timeline, sink);
  ASSERT_EQ(sink.sent().size(), 1u);  // the first tick is due at once
  run_for(1s);
  ASSERT_EQ(end_, TickLoopEnd::kFinished);
  ASSERT_EQ(sink.sent().size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(sink.sent()[i].tick.tick_number, i + 1);
    EXPECT_EQ(sink.sent()[i].tick.scheduled, start + 10ms * static_cast<int>(i));
    EXPECT_EQ(sink.sent()[i].sent_at, sink.sent()[i].tick.scheduled);
    EXPECT_EQ(sink.sent()[i].tick.missed_before, 0u);
  }
}

TEST_F(TickLoopTest, ASlowReaderWithBurstGetsEveryTickWithItsOwnDueInstant) {
  const TimePoint start = Clock::now();
  IntervalTimeline timeline(options(MissedTickBehavior::kBurst, 4));
  RecordingSink sink(25ms);
  start_loop(timeline, sink);
  run_for(1s);
  ASSERT_EQ(end_, TickLoopEnd::kFinished);
  EXPECT_EQ(scheduled_offsets(sink, start), (std::vector<Duration>{0ms, 10ms, 20ms, 30ms}));
  // Each tick waits for the previous send: 0, 25, 50, 75.
  EXPECT_EQ(sink.sent()[3].sent_at - start, 75ms);
  for (const auto& s : sink.sent()) EXPECT_EQ(s.tick.missed_before, 0u);
}

TEST_F(TickLoopTest, ASlowReaderWithDelayRestartsTheTimelineFromEachLateTick) {
  const TimePoint start = Clock::now();
  IntervalTimeline timeline(options(MissedTickBehavior::kDelay, 4));
  RecordingSink sink(25ms);
  start_loop(timeline, sink);
  run_for(1s);
  ASSERT_EQ(end_, TickLoopEnd::kFinished);
  // Tick 2 (due 10) fires late at 25, so tick 3 is due at 35; it fires late at 50, tick 4 due 60.
  EXPECT_EQ(scheduled_offsets(sink, start), (std::vector<Duration>{0ms, 10ms, 35ms, 60ms}));
  for (const auto& s : sink.sent()) EXPECT_EQ(s.tick.missed_before, 0u);
}

TEST_F(TickLoopTest, ASlowReaderWithSkipMissesTicksButStaysOnTheTimeline) {
  const TimePoint start = Clock::now();
  IntervalTimeline timeline(options(MissedTickBehavior::kSkip, 4));
  RecordingSink sink(25ms);
  start_loop(timeline, sink);
  run_for(1s);
  ASSERT_EQ(end_, TickLoopEnd::kFinished);
  ASSERT_EQ(sink.sent().size(), 4u);
  std::uint64_t missed = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto offset = sink.sent()[i].tick.scheduled - start;
    EXPECT_EQ(offset % 10ms, Duration::zero()) << "tick " << i + 1 << " is off the timeline";
    if (i > 0) {
      EXPECT_GT(sink.sent()[i].tick.scheduled, sink.sent()[i - 1].tick.scheduled);
    }
    missed += sink.sent()[i].tick.missed_before;
  }
  EXPECT_GT(missed, 0u);
  EXPECT_EQ(missed, timeline.ticks_missed());
}

TEST_F(TickLoopTest, TheLoopEndsWhenTheReceiverIsGone) {
  IntervalTimeline timeline(options(MissedTickBehavior::kSkip, 0));
  RecordingSink sink(Duration::zero(), 2);
  start_loop(timeline, sink);
  run_for(1s);
  EXPECT_EQ(end_, TickLoopEnd::kReceiverGone);
  EXPECT_EQ(sink.sent().size(), 2u);
}

TEST_F(TickLoopTest, CancellingTheLoopWhileItWaitsEndsItAtOnce) {
  IntervalTimeline timeline(options(MissedTickBehavior::kSkip, 0));
  RecordingSink sink;
  start_loop(timeline, sink);
  run_for(15ms);
  ASSERT_FALSE(end_);
  ASSERT_EQ(sink.sent().size(), 2u);
  cancel_.emit(asio::cancellation_type::terminal);
  settle();
  EXPECT_EQ(end_, TickLoopEnd::kCancelled);
  EXPECT_EQ(sink.sent().size(), 2u);
}

TEST_F(TickLoopTest, ACancellationDuringASendEndsTheLoopOnceTheSendCompletes) {
  IntervalOptions o = options(MissedTickBehavior::kSkip, 0);
  o.period = std::chrono::hours(1);
  IntervalTimeline timeline(o);
  RecordingSink sink(25ms);
  start_loop(timeline, sink);
  run_for(10ms);
  ASSERT_EQ(sink.sent().size(), 1u);
  cancel_.emit(asio::cancellation_type::terminal);
  settle();
  EXPECT_FALSE(end_);  // the send is still in progress
  run_for(20ms);       // the send completes at 25ms; the next tick would be due in an hour
  EXPECT_EQ(end_, TickLoopEnd::kCancelled);
  EXPECT_EQ(sink.sent().size(), 1u);
}

}  // namespace
}  // namespace orch::schedules
