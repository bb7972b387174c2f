// The TickHub against a manual clock: entries fire at (never before) their instant, in deadline
// order, all those due at one instant from one wake-up; re-arming earlier or later, disarming,
// entries that stop themselves, arms from another thread, and stop().
#include "orch/schedules/tick_hub.h"

#include <gtest/gtest.h>

#include "orch/common/duration.h"

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace orch::schedules {
namespace {

namespace asio = boost::asio;
using engine::Clock;
using engine::TimePoint;

struct Fired {
  int id;
  TimePoint at;
};

// Records each wake-up; then is due `period` after the instant it was due (0: done).
class Recorder final : public TickHub::Entry {
 public:
  Recorder(int id, std::vector<Fired>& log, TimePoint first, Duration period = Duration::zero(),
           int times = 1)
      : id_(id), log_(log), due_(first), period_(period), left_(times) {}

  std::optional<TimePoint> on_due(TimePoint now) override {
    log_.push_back({id_, now});
    if (now < due_) return due_;  // woken early for an older arm: keep the real deadline
    if (--left_ <= 0 || period_ == Duration::zero()) return std::nullopt;
    due_ += period_;
    return due_;
  }
  void move_to(TimePoint due) { due_ = due; }

 private:
  int id_;
  std::vector<Fired>& log_;
  TimePoint due_;
  Duration period_;
  int left_;
};

class Throws final : public TickHub::Entry {
 public:
  std::optional<TimePoint> on_due(TimePoint) override { throw std::runtime_error("broken"); }
};

TimePoint manual_now() {
  Clock::use_manual();
  return Clock::now();
}

class TickHubTest : public ::testing::Test {
 protected:
  TickHubTest() : start_(manual_now()) {}
  ~TickHubTest() override {
    hub_.stop();
    settle();
    Clock::use_real();
  }

  // Returns how many handlers ran.
  std::size_t settle() {
    std::size_t ran = 0;
    for (int i = 0; i < 1000; ++i) {
      io_.restart();
      const std::size_t n = io_.poll();
      ran += n;
      if (n == 0) break;
    }
    return ran;
  }
  void advance(Duration d) {
    Clock::advance(d);
    settle();
  }
  std::vector<int> ids() const {
    std::vector<int> out;
    for (const auto& f : log_) out.push_back(f.id);
    return out;
  }

  TimePoint start_;
  asio::io_context io_;
  TickHub hub_{io_.get_executor()};
  std::vector<Fired> log_;
};

TEST_F(TickHubTest, AnEntryFiresAtItsInstantAndNeverBefore) {
  auto entry = std::make_shared<Recorder>(1, log_, start_ + 10ms);
  hub_.arm(entry, start_ + 10ms);
  settle();
  advance(9ms);
  EXPECT_TRUE(log_.empty());
  EXPECT_EQ(hub_.armed(), 1u);
  advance(1ms);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0].at, start_ + 10ms);
  EXPECT_EQ(hub_.armed(), 0u);  // it returned nullopt: done
  advance(100ms);
  EXPECT_EQ(log_.size(), 1u);
}

TEST_F(TickHubTest, EntriesDueByOneWakeUpFireTogetherInDeadlineOrder) {
  // Armed out of order; three of them due by the instant the clock jumps to.
  auto a = std::make_shared<Recorder>(1, log_, start_ + 7ms);
  auto b = std::make_shared<Recorder>(2, log_, start_ + 3ms);
  auto c = std::make_shared<Recorder>(3, log_, start_ + 5ms);
  auto d = std::make_shared<Recorder>(4, log_, start_ + 20ms);
  hub_.arm(a, start_ + 7ms);
  hub_.arm(b, start_ + 3ms);
  hub_.arm(c, start_ + 5ms);
  hub_.arm(d, start_ + 20ms);
  settle();
  Clock::advance(8ms);
  // One wake-up: the timer's completion runs once on the strand and fires all three.
  io_.restart();
  io_.poll();
  EXPECT_EQ(ids(), (std::vector<int>{2, 3, 1}));
  settle();
  EXPECT_EQ(ids(), (std::vector<int>{2, 3, 1}));
  advance(12ms);
  EXPECT_EQ(ids(), (std::vector<int>{2, 3, 1, 4}));
}

TEST_F(TickHubTest, AnEntryThatReturnsItsNextDeadlineKeepsTicking) {
  auto entry = std::make_shared<Recorder>(1, log_, start_ + 10ms, 10ms, 3);
  hub_.arm(entry, start_ + 10ms);
  settle();
  for (int i = 0; i < 50; ++i) advance(1ms);
  ASSERT_EQ(log_.size(), 3u);
  EXPECT_EQ(log_[0].at, start_ + 10ms);
  EXPECT_EQ(log_[1].at, start_ + 20ms);
  EXPECT_EQ(log_[2].at, start_ + 30ms);
}

TEST_F(TickHubTest, ArmingEarlierWinsAndArmingLaterKeepsTheEarlierWakeUp) {
  auto entry = std::make_shared<Recorder>(1, log_, start_ + 30ms);
  hub_.arm(entry, start_ + 30ms);
  settle();
  // Earlier: the hub's single timer is moved forward.
  entry->move_to(start_ + 10ms);
  hub_.arm(entry, start_ + 10ms);
  settle();
  EXPECT_EQ(hub_.armed(), 1u);
  advance(10ms);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0].at, start_ + 10ms);
  // Later: the entry is still woken at the earlier instant, finds nothing due and returns its
  // real deadline, where it fires.
  log_.clear();
  auto other = std::make_shared<Recorder>(2, log_, start_ + 40ms);
  hub_.arm(other, start_ + 20ms);
  hub_.arm(other, start_ + 40ms);
  settle();
  advance(10ms);  // 20 ms: the early wake-up
  ASSERT_EQ(log_.size(), 1u);
  advance(20ms);  // 40 ms: the real one
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[1].at, start_ + 40ms);
  EXPECT_EQ(hub_.armed(), 0u);
}

TEST_F(TickHubTest, ADisarmedEntryIsNotWokenAndTheHubLetsGoOfIt) {
  auto entry = std::make_shared<Recorder>(1, log_, start_ + 10ms);
  hub_.arm(entry, start_ + 10ms);
  settle();
  EXPECT_EQ(entry.use_count(), 2);
  hub_.disarm(*entry);
  EXPECT_EQ(hub_.armed(), 0u);
  advance(20ms);
  EXPECT_TRUE(log_.empty());
  EXPECT_EQ(entry.use_count(), 1);  // the stale item went when it reached the top
}

TEST_F(TickHubTest, ManyStaleItemsAreCompactedAway) {
  std::vector<std::shared_ptr<Recorder>> entries;
  for (int i = 0; i < 3000; ++i) {
    entries.push_back(std::make_shared<Recorder>(i, log_, start_ + 1h));
    hub_.arm(entries.back(), start_ + 1h);
  }
  for (auto& e : entries) hub_.disarm(*e);
  // Compaction dropped what the hub held for the disarmed entries long before their hour.
  std::size_t held = 0;
  for (auto& e : entries) held += e.use_count() > 1 ? 1 : 0;
  EXPECT_LT(held, 1100u);
  EXPECT_EQ(hub_.armed(), 0u);
}

TEST_F(TickHubTest, AnEntryThatThrowsStopsTickingAndTheOthersStillFire) {
  auto broken = std::make_shared<Throws>();
  auto fine = std::make_shared<Recorder>(1, log_, start_ + 5ms);
  hub_.arm(broken, start_ + 5ms);
  hub_.arm(fine, start_ + 5ms);
  settle();
  advance(5ms);
  EXPECT_EQ(ids(), (std::vector<int>{1}));
  EXPECT_EQ(hub_.armed(), 0u);
}

TEST_F(TickHubTest, ArmsFromAnotherThreadWakeTheHub) {
  auto entry = std::make_shared<Recorder>(1, log_, start_ + 5ms);
  std::thread other([&] { hub_.arm(entry, start_ + 5ms); });
  other.join();
  settle();
  advance(5ms);
  EXPECT_EQ(ids(), (std::vector<int>{1}));
}

TEST_F(TickHubTest, StopLetsGoOfEveryEntryAndEndsTheWait) {
  auto entry = std::make_shared<Recorder>(1, log_, start_ + 5ms);
  hub_.arm(entry, start_ + 5ms);
  settle();
  hub_.stop();
  EXPECT_EQ(entry.use_count(), 1);
  EXPECT_EQ(hub_.armed(), 0u);
  settle();
  // The wait is over: the io_context has no work left, and nothing fires.
  io_.restart();
  EXPECT_EQ(io_.run_for(10ms), 0u);
  advance(10ms);
  EXPECT_TRUE(log_.empty());
  hub_.arm(entry, start_ + 20ms);
  EXPECT_EQ(hub_.armed(), 0u);
}

}  // namespace
}  // namespace orch::schedules
