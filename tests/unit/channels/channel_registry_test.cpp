// Channel semantics against a manual clock: the io_context runs on the test's thread and time
// moves only when a test says so, so every wait, timeout and redelivery is checked at an exact
// instant. The scenarios follow Tokio's documentation of mpsc, broadcast and watch.
#include "orch/channels/channel_registry.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <list>
#include <optional>

#include "metrics_text.h"
#include "orch/metrics/metrics.h"

using namespace std::chrono_literals;

namespace orch::channels {
namespace {

namespace asio = boost::asio;
using engine::Clock;
using engine::ErrorCode;
using engine::Result;

class ChannelTest : public ::testing::Test {
 protected:
  ChannelTest() {
    Clock::use_manual();
    registry_.emplace(io_.get_executor(), &metrics_);
    registry_->add_tenant("alpha", ChannelQuota{3, 16, 100});
    registry_->add_tenant("beta", ChannelQuota{3, 16, 100});
  }
  ~ChannelTest() override {
    settle();
    registry_.reset();
    settle();
    signals_.clear();
    Clock::use_real();
  }

  // Runs every ready handler, including timers the clock has passed. (Parked waits are no work
  // to the io_context, so it may have stopped: restart it.)
  void settle() {
    for (int i = 0; i < 1000; ++i) {
      io_.restart();
      if (io_.poll() == 0) break;
    }
  }
  void advance(Duration d) {
    Clock::advance(d);
    settle();
  }

  // Starts a coroutine; its result lands in `out` when it completes. Returns a signal that
  // cancels it (terminal), as a client going away does.
  template <typename T>
  asio::cancellation_signal& start(asio::awaitable<T> op, std::optional<T>& out) {
    auto& signal = signals_.emplace_back();
    asio::co_spawn(
        io_, std::move(op),
        asio::bind_cancellation_slot(signal.slot(), [&out](std::exception_ptr e, T value) {
          ASSERT_FALSE(e);
          out.emplace(std::move(value));
        }));
    settle();
    return signal;
  }

  ChannelInfo create(const std::string& name, ChannelKind kind, std::uint32_t capacity,
                     const std::string& tenant = "alpha", std::string initial = {}) {
    auto info =
        registry_->create(tenant, ChannelSpec{name, kind, capacity, std::move(initial), false});
    EXPECT_TRUE(info.has_value()) << (info ? "" : info.error().message);
    return info ? *info : ChannelInfo{};
  }

  std::optional<Result<SendOutcome>> send(const std::string& name,
                                          std::vector<std::string> payloads,
                                          SendOptions options = {}) {
    std::optional<Result<SendOutcome>> out;
    start(registry_->send("alpha", name, std::move(payloads), options), out);
    return out;
  }

  // A send that waits: its result appears in `out` later.
  asio::cancellation_signal& send_later(const std::string& name, std::vector<std::string> payloads,
                                        std::optional<Result<SendOutcome>>& out,
                                        SendOptions options = {}) {
    return start(registry_->send("alpha", name, std::move(payloads), options), out);
  }

  asio::cancellation_signal& recv_later(const std::string& name,
                                        std::optional<Result<Received>>& out,
                                        RecvOptions options = {}) {
    return start(registry_->recv("alpha", name, options), out);
  }

  // A receive that must complete at once; commits what it got.
  Received recv(const std::string& name, RecvOptions options = {}, bool commit = true) {
    std::optional<Result<Received>> out;
    recv_later(name, out, options);
    EXPECT_TRUE(out.has_value()) << "recv did not complete";
    if (!out) return {};
    EXPECT_TRUE(out->has_value()) << out->error().message;
    if (!out->has_value()) return {};
    Received received = std::move(**out);
    if (commit) received.commit();
    return received;
  }

  std::string payload_of(const Received& r) {
    EXPECT_EQ(r.messages.size(), 1u);
    return r.messages.empty() ? std::string("<none>") : r.messages[0].payload;
  }

  ChannelInfo info(const std::string& name) {
    auto info = registry_->get("alpha", name);
    EXPECT_TRUE(info.has_value());
    return info ? *info : ChannelInfo{};
  }

  std::unique_ptr<Subscription> subscribe(const std::string& name, SubscribeOptions options = {}) {
    auto sub = registry_->subscribe("alpha", name, options);
    EXPECT_TRUE(sub.has_value());
    return sub ? std::move(*sub) : nullptr;
  }

  ChannelEvent next(Subscription& sub) {
    std::optional<Result<ChannelEvent>> out;
    start(sub.next(), out);
    EXPECT_TRUE(out.has_value()) << "next() did not complete";
    if (!out || !out->has_value()) return {};
    return std::move(**out);
  }

  metrics::Metrics metrics_;
  asio::io_context io_;
  std::optional<ChannelRegistry> registry_;
  std::list<asio::cancellation_signal> signals_;
};

// --- MPSC ------------------------------------------------------------------------------------

TEST_F(ChannelTest, MpscDeliversTenMessagesInOrderThenReportsClosedOnceDrained) {
  create("jobs", ChannelKind::kMpsc, 100);
  for (int i = 0; i < 10; ++i) {
    auto sent = send("jobs", {std::to_string(i)});
    ASSERT_TRUE(sent && *sent) << (sent && !*sent ? sent->error().message : "pending");
    EXPECT_EQ((*sent)->accepted, 1u);
    EXPECT_EQ((*sent)->first_sequence, static_cast<std::uint64_t>(i + 1));
  }
  ASSERT_TRUE(registry_->close("alpha", "jobs"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(payload_of(recv("jobs")), std::to_string(i));
  auto last = recv("jobs");
  EXPECT_TRUE(last.closed);
  EXPECT_TRUE(last.messages.empty());
}

TEST_F(ChannelTest, ThirdSendOnACapacityTwoChannelWaitsUntilAReceiveMakesRoom) {
  create("jobs", ChannelKind::kMpsc, 2);
  ASSERT_TRUE(*send("jobs", {"a"}));
  ASSERT_TRUE(*send("jobs", {"b"}));
  std::optional<Result<SendOutcome>> third;
  send_later("jobs", {"c"}, third);
  EXPECT_FALSE(third.has_value());
  EXPECT_EQ(info("jobs").senders, 1u);

  // Taken but not committed: the message still holds its room.
  auto first = recv("jobs", {}, /*commit=*/false);
  EXPECT_EQ(payload_of(first), "a");
  settle();
  EXPECT_FALSE(third.has_value());
  first.commit();
  settle();
  ASSERT_TRUE(third.has_value());
  ASSERT_TRUE(*third);
  EXPECT_EQ((*third)->accepted, 1u);
  EXPECT_EQ(payload_of(recv("jobs")), "b");
  EXPECT_EQ(payload_of(recv("jobs")), "c");
}

TEST_F(ChannelTest, TrySendAcceptsAllThatFitsAndLeavesASendThatMustWaitUntouched) {
  create("jobs", ChannelKind::kMpsc, 3);
  std::vector<std::string> two{"a", "b"};
  auto sent = registry_->try_send("alpha", "jobs", two, {});
  ASSERT_TRUE(sent.has_value());
  ASSERT_TRUE(*sent) << sent->error().message;
  EXPECT_EQ((*sent)->accepted, 2u);
  EXPECT_EQ((*sent)->first_sequence, 1u);

  // Room for one of two: it would have to wait, so nothing is taken and the payloads stay.
  std::vector<std::string> more{"c", "d"};
  EXPECT_FALSE(registry_->try_send("alpha", "jobs", more, {}).has_value());
  EXPECT_EQ(more, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(info("jobs").depth, 2u);
  EXPECT_EQ(info("jobs").messages_sent, 2u);

  // The waiting path then sends it whole once there is room, in order.
  std::optional<Result<SendOutcome>> waited;
  send_later("jobs", more, waited);
  EXPECT_FALSE(waited.has_value());
  EXPECT_EQ(payload_of(recv("jobs")), "a");
  settle();
  ASSERT_TRUE(waited.has_value() && *waited);
  EXPECT_EQ((*waited)->accepted, 2u);
  EXPECT_EQ((*waited)->first_sequence, 3u);
  for (const char* p : {"b", "c", "d"}) EXPECT_EQ(payload_of(recv("jobs")), p);
}

TEST_F(ChannelTest, TrySendAnswersEveryOutcomeThatNeedsNoWaitAsSendDoes) {
  create("jobs", ChannelKind::kMpsc, 1);
  std::vector<std::string> one{"a"};
  ASSERT_TRUE(registry_->try_send("alpha", "jobs", one, {}).value());
  // no_wait on a full channel: refused, as send() refuses it.
  std::vector<std::string> full{"b"};
  auto refused = registry_->try_send("alpha", "jobs", full, SendOptions{std::nullopt, true});
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(*refused);
  EXPECT_EQ(refused->error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused->error().message, "channel jobs is full (capacity 1); nothing was sent");
  // Too large, unknown, another tenant's, closed: each as send() answers it.
  std::vector<std::string> large{std::string(17, 'x')};
  EXPECT_EQ(registry_->try_send("alpha", "jobs", large, {})->error().code,
            ErrorCode::kResourceExhausted);
  std::vector<std::string> any{"z"};
  EXPECT_EQ(registry_->try_send("alpha", "nope", any, {})->error().code, ErrorCode::kNotFound);
  EXPECT_EQ(registry_->try_send("beta", "jobs", any, {})->error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(registry_->close("alpha", "jobs"));
  auto closed = registry_->try_send("alpha", "jobs", any, {});
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->error().code, ErrorCode::kFailedPrecondition);
  // BROADCAST never waits.
  create("news", ChannelKind::kBroadcast, 1);
  std::vector<std::string> news{"x", "y"};
  auto fanned = registry_->try_send("alpha", "news", news, {});
  ASSERT_TRUE(fanned.has_value() && *fanned);
  EXPECT_EQ((*fanned)->accepted, 2u);
}

TEST_F(ChannelTest, ASendThatTimesOutOnAFullChannelIsDeadlineExceededWithNothingEnqueued) {
  create("jobs", ChannelKind::kMpsc, 1);
  ASSERT_TRUE(*send("jobs", {"a"}));
  std::optional<Result<SendOutcome>> late;
  send_later("jobs", {"b"}, late, SendOptions{1s, false});
  advance(999ms);
  EXPECT_FALSE(late.has_value());
  advance(1ms);
  ASSERT_TRUE(late.has_value());
  ASSERT_FALSE(*late);
  EXPECT_EQ(late->error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(late->error().message.find("nothing was sent"), std::string::npos);
  const auto i = info("jobs");
  EXPECT_EQ(i.depth, 1u);
  EXPECT_EQ(i.senders, 0u);
  EXPECT_EQ(i.messages_sent, 1u);
  EXPECT_EQ(payload_of(recv("jobs")), "a");
  auto none = recv("jobs", RecvOptions{std::nullopt, true});
  EXPECT_TRUE(none.messages.empty());
}

TEST_F(ChannelTest, ABatchSendReportsExactlyHowManyMessagesWereAccepted) {
  create("jobs", ChannelKind::kMpsc, 3);
  ASSERT_TRUE(*send("jobs", {"x"}));
  std::optional<Result<SendOutcome>> batch;
  send_later("jobs", {"1", "2", "3", "4", "5"}, batch, SendOptions{2s, false});
  EXPECT_FALSE(batch.has_value());
  EXPECT_EQ(info("jobs").depth, 3u);
  EXPECT_EQ(payload_of(recv("jobs")), "x");  // room for "3"
  advance(2s);
  ASSERT_TRUE(batch.has_value());
  ASSERT_TRUE(*batch) << batch->error().message;
  EXPECT_EQ((*batch)->accepted, 3u);
  EXPECT_EQ((*batch)->first_sequence, 2u);
  for (const char* expected : {"1", "2", "3"}) EXPECT_EQ(payload_of(recv("jobs")), expected);
  EXPECT_EQ(info("jobs").depth, 0u);
}

TEST_F(ChannelTest, NoWaitSendAcceptsWhatFitsAndIsResourceExhaustedWhenNothingFits) {
  create("jobs", ChannelKind::kMpsc, 2);
  auto some = send("jobs", {"a", "b", "c"}, SendOptions{std::nullopt, true});
  ASSERT_TRUE(some && *some);
  EXPECT_EQ((*some)->accepted, 2u);
  auto none = send("jobs", {"d"}, SendOptions{std::nullopt, true});
  ASSERT_TRUE(none && !*none);
  EXPECT_EQ(none->error().code, ErrorCode::kResourceExhausted);
}

TEST_F(ChannelTest, ReceiversCompeteAndEachMessageGoesToExactlyOneInArrivalOrder) {
  create("jobs", ChannelKind::kMpsc, 10);
  std::optional<Result<Received>> r1, r2, r3;
  recv_later("jobs", r1);
  recv_later("jobs", r2);
  recv_later("jobs", r3);
  EXPECT_EQ(info("jobs").receivers, 3u);
  ASSERT_TRUE(*send("jobs", {"a", "b", "c"}));
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(payload_of(**r1), "a");
  EXPECT_EQ(payload_of(**r2), "b");
  EXPECT_EQ(payload_of(**r3), "c");
}

TEST_F(ChannelTest, ProducersKeepTheirOwnOrderWhenTheyWaitTogether) {
  create("jobs", ChannelKind::kMpsc, 1);
  ASSERT_TRUE(*send("jobs", {"p0"}));
  std::optional<Result<SendOutcome>> a, b;
  send_later("jobs", {"a1", "a2"}, a);
  send_later("jobs", {"b1", "b2"}, b);
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) got.push_back(payload_of(recv("jobs")));
  EXPECT_EQ(got, (std::vector<std::string>{"p0", "a1", "a2", "b1", "b2"}));
  ASSERT_TRUE(a && *a && b && *b);
}

TEST_F(ChannelTest, ACancelledRecvTakesNothingAndTheNextReceiverGetsTheMessage) {
  create("jobs", ChannelKind::kMpsc, 10);
  std::optional<Result<Received>> gone;
  auto& signal = recv_later("jobs", gone);
  signal.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(gone.has_value());
  ASSERT_FALSE(*gone);
  EXPECT_EQ(gone->error().code, ErrorCode::kCancelled);
  EXPECT_EQ(info("jobs").receivers, 0u);
  ASSERT_TRUE(*send("jobs", {"a"}));
  EXPECT_EQ(info("jobs").depth, 1u);
  EXPECT_EQ(payload_of(recv("jobs")), "a");
}

TEST_F(ChannelTest, ARecvCancelledAfterTheHandoffStillResumesWithTheMessage) {
  create("jobs", ChannelKind::kMpsc, 10);
  std::optional<Result<Received>> out;
  auto& signal = recv_later("jobs", out);
  // The send hands the message over and posts the completion; the cancellation comes before
  // the receiver has run: the message must not be lost.
  auto sent = std::optional<Result<SendOutcome>>();
  asio::co_spawn(
      io_, registry_->send("alpha", "jobs", {"a"}, {}),
      [&sent](std::exception_ptr, Result<SendOutcome> r) { sent.emplace(std::move(r)); });
  io_.restart();
  io_.run_one();  // the send runs and hands over
  signal.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(out && *out);
  EXPECT_EQ(payload_of(**out), "a");
  // Dropped without commit (its caller went away): the message goes back.
  out.reset();
  EXPECT_EQ(payload_of(recv("jobs")), "a");
}

// A caller that was cancelled before it asks (its throw_if_cancelled turned off, as RPC
// handlers do) gets kCancelled at once instead of a wait nobody can end.
asio::awaitable<Result<Received>> recv_after_cancel(ChannelRegistry& registry) {
  co_await asio::this_coro::throw_if_cancelled(false);
  engine::Timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::hours(1));
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled by the test
  co_return co_await registry.recv("alpha", "jobs", RecvOptions{});
}

TEST_F(ChannelTest, ARecvFromAnAlreadyCancelledCallerIsCancelledAtOnce) {
  create("jobs", ChannelKind::kMpsc, 10);
  std::optional<Result<Received>> out;
  auto& signal = start(recv_after_cancel(*registry_), out);
  signal.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(out && !*out);
  EXPECT_EQ(out->error().code, ErrorCode::kCancelled);
  EXPECT_EQ(info("jobs").receivers, 0u);
}

// What a future `select{recv a, recv b}` node does, from a coroutine on its own strand: race
// two receives, keep the winner's message, drop the loser's Received (which gives back what it
// may have taken). No message is lost or received twice, and each channel keeps its order.
asio::awaitable<std::string> select_recv(ChannelRegistry& registry) {
  auto executor = co_await asio::this_coro::executor;
  auto recv_a =
      asio::co_spawn(executor, registry.recv("alpha", "a", RecvOptions{}), asio::deferred);
  auto recv_b =
      asio::co_spawn(executor, registry.recv("alpha", "b", RecvOptions{}), asio::deferred);
  auto [order, error_a, got_a, error_b, got_b] =
      co_await asio::experimental::make_parallel_group(std::move(recv_a), std::move(recv_b))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  Result<Received>& winner = order[0] == 0 ? got_a : got_b;
  if (!winner || winner->messages.empty()) co_return std::string("<none>");
  winner->commit();
  co_return winner->messages.front().payload;
}

TEST_F(ChannelTest, ASelectOverTwoReceiversLosesNoMessageAndTakesNoneTwice) {
  constexpr int kEach = 100;
  create("a", ChannelKind::kMpsc, kEach);
  create("b", ChannelKind::kMpsc, kEach);
  std::vector<std::string> to_a, to_b;
  for (int i = 0; i < kEach; ++i) {
    to_a.push_back("a" + std::to_string(i));
    to_b.push_back("b" + std::to_string(i));
  }
  ASSERT_TRUE(*send("a", to_a));
  ASSERT_TRUE(*send("b", to_b));
  auto strand = asio::make_strand(io_);
  std::vector<std::string> got;
  for (int i = 0; i < 2 * kEach; ++i) {
    std::optional<std::string> one;
    asio::co_spawn(strand, select_recv(*registry_), [&one](std::exception_ptr e, std::string v) {
      ASSERT_FALSE(e);
      one = std::move(v);
    });
    settle();
    ASSERT_TRUE(one.has_value());
    got.push_back(*one);
  }
  // Every message exactly once, and in order within its channel.
  int next_a = 0, next_b = 0;
  for (const auto& payload : got) {
    if (payload[0] == 'a') {
      EXPECT_EQ(payload, "a" + std::to_string(next_a++));
    } else {
      EXPECT_EQ(payload, "b" + std::to_string(next_b++));
    }
  }
  EXPECT_EQ(next_a, kEach);
  EXPECT_EQ(next_b, kEach);
  EXPECT_EQ(info("a").depth + info("b").depth, 0u);
}

TEST_F(ChannelTest, AnUncommittedMessageGoesBackToTheFrontBeforeNewerOnes) {
  create("jobs", ChannelKind::kMpsc, 10);
  ASSERT_TRUE(*send("jobs", {"a", "b"}));
  {
    auto taken = recv("jobs", {}, /*commit=*/false);
    EXPECT_EQ(payload_of(taken), "a");
    EXPECT_EQ(payload_of(recv("jobs")), "b");
    ASSERT_TRUE(*send("jobs", {"c"}));
  }  // given back
  auto again = recv("jobs");
  EXPECT_EQ(payload_of(again), "a");
  EXPECT_EQ(again.messages[0].delivery_count, 1u);
  EXPECT_EQ(payload_of(recv("jobs")), "c");
}

TEST_F(ChannelTest, RecvWithMaxMessagesTakesWhatIsQueuedButNeverWaitsForMore) {
  create("jobs", ChannelKind::kMpsc, 10);
  ASSERT_TRUE(*send("jobs", {"a", "b"}));
  RecvOptions options;
  options.max_messages = 5;
  auto r = recv("jobs", options);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].payload, "b");
}

TEST_F(ChannelTest, RecvStopsAtItsByteBudgetButAlwaysTakesTheFirstMessage) {
  create("jobs", ChannelKind::kMpsc, 10);
  ASSERT_TRUE(*send("jobs", {"0123456789", "0123456789", "x"}));
  RecvOptions options;
  options.max_messages = 10;
  options.max_bytes = 15;
  EXPECT_EQ(recv("jobs", options).messages.size(), 1u);
  options.max_bytes = 5;
  EXPECT_EQ(recv("jobs", options).messages.size(), 1u) << "the first message always goes";
  EXPECT_EQ(payload_of(recv("jobs", options)), "x");
}

TEST_F(ChannelTest, ARecvTimeoutIsDeadlineExceededAndTakesNothing) {
  create("jobs", ChannelKind::kMpsc, 10);
  std::optional<Result<Received>> out;
  recv_later("jobs", out, RecvOptions{500ms});
  advance(499ms);
  EXPECT_FALSE(out.has_value());
  advance(1ms);
  ASSERT_TRUE(out && !*out);
  EXPECT_EQ(out->error().code, ErrorCode::kDeadlineExceeded);
  ASSERT_TRUE(*send("jobs", {"a"}));
  EXPECT_EQ(info("jobs").depth, 1u);
}

TEST_F(ChannelTest, CloseFailsNewAndWaitingSendsWhileBufferedMessagesStillDrain) {
  create("jobs", ChannelKind::kMpsc, 1);
  ASSERT_TRUE(*send("jobs", {"a"}));
  std::optional<Result<SendOutcome>> waiting;
  send_later("jobs", {"b"}, waiting);
  ASSERT_TRUE(registry_->close("alpha", "jobs"));
  settle();
  ASSERT_TRUE(waiting && !*waiting);
  EXPECT_EQ(waiting->error().code, ErrorCode::kFailedPrecondition);
  auto after = send("jobs", {"c"});
  ASSERT_TRUE(after && !*after);
  EXPECT_EQ(after->error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(payload_of(recv("jobs")), "a");
  EXPECT_TRUE(recv("jobs").closed);
}

TEST_F(ChannelTest, AWaitingReceiverSeesClosedWhenTheChannelIsClosedEmpty) {
  create("jobs", ChannelKind::kMpsc, 1);
  std::optional<Result<Received>> out;
  recv_later("jobs", out);
  ASSERT_TRUE(registry_->close("alpha", "jobs"));
  settle();
  ASSERT_TRUE(out && *out);
  EXPECT_TRUE((*out)->closed);
}

// --- at-least-once ---------------------------------------------------------------------------

TEST_F(ChannelTest, AnUnackedDeliveryComesBackAfterItsDeadlineWithDeliveryCountTwo) {
  create("jobs", ChannelKind::kMpsc, 10);
  ASSERT_TRUE(*send("jobs", {"a", "b"}));
  RecvOptions alo;
  alo.mode = DeliveryMode::kAtLeastOnce;
  alo.ack_deadline = 5s;
  auto first = recv("jobs", alo);
  EXPECT_EQ(payload_of(first), "a");
  EXPECT_EQ(first.messages[0].delivery_count, 1u);
  const std::string old_id = first.messages[0].delivery_id;
  EXPECT_FALSE(old_id.empty());
  EXPECT_EQ(info("jobs").in_flight, 1u);

  // Invisible to others until the deadline.
  EXPECT_EQ(payload_of(recv("jobs", alo)), "b");
  std::optional<Result<Received>> waiting;
  recv_later("jobs", waiting, alo);
  advance(4999ms);
  EXPECT_FALSE(waiting.has_value());
  advance(1ms);
  ASSERT_TRUE(waiting && *waiting);
  (*waiting)->commit();
  const auto& again = (*waiting)->messages;
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].payload, "a");
  EXPECT_EQ(again[0].sequence, first.messages[0].sequence);
  EXPECT_EQ(again[0].delivery_count, 2u);
  EXPECT_NE(again[0].delivery_id, old_id);

  auto stale = registry_->ack("alpha", "jobs", old_id);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(registry_->ack("alpha", "jobs", again[0].delivery_id));
}

TEST_F(ChannelTest, AnAckedDeliveryIsGoneForGoodAndFreesItsRoom) {
  create("jobs", ChannelKind::kMpsc, 1);
  ASSERT_TRUE(*send("jobs", {"a"}));
  RecvOptions alo;
  alo.mode = DeliveryMode::kAtLeastOnce;
  alo.ack_deadline = 1s;
  auto r = recv("jobs", alo);
  std::optional<Result<SendOutcome>> waiting;
  send_later("jobs", {"b"}, waiting);
  EXPECT_FALSE(waiting.has_value()) << "an in-flight message still takes room";
  ASSERT_TRUE(registry_->ack("alpha", "jobs", r.messages[0].delivery_id));
  settle();
  ASSERT_TRUE(waiting && *waiting);
  advance(10s);
  EXPECT_EQ(payload_of(recv("jobs")), "b");
  EXPECT_EQ(info("jobs").in_flight, 0u);
}

TEST_F(ChannelTest, ClosedIsReportedOnlyOnceNothingIsInFlight) {
  create("jobs", ChannelKind::kMpsc, 5);
  ASSERT_TRUE(*send("jobs", {"a"}));
  RecvOptions alo;
  alo.mode = DeliveryMode::kAtLeastOnce;
  alo.ack_deadline = 1s;
  auto r = recv("jobs", alo);
  ASSERT_TRUE(registry_->close("alpha", "jobs"));
  std::optional<Result<Received>> waiting;
  recv_later("jobs", waiting, alo);
  EXPECT_FALSE(waiting.has_value());
  ASSERT_TRUE(registry_->ack("alpha", "jobs", r.messages[0].delivery_id));
  settle();
  ASSERT_TRUE(waiting && *waiting);
  EXPECT_TRUE((*waiting)->closed);
}

TEST_F(ChannelTest, AnUncommittedAtLeastOnceDeliveryReturnsAtOnceWithItsCountUnchanged) {
  create("jobs", ChannelKind::kMpsc, 5);
  ASSERT_TRUE(*send("jobs", {"a"}));
  RecvOptions alo;
  alo.mode = DeliveryMode::kAtLeastOnce;
  { auto dropped = recv("jobs", alo, /*commit=*/false); }
  EXPECT_EQ(info("jobs").in_flight, 0u);
  auto r = recv("jobs", alo);
  EXPECT_EQ(r.messages[0].delivery_count, 1u);
}

TEST_F(ChannelTest, AnMpscSubscriptionStopsTakingAtMaxUnacked) {
  create("jobs", ChannelKind::kMpsc, 10);
  ASSERT_TRUE(*send("jobs", {"a", "b", "c"}));
  SubscribeOptions options;
  options.mode = DeliveryMode::kAtLeastOnce;
  options.max_unacked = 1;
  auto sub = subscribe("jobs", options);
  auto first = next(*sub);
  ASSERT_EQ(first.type, ChannelEvent::Type::kMessage);
  first.delivery.commit();
  std::optional<Result<ChannelEvent>> second;
  start(sub->next(), second);
  EXPECT_FALSE(second.has_value());
  EXPECT_EQ(info("jobs").depth, 2u);
  ASSERT_TRUE(registry_->ack("alpha", "jobs", first.message.delivery_id));
  settle();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->message.payload, "b");
}

// Batched subscriptions (SubscribeOptions::max_batch).

std::vector<std::string> payloads_of(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.payload);
  return out;
}

TEST_F(ChannelTest, ABatchingSubscriptionTakesWhatIsQueuedUpToMaxBatchInOrderAndNeverWaitsForMore) {
  create("jobs", ChannelKind::kMpsc, 20);
  ASSERT_TRUE(*send("jobs", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  SubscribeOptions options;
  options.max_batch = 4;
  auto sub = subscribe("jobs", options);
  std::vector<std::size_t> sizes;
  std::vector<std::uint64_t> sequences;
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto event = next(*sub);
    ASSERT_EQ(event.type, ChannelEvent::Type::kMessage);
    sizes.push_back(event.delivery.messages.size());
    for (const auto& m : event.delivery.messages) {
      sequences.push_back(m.sequence);
      got.push_back(m.payload);
      EXPECT_EQ(m.delivery_count, 1u);
    }
    event.delivery.commit();
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2}));
  EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(info("jobs").depth, 0u);

  // An empty channel: the stream waits for the first message, then takes it alone.
  std::optional<Result<ChannelEvent>> waiting;
  start(sub->next(), waiting);
  EXPECT_FALSE(waiting.has_value());
  ASSERT_TRUE(*send("jobs", {"x"}));
  settle();
  ASSERT_TRUE(waiting && *waiting);
  EXPECT_EQ(payloads_of((*waiting)->delivery.messages), (std::vector<std::string>{"x"}));
  (*waiting)->delivery.commit();
}

TEST_F(ChannelTest, ABatchWhoseWriteFailedGoesBackWholeBeforeNewerMessages) {
  create("jobs", ChannelKind::kMpsc, 20);
  ASSERT_TRUE(*send("jobs", {"a", "b", "c", "d"}));
  SubscribeOptions options;
  options.max_batch = 3;
  auto sub = subscribe("jobs", options);
  {
    auto lost = next(*sub);
    EXPECT_EQ(payloads_of(lost.delivery.messages), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(info("jobs").depth, 4u) << "held for the stream until written";
  }  // not committed: the write failed
  ASSERT_TRUE(*send("jobs", {"e"}));
  auto again = next(*sub);
  ASSERT_EQ(again.delivery.messages.size(), 3u);
  EXPECT_EQ(payloads_of(again.delivery.messages), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(again.delivery.messages[0].delivery_count, 1u) << "that delivery never happened";
  again.delivery.commit();
  auto rest = next(*sub);
  EXPECT_EQ(payloads_of(rest.delivery.messages), (std::vector<std::string>{"d", "e"}));
  rest.delivery.commit();
  EXPECT_EQ(info("jobs").depth, 0u);
}

TEST_F(ChannelTest, AtLeastOnceBatchesRespectMaxUnackedAckTogetherAndRedeliverWhatWasNotAcked) {
  create("jobs", ChannelKind::kMpsc, 20);
  ASSERT_TRUE(*send("jobs", {"a", "b", "c", "d", "e"}));
  SubscribeOptions options;
  options.mode = DeliveryMode::kAtLeastOnce;
  options.ack_deadline = 5s;
  options.max_unacked = 3;
  options.max_batch = 10;
  auto sub = subscribe("jobs", options);
  auto first = next(*sub);
  ASSERT_EQ(payloads_of(first.delivery.messages), (std::vector<std::string>{"a", "b", "c"}))
      << "no more than max_unacked at once";
  first.delivery.commit();
  EXPECT_EQ(info("jobs").in_flight, 3u);
  std::optional<Result<ChannelEvent>> second;
  start(sub->next(), second);
  EXPECT_FALSE(second.has_value());

  // One call acknowledges a and b; c stays in flight. The stream may take two more.
  std::uint32_t acknowledged = 0;
  ASSERT_TRUE(registry_->ack("alpha", "jobs",
                             {first.delivery.messages[0].delivery_id,
                              first.delivery.messages[1].delivery_id},
                             &acknowledged));
  EXPECT_EQ(acknowledged, 2u);
  settle();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(payloads_of((*second)->delivery.messages), (std::vector<std::string>{"d", "e"}));
  (*second)->delivery.commit();

  // An ack naming a delivery no longer in flight fails, naming it; the others count.
  auto partly = registry_->ack("alpha", "jobs",
                               {first.delivery.messages[0].delivery_id,
                                (*second)->delivery.messages[0].delivery_id},
                               &acknowledged);
  ASSERT_FALSE(partly);
  EXPECT_EQ(partly.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(partly.error().message.find(first.delivery.messages[0].delivery_id), std::string::npos)
      << partly.error().message;
  EXPECT_EQ(acknowledged, 1u);
  EXPECT_EQ(info("jobs").in_flight, 2u);  // c and e

  // Past the deadline, the unacknowledged c and e come back, in order, delivered twice.
  advance(5s);
  auto redelivered = next(*sub);
  ASSERT_EQ(payloads_of(redelivered.delivery.messages), (std::vector<std::string>{"c", "e"}));
  EXPECT_EQ(redelivered.delivery.messages[0].delivery_count, 2u);
  EXPECT_EQ(redelivered.delivery.messages[1].delivery_count, 2u);
  redelivered.delivery.commit();

  auto empty = registry_->ack("alpha", "jobs", std::vector<std::string>{}, &acknowledged);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ChannelTest, ASubscriptionWithoutMaxBatchStillTakesOneMessagePerEvent) {
  create("jobs", ChannelKind::kMpsc, 20);
  ASSERT_TRUE(*send("jobs", {"a", "b"}));
  auto sub = subscribe("jobs");
  auto first = next(*sub);
  EXPECT_EQ(first.message.payload, "a");
  EXPECT_EQ(payloads_of(first.delivery.messages), (std::vector<std::string>{"a"}));
  first.delivery.commit();
  EXPECT_EQ(info("jobs").depth, 1u);
}

// --- BROADCAST -------------------------------------------------------------------------------

TEST_F(ChannelTest, ThreeBroadcastSubscribersEachGetAllFiveMessages) {
  create("news", ChannelKind::kBroadcast, 16);
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int i = 0; i < 3; ++i) subs.push_back(subscribe("news"));
  for (int i = 0; i < 5; ++i) {
    auto sent = send("news", {"m" + std::to_string(i)});
    ASSERT_TRUE(sent && *sent);
    EXPECT_EQ((*sent)->subscribers, 3u);
  }
  for (auto& sub : subs) {
    for (int i = 0; i < 5; ++i) {
      auto event = next(*sub);
      ASSERT_EQ(event.type, ChannelEvent::Type::kMessage);
      EXPECT_EQ(event.message.payload, "m" + std::to_string(i));
    }
  }
  EXPECT_EQ(info("news").depth, 0u) << "messages every subscriber read are not kept";
}

TEST_F(ChannelTest, ASlowBroadcastSubscriberLagsByExactlyWhatFellOutOfTheRing) {
  create("news", ChannelKind::kBroadcast, 2);
  auto slow = subscribe("news");
  auto fast = subscribe("news");
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(*send("news", {std::to_string(i)}));
    auto e = next(*fast);
    EXPECT_EQ(e.message.payload, std::to_string(i));
  }
  auto lag = next(*slow);
  ASSERT_EQ(lag.type, ChannelEvent::Type::kLagged);
  EXPECT_EQ(lag.skipped, 3u);
  EXPECT_EQ(next(*slow).message.payload, "4");
  EXPECT_EQ(next(*slow).message.payload, "5");
  EXPECT_EQ(
      test::metric_sample(metrics_.serialize(),
                          R"(orch_channel_lagged_messages_total{channel="news",tenant="alpha"})"),
      3);
}

TEST_F(ChannelTest, ABroadcastWithoutSubscribersReportsZeroAndKeepsNothing) {
  create("news", ChannelKind::kBroadcast, 4);
  auto sent = send("news", {"lost"});
  ASSERT_TRUE(sent && *sent);
  EXPECT_EQ((*sent)->subscribers, 0u);
  EXPECT_EQ((*sent)->accepted, 1u);
  EXPECT_EQ(info("news").depth, 0u);
  auto sub = subscribe("news");
  ASSERT_TRUE(*send("news", {"seen"}));
  EXPECT_EQ(next(*sub).message.payload, "seen");
}

TEST_F(ChannelTest, ABroadcastSubscriberWaitsAndSeesClosedAfterWhatIsLeft) {
  create("news", ChannelKind::kBroadcast, 4);
  auto sub = subscribe("news");
  std::optional<Result<ChannelEvent>> waiting;
  start(sub->next(), waiting);
  EXPECT_FALSE(waiting.has_value());
  ASSERT_TRUE(*send("news", {"a", "b"}));
  ASSERT_TRUE(waiting && *waiting);
  EXPECT_EQ((*waiting)->message.payload, "a");
  ASSERT_TRUE(registry_->close("alpha", "news"));
  EXPECT_EQ(next(*sub).message.payload, "b");
  EXPECT_EQ(next(*sub).type, ChannelEvent::Type::kClosed);
}

TEST_F(ChannelTest, RecvOnABroadcastChannelIsFailedPrecondition) {
  create("news", ChannelKind::kBroadcast, 4);
  std::optional<Result<Received>> out;
  recv_later("news", out);
  ASSERT_TRUE(out && !*out);
  EXPECT_EQ(out->error().code, ErrorCode::kFailedPrecondition);
}

// --- WATCH -----------------------------------------------------------------------------------

TEST_F(ChannelTest, AWatchSubscriberGetsTheCurrentValueAtOnceThenOnlyTheLatest) {
  create("config", ChannelKind::kWatch, 0, "alpha", "v1");
  auto sub = subscribe("config");
  auto first = next(*sub);
  ASSERT_EQ(first.type, ChannelEvent::Type::kValue);
  EXPECT_EQ(first.value.value, "v1");
  EXPECT_EQ(first.value.version, 1u);
  auto sent = send("config", {"v2", "v3", "v4"});
  ASSERT_TRUE(sent && *sent);
  EXPECT_EQ((*sent)->version, 4u);
  auto latest = next(*sub);
  EXPECT_EQ(latest.value.value, "v4");
  EXPECT_EQ(latest.value.version, 4u);
  std::optional<Result<ChannelEvent>> waiting;
  start(sub->next(), waiting);
  EXPECT_FALSE(waiting.has_value());
  ASSERT_TRUE(*send("config", {"v5"}));
  ASSERT_TRUE(waiting && *waiting);
  EXPECT_EQ((*waiting)->value.value, "v5");
}

TEST_F(ChannelTest, AWatchRecvAfterAVersionWaitsForANewerOne) {
  create("config", ChannelKind::kWatch, 0, "alpha", "v1");
  auto now = recv("config");
  ASSERT_TRUE(now.value.has_value());
  EXPECT_EQ(now.value->version, 1u);
  RecvOptions after;
  after.after_version = 1;
  std::optional<Result<Received>> waiting;
  recv_later("config", waiting, after);
  EXPECT_FALSE(waiting.has_value());
  EXPECT_EQ(info("config").receivers, 1u);
  ASSERT_TRUE(*send("config", {"v2"}));
  ASSERT_TRUE(waiting && *waiting);
  EXPECT_EQ((*waiting)->value->value, "v2");
  after.after_version = 2;
  after.no_wait = true;
  EXPECT_FALSE(recv("config", after).value.has_value());
}

// --- quotas, names, tenants, delete ----------------------------------------------------------

TEST_F(ChannelTest, QuotasAreRefusedWithTheConfigKeyInTheMessage) {
  auto big = registry_->create("alpha", ChannelSpec{"big", ChannelKind::kMpsc, 101, {}, false});
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(big.error().message.find("max_channel_capacity (100)"), std::string::npos);

  create("a", ChannelKind::kMpsc, 1);
  create("b", ChannelKind::kMpsc, 1);
  create("c", ChannelKind::kMpsc, 1);
  auto fourth = registry_->create("alpha", ChannelSpec{"d", ChannelKind::kMpsc, 1, {}, false});
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(fourth.error().message.find("max_channels=3"), std::string::npos);

  auto large = send("a", {"ok", std::string(17, 'x')});
  ASSERT_TRUE(large && !*large);
  EXPECT_EQ(large->error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(large->error().message.find("payloads[1]"), std::string::npos);
  EXPECT_NE(large->error().message.find("max_message_bytes (16)"), std::string::npos);
  EXPECT_EQ(info("a").depth, 0u) << "nothing of a refused batch goes in";

  ASSERT_TRUE(registry_->remove("alpha", "c"));
  create("d", ChannelKind::kMpsc, 1);
}

TEST_F(ChannelTest, BadFieldsAreInvalidArgumentNamingTheField) {
  const std::vector<std::pair<ChannelSpec, std::string>> cases = {
      {ChannelSpec{"", ChannelKind::kMpsc, 1, {}, false}, "name: must not be empty"},
      {ChannelSpec{"a b", ChannelKind::kMpsc, 1, {}, false}, "name: must be 1 to 128"},
      {ChannelSpec{"zero", ChannelKind::kMpsc, 0, {}, false}, "capacity: must be at least 1"},
      {ChannelSpec{"w", ChannelKind::kWatch, 3, {}, false}, "capacity: must be 0"},
      {ChannelSpec{"i", ChannelKind::kBroadcast, 3, "x", false}, "initial_value: "},
  };
  for (const auto& [spec, prefix] : cases) {
    auto r = registry_->create("alpha", spec);
    ASSERT_FALSE(r) << prefix;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind(prefix, 0), 0u) << r.error().message;
  }
}

TEST_F(ChannelTest, AnotherTenantsChannelIsNotFoundAndNamesArePerTenant) {
  create("jobs", ChannelKind::kMpsc, 1);
  auto other = registry_->get("beta", "jobs");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  std::optional<Result<SendOutcome>> sent;
  start(registry_->send("beta", "jobs", {"x"}, {}), sent);
  ASSERT_TRUE(sent && !*sent);
  EXPECT_EQ(sent->error().code, ErrorCode::kNotFound);
  create("jobs", ChannelKind::kBroadcast, 4, "beta");
  EXPECT_EQ(info("jobs").kind, ChannelKind::kMpsc);
}

TEST_F(ChannelTest, CreateIfNotExistsReturnsAMatchingChannelAndRefusesADifferentOne) {
  create("jobs", ChannelKind::kMpsc, 4);
  EXPECT_TRUE(registry_->create("alpha", ChannelSpec{"jobs", ChannelKind::kMpsc, 4, {}, true}));
  auto different = registry_->create("alpha", ChannelSpec{"jobs", ChannelKind::kMpsc, 5, {}, true});
  ASSERT_FALSE(different);
  EXPECT_EQ(different.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(ChannelTest, DeleteDiscardsMessagesFailsSendersWithNotFoundAndClosesReceivers) {
  create("full", ChannelKind::kMpsc, 1);
  create("empty", ChannelKind::kMpsc, 1);
  ASSERT_TRUE(*send("full", {"a"}));
  std::optional<Result<SendOutcome>> sender;
  send_later("full", {"b"}, sender);
  std::optional<Result<Received>> receiver;
  recv_later("empty", receiver);
  auto discarded = registry_->remove("alpha", "full");
  settle();
  ASSERT_TRUE(discarded);
  EXPECT_EQ(*discarded, 1u);
  ASSERT_TRUE(sender && !*sender);
  EXPECT_EQ(sender->error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(registry_->remove("alpha", "empty"));
  settle();
  ASSERT_TRUE(receiver && *receiver);
  EXPECT_TRUE((*receiver)->closed);
  EXPECT_EQ(registry_->count("alpha"), 0u);
  EXPECT_EQ(metrics_.serialize().find("channel=\"full\""), std::string::npos)
      << "a deleted channel's series are removed";
}

TEST_F(ChannelTest, MetricsCountSendsReceivesAndDepthPerChannel) {
  create("jobs", ChannelKind::kMpsc, 10);
  ASSERT_TRUE(*send("jobs", {"a", "b", "c"}));
  recv("jobs");
  registry_->update_gauges();
  const auto text = metrics_.serialize();
  const std::string labels = R"({channel="jobs",tenant="alpha"})";
  EXPECT_EQ(test::metric_sample(text, "orch_channel_messages_sent_total" + labels), 3) << text;
  EXPECT_EQ(test::metric_sample(text, "orch_channel_messages_received_total" + labels), 1);
  EXPECT_EQ(test::metric_sample(text, "orch_channel_depth" + labels), 2);
  EXPECT_EQ(test::metric_sample(text, R"(orch_channel_send_wait_seconds_count{tenant="alpha"})"),
            1);
}

}  // namespace
}  // namespace orch::channels
