// ChannelService against the real daemon, driven by several client processes on loopback
// (orchctl children and in-test gRPC clients). Each scenario is one from Tokio's documentation
// of its sync channels: mpsc, broadcast and watch.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/v1/channels.grpc.pb.h"
#include "proto_json.h"
#include "test_support.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;

// Generous bounds: they only end a test that is already failing.
constexpr auto kWait = std::chrono::seconds(30);

v1::ChannelInfo channel_info(orch::client::Client& client, const std::string& name) {
  v1::GetChannelRequest request;
  request.set_name(name);
  v1::ChannelInfo info;
  auto ctx = client.context(std::chrono::seconds(10));
  const auto status = client.channels().Get(ctx.get(), request, &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return info;
}

// Polls the channel until `ready(info)` holds; false after kWait.
template <typename Ready>
bool wait_for(orch::client::Client& client, const std::string& name, Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready(channel_info(client, name))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string message_line(std::uint64_t seq, std::uint32_t delivery, const std::string& payload) {
  return "message seq=" + std::to_string(seq) + " delivery=" + std::to_string(delivery) + " \"" +
         payload + "\"";
}

class Channels : public ::testing::Test {
 protected:
  Channels()
      : daemon_(two_tenants()),
        orchctl_(daemon_.orchctl(kAlpha)),
        client_(daemon_.client(kAlpha)) {}

  CommandResult ok(const std::vector<std::string>& args) {
    auto run = orchctl_(args);
    EXPECT_EQ(run.exit_code, 0) << describe(run);
    return run;
  }

  DaemonProcess daemon_;
  Orchctl orchctl_;
  orch::client::Client client_;
};

// tokio::sync::mpsc: "for i in 0..10 { tx.send(i).await }" through channel(100); the receiver
// gets 0..9 in order, then None once the sender is gone.
TEST_F(Channels, AProducerSendsZeroToNineAndTheConsumerGetsThemInOrderThenClosed) {
  ok({"chan", "create", "jobs", "--capacity", "100"});
  auto consumer = orchctl_.start({"chan", "recv", "jobs", "-n", "0", "--timeout", "60s"});
  ASSERT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.receivers() == 1; }));
  for (int i = 0; i < 10; ++i) {
    const auto sent = ok({"chan", "send", "jobs", std::to_string(i)});
    EXPECT_TRUE(starts_with(sent.out, "accepted=1 first_sequence=" + std::to_string(i + 1)))
        << sent.out;
  }
  ok({"chan", "close", "jobs"});
  const auto got = consumer.finish(kWait);
  ASSERT_EQ(got.exit_code, 0) << describe(got);
  const auto lines = lines_of(got.out);
  ASSERT_EQ(lines.size(), 11u) << got.out;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lines[i], message_line(i + 1, 1, std::to_string(i)));
  EXPECT_EQ(lines[10], "closed");
}

// Back-pressure: with capacity 2 the third send waits until a receive makes room, and a send
// with a timeout on a full channel fails having put nothing in.
TEST_F(Channels, OnACapacityTwoChannelTheThirdSendWaitsAndATimedOutSendLeavesNothing) {
  ok({"chan", "create", "jobs", "--capacity", "2"});
  ok({"chan", "send", "jobs", "a"});
  ok({"chan", "send", "jobs", "b"});
  auto third = orchctl_.start({"chan", "send", "jobs", "c"});
  ASSERT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.senders() == 1; }));
  EXPECT_EQ(channel_info(client_, "jobs").messages_sent(), 2u) << "the third send is waiting";

  const auto first = ok({"chan", "recv", "jobs"});
  EXPECT_EQ(first.out, message_line(1, 1, "a") + "\n");
  const auto sent = third.finish(kWait);
  ASSERT_EQ(sent.exit_code, 0) << describe(sent);
  EXPECT_TRUE(starts_with(sent.out, "accepted=1 first_sequence=3")) << sent.out;

  const auto late = orchctl_({"chan", "send", "jobs", "d", "--timeout", "300ms"});
  EXPECT_EQ(late.exit_code, 3) << describe(late);
  EXPECT_TRUE(starts_with(late.err, "DEADLINE_EXCEEDED: ")) << late.err;
  EXPECT_TRUE(contains(late.err, "nothing was sent"));
  const auto info = channel_info(client_, "jobs");
  EXPECT_EQ(info.depth(), 2u);
  EXPECT_EQ(info.messages_sent(), 3u);
  EXPECT_EQ(info.senders(), 0u);

  const auto rest = ok({"chan", "recv", "jobs", "-n", "2"});
  EXPECT_EQ(rest.out, message_line(2, 1, "b") + "\n" + message_line(3, 1, "c") + "\n");
  const auto empty = ok({"chan", "recv", "jobs", "--no-wait"});
  EXPECT_EQ(empty.out, "");
}

// A batch reports how many of its messages went in: here the first two fit, the timeout
// passes for the rest.
TEST_F(Channels, ABatchSendReportsHowManyMessagesWereAcceptedWhenItsTimeoutPasses) {
  ok({"chan", "create", "jobs", "--capacity", "2"});
  const auto run = orchctl_({"chan", "send", "jobs", "1", "2", "3", "4", "--timeout", "200ms"});
  EXPECT_EQ(run.exit_code, 1) << describe(run);
  EXPECT_TRUE(starts_with(run.out, "accepted=2 first_sequence=1")) << run.out;
  EXPECT_EQ(channel_info(client_, "jobs").depth(), 2u);
}

// tokio::sync::broadcast: every receiver gets every value.
TEST_F(Channels, ThreeBroadcastSubscribersEachGetAllFiveMessages) {
  ok({"chan", "create", "news", "--kind", "broadcast", "--capacity", "16"});
  std::vector<std::unique_ptr<Subprocess>> subscribers;
  std::vector<std::string> argv{kOrchctl};
  for (const auto& arg : orchctl_.argv({"chan", "sub", "news", "--count", "5"}))
    argv.push_back(arg);
  for (int i = 0; i < 3; ++i) subscribers.push_back(std::make_unique<Subprocess>(argv));
  ASSERT_TRUE(wait_for(client_, "news", [](const auto& i) { return i.subscribers() == 3; }));
  for (int i = 1; i <= 5; ++i) {
    const auto sent = ok({"chan", "send", "news", "m" + std::to_string(i)});
    EXPECT_TRUE(contains(sent.out, " subscribers=3 ")) << sent.out;
  }
  for (auto& subscriber : subscribers) {
    const auto got = subscriber->finish(kWait);
    ASSERT_EQ(got.exit_code, 0) << describe(got);
    const auto lines = lines_of(got.out);
    ASSERT_EQ(lines.size(), 5u) << got.out;
    for (int i = 1; i <= 5; ++i)
      EXPECT_EQ(lines[i - 1], message_line(i, 1, "m" + std::to_string(i)));
  }
}

// tokio::sync::broadcast's Lagged example: capacity 2, three values sent before the receiver
// reads: it is told it lost one, then gets the two kept.
TEST_F(Channels, ASlowBroadcastSubscriberIsToldExactlyHowManyMessagesItLost) {
  ok({"chan", "create", "news", "--kind", "broadcast", "--capacity", "2"});
  auto slow = orchctl_.start({"chan", "sub", "news", "--count", "3"});
  ASSERT_TRUE(wait_for(client_, "news", [](const auto& i) { return i.subscribers() == 1; }));
  ok({"chan", "send", "news", "10", "20", "30"});
  const auto got = slow.finish(kWait);
  ASSERT_EQ(got.exit_code, 0) << describe(got);
  EXPECT_EQ(lines_of(got.out),
            (std::vector<std::string>{"lagged skipped=1", message_line(2, 1, "20"),
                                      message_line(3, 1, "30")}));
  const auto metrics = http_get(daemon_.admin_port(), "/metrics");
  EXPECT_EQ(metric_sample(metrics.body,
                          R"(orch_channel_lagged_messages_total{channel="news",tenant="alpha"})"),
            1);
}

// Flow control: a subscriber that stops reading fills only its own stream's window; the
// daemon keeps `capacity` messages for it, not more, and neither the sender nor a subscriber
// that reads is held back. When the slow one reads again it learns what it lost.
TEST_F(Channels, ASubscriberThatStopsReadingLagsAloneAndHoldsNobodyBack) {
  constexpr int kMessages = 300;
  constexpr std::uint32_t kCapacity = 16;
  const std::string payload(64 * 1024, 'x');
  ok({"chan", "create", "news", "--kind", "broadcast", "--capacity", std::to_string(kCapacity)});

  // The slow reader: its own connection, with a fixed 64 KiB stream window.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  orch::client::Client slow_client(
      grpc::CreateCustomChannel(daemon_.grpc_address(), grpc::InsecureChannelCredentials(), args),
      orch::client::ClientOptions{daemon_.grpc_address(), kAlpha});
  v1::SubscribeRequest request;
  request.set_name("news");
  auto slow_ctx = slow_client.context(std::chrono::seconds(120));
  auto slow = slow_client.channels().Subscribe(slow_ctx.get(), request);

  // The fast reader, on another connection, reads in a thread.
  auto fast_ctx = client_.context(std::chrono::seconds(120));
  auto fast = client_.channels().Subscribe(fast_ctx.get(), request);
  ASSERT_TRUE(wait_for(client_, "news", [](const auto& i) { return i.subscribers() == 2; }));
  std::atomic<std::uint64_t> fast_last{0};
  std::uint64_t fast_messages = 0;
  std::uint64_t fast_skipped = 0;
  std::thread fast_reader([&] {
    v1::ChannelEvent event;
    while (fast_last.load() < static_cast<std::uint64_t>(kMessages) && fast->Read(&event)) {
      if (event.has_lagged()) fast_skipped += event.lagged().skipped();
      if (event.has_message()) {
        ++fast_messages;
        fast_last = event.message().sequence();
      }
    }
  });

  v1::SendRequest send;
  send.set_name("news");
  send.add_payloads(payload);
  for (int i = 0; i < kMessages; ++i) {
    auto ctx = client_.context(std::chrono::seconds(30));
    v1::SendResponse response;
    const auto status = client_.channels().Send(ctx.get(), send, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    EXPECT_EQ(response.subscribers(), 2u);
  }
  fast_reader.join();
  EXPECT_EQ(fast_last.load(), static_cast<std::uint64_t>(kMessages))
      << "the reader kept up to the end";
  EXPECT_EQ(fast_messages + fast_skipped, static_cast<std::uint64_t>(kMessages));
  EXPECT_LE(channel_info(client_, "news").depth(), kCapacity)
      << "the daemon keeps no more than the ring";

  // The slow reader got what its window held, then a Lagged, then the newest messages.
  std::uint64_t messages = 0;
  std::uint64_t skipped = 0;
  std::uint64_t last = 0;
  v1::ChannelEvent event;
  while (last < kMessages && slow->Read(&event)) {
    if (event.has_lagged()) skipped += event.lagged().skipped();
    if (event.has_message()) {
      EXPECT_GT(event.message().sequence(), last) << "in order";
      last = event.message().sequence();
      ++messages;
    }
  }
  RecordProperty("slow_messages_read", std::to_string(messages));
  RecordProperty("slow_messages_skipped", std::to_string(skipped));
  RecordProperty("fast_messages_skipped", std::to_string(fast_skipped));
  EXPECT_EQ(last, static_cast<std::uint64_t>(kMessages));
  EXPECT_GT(skipped, 0u) << "a reader that stopped for " << kMessages << " messages must lag";
  EXPECT_EQ(messages + skipped, static_cast<std::uint64_t>(kMessages));
  slow_ctx->TryCancel();
  fast_ctx->TryCancel();
  slow->Finish();
  fast->Finish();
}

// Batched delivery: a subscriber that asks for max_batch gets batch events carrying what is
// queued, each message exactly once and in order, while an old-style subscriber on another
// channel still gets one message event per message.
TEST_F(Channels, ABatchingSubscriberGetsEveryMessageOnceInOrderAndAnOldOneIsUnchanged) {
  constexpr std::uint64_t kMessages = 2000;
  ok({"chan", "create", "jobs", "--capacity", "500"});
  ok({"chan", "create", "old", "--capacity", "10"});
  v1::SubscribeRequest request;
  request.set_name("jobs");
  request.set_max_batch(100);
  auto ctx = client_.context(std::chrono::seconds(120));
  auto stream = client_.channels().Subscribe(ctx.get(), request);
  ASSERT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.subscribers() == 1; }));

  std::thread producer([&] {
    for (std::uint64_t sent = 0; sent < kMessages;) {
      v1::SendRequest send;
      send.set_name("jobs");
      for (int i = 0; i < 50; ++i) send.add_payloads(std::to_string(sent + i));
      auto send_ctx = client_.context(std::chrono::seconds(30));
      v1::SendResponse response;
      const auto status = client_.channels().Send(send_ctx.get(), send, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      sent += response.accepted();
    }
  });
  std::uint64_t next = 1;
  std::uint64_t events = 0;
  std::size_t largest = 0;
  v1::ChannelEvent event;
  while (next <= kMessages && stream->Read(&event)) {
    ASSERT_TRUE(event.has_batch()) << event.ShortDebugString();
    ASSERT_GE(event.batch().messages_size(), 1);
    ASSERT_LE(event.batch().messages_size(), 100);
    largest = std::max<std::size_t>(largest, static_cast<std::size_t>(event.batch().messages_size()));
    for (const auto& m : event.batch().messages()) {
      ASSERT_EQ(m.sequence(), next) << "every message once, in order";
      EXPECT_EQ(m.payload(), std::to_string(next - 1));
      EXPECT_EQ(m.delivery_count(), 1u);
      ++next;
    }
    ++events;
  }
  producer.join();
  EXPECT_EQ(next, kMessages + 1);
  RecordProperty("batch_events", std::to_string(events));
  RecordProperty("largest_batch", std::to_string(largest));
  EXPECT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.depth() == 0; }));
  ctx->TryCancel();
  stream->Finish();

  // Without max_batch: message events, one per message, as before.
  ok({"chan", "send", "old", "a", "b"});
  const auto lines = ok({"chan", "sub", "old", "--count", "2"});
  EXPECT_EQ(lines.out, message_line(1, 1, "a") + "\n" + message_line(2, 1, "b") + "\n");
  v1::SubscribeRequest old_request;
  old_request.set_name("old");
  ok({"chan", "send", "old", "c"});
  auto old_ctx = client_.context(std::chrono::seconds(30));
  auto old_stream = client_.channels().Subscribe(old_ctx.get(), old_request);
  ASSERT_TRUE(old_stream->Read(&event));
  EXPECT_TRUE(event.has_message()) << event.ShortDebugString();
  EXPECT_EQ(event.message().payload(), "c");
  old_ctx->TryCancel();
  old_stream->Finish();

  // Out of range: the field is named.
  request.set_max_batch(1001);
  auto bad_ctx = client_.context(std::chrono::seconds(30));
  auto bad = client_.channels().Subscribe(bad_ctx.get(), request);
  EXPECT_FALSE(bad->Read(&event));
  const auto status = bad->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(status.error_message(), "max_batch")) << status.error_message();
}

// At-least-once batches: acknowledged with one Ack call per batch; what is not acknowledged is
// delivered again once its deadline passes.
TEST_F(Channels, AtLeastOnceBatchesAreAckedInOneCallAndTheUnackedAreRedelivered) {
  ok({"chan", "create", "jobs", "--capacity", "100"});
  ok({"chan", "send", "jobs", "a", "b", "c", "d"});
  v1::SubscribeRequest request;
  request.set_name("jobs");
  request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
  request.mutable_ack_deadline()->set_seconds(3);
  request.set_max_batch(10);
  auto ctx = client_.context(std::chrono::seconds(60));
  auto stream = client_.channels().Subscribe(ctx.get(), request);
  v1::ChannelEvent event;
  ASSERT_TRUE(stream->Read(&event));
  ASSERT_TRUE(event.has_batch()) << event.ShortDebugString();
  ASSERT_EQ(event.batch().messages_size(), 4);

  // Acknowledge a, b and d in one call; c stays unacknowledged.
  v1::AckRequest ack;
  ack.set_name("jobs");
  for (int i : {0, 1, 3}) ack.add_delivery_ids(event.batch().messages(i).delivery_id());
  v1::AckResponse acked;
  auto ack_ctx = client_.context(std::chrono::seconds(10));
  const auto status = client_.channels().Ack(ack_ctx.get(), ack, &acked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(acked.acknowledged(), 3u);

  // c comes back alone, delivered a second time.
  v1::ChannelEvent again;
  ASSERT_TRUE(stream->Read(&again));
  ASSERT_TRUE(again.has_batch()) << again.ShortDebugString();
  ASSERT_EQ(again.batch().messages_size(), 1);
  EXPECT_EQ(again.batch().messages(0).payload(), "c");
  EXPECT_EQ(again.batch().messages(0).delivery_count(), 2u);

  // Acknowledging the batch again: the stale ids are named, the fresh one counts.
  v1::AckRequest late;
  late.set_name("jobs");
  late.set_delivery_id(again.batch().messages(0).delivery_id());
  late.add_delivery_ids(event.batch().messages(0).delivery_id());
  auto late_ctx = client_.context(std::chrono::seconds(10));
  const auto stale = client_.channels().Ack(late_ctx.get(), late, &acked);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(contains(stale.error_message(), event.batch().messages(0).delivery_id()))
      << stale.error_message();
  EXPECT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.in_flight() == 0; }));
  ctx->TryCancel();
  stream->Finish();
}

// tokio::sync::watch: a receiver sees the latest value; values sent while it was not looking
// are coalesced.
TEST_F(Channels, AWatchSubscriberSeesTheCurrentValueThenOnlyTheLatestOfABurst) {
  ok({"chan", "create", "config", "--kind", "watch", "--value", "v1"});
  auto watcher = orchctl_.start({"chan", "sub", "config", "--count", "3"});
  EXPECT_EQ(watcher.read_line(kWait), std::optional<std::string>("value version=1 \"v1\""));
  const auto sent = ok({"chan", "send", "config", "v2", "v3", "v4"});
  EXPECT_TRUE(contains(sent.out, " version=4")) << sent.out;
  EXPECT_EQ(watcher.read_line(kWait), std::optional<std::string>("value version=4 \"v4\""));

  // A Recv after version 4 waits for the next one.
  auto reader =
      orchctl_.start({"chan", "recv", "config", "--after-version", "4", "--timeout", "60s"});
  ASSERT_TRUE(wait_for(client_, "config", [](const auto& i) { return i.receivers() == 1; }));
  ok({"chan", "send", "config", "v5"});
  const auto read = reader.finish(kWait);
  ASSERT_EQ(read.exit_code, 0) << describe(read);
  EXPECT_EQ(read.out, "value version=5 \"v5\"\n");
  EXPECT_EQ(watcher.read_line(kWait), std::optional<std::string>("value version=5 \"v5\""));
  EXPECT_EQ(watcher.finish(kWait).exit_code, 0);
}

// At-least-once: a receiver that got a message and died without acknowledging it (SIGKILL)
// leaves it in flight; past the ack deadline another receiver gets it, delivery count 2.
TEST_F(Channels, AMessageOfAReceiverKilledBeforeItsAckIsRedeliveredWithDeliveryCountTwo) {
  ok({"chan", "create", "jobs"});
  ok({"chan", "send", "jobs", "work"});
  auto doomed = orchctl_.start({"chan", "sub", "jobs", "--ack-deadline", "1s"});
  const auto line = doomed.read_line(kWait);
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(starts_with(*line, "message seq=1 delivery=1 id=")) << *line;
  const auto id_at = line->find("id=") + 3;
  const std::string first_id = line->substr(id_at, line->find(' ', id_at) - id_at);
  ASSERT_EQ(::kill(doomed.pid(), SIGKILL), 0);
  doomed.finish(kWait);

  const auto again =
      ok({"chan", "recv", "jobs", "--ack-deadline", "30s", "--ack", "--timeout", "60s"});
  const auto lines = lines_of(again.out);
  ASSERT_EQ(lines.size(), 1u) << again.out;
  EXPECT_TRUE(starts_with(lines[0], "message seq=1 delivery=2 id=")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "\"work\""));
  const auto info = channel_info(client_, "jobs");
  EXPECT_EQ(info.in_flight(), 0u);
  EXPECT_EQ(info.depth(), 0u);

  const auto stale = orchctl_({"chan", "ack", "jobs", first_id});
  EXPECT_EQ(stale.exit_code, 3) << describe(stale);
  EXPECT_TRUE(starts_with(stale.err, "FAILED_PRECONDITION: ")) << stale.err;
}

// Cancel safety: a receiver that goes away while waiting takes nothing with it.
TEST_F(Channels, AReceiverKilledWhileWaitingTakesNoMessageWithIt) {
  ok({"chan", "create", "jobs"});
  auto waiting = orchctl_.start({"chan", "recv", "jobs"});
  ASSERT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.receivers() == 1; }));
  ASSERT_EQ(::kill(waiting.pid(), SIGKILL), 0);
  waiting.finish(kWait);
  ASSERT_TRUE(wait_for(client_, "jobs", [](const auto& i) { return i.receivers() == 0; }));
  ok({"chan", "send", "jobs", "kept"});
  EXPECT_EQ(ok({"chan", "recv", "jobs", "--no-wait"}).out, message_line(1, 1, "kept") + "\n");

  // A client deadline ends a Recv the same way.
  v1::RecvRequest request;
  request.set_name("jobs");
  auto ctx = client_.context(std::chrono::milliseconds(200));
  v1::RecvResponse response;
  EXPECT_EQ(client_.channels().Recv(ctx.get(), request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ok({"chan", "send", "jobs", "still-kept"});
  EXPECT_EQ(channel_info(client_, "jobs").depth(), 1u);
}

TEST_F(Channels, WaitingSubscribersReceiversAndSendersDoNotHoldUpShutdown) {
  ok({"chan", "create", "news", "--kind", "broadcast"});
  ok({"chan", "create", "full", "--capacity", "1"});
  ok({"chan", "send", "full", "x"});
  auto subscriber = orchctl_.start({"chan", "sub", "news"});
  ok({"chan", "create", "empty"});
  auto waiting_receiver = orchctl_.start({"chan", "recv", "empty"});
  auto waiting_sender = orchctl_.start({"chan", "send", "full", "y"});
  ASSERT_TRUE(wait_for(client_, "news", [](const auto& i) { return i.subscribers() == 1; }));
  ASSERT_TRUE(wait_for(client_, "empty", [](const auto& i) { return i.receivers() == 1; }));
  ASSERT_TRUE(wait_for(client_, "full", [](const auto& i) { return i.senders() == 1; }));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon_.stop(), 0) << daemon_.log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  for (auto* child : {&subscriber, &waiting_receiver, &waiting_sender}) {
    EXPECT_EQ(child->finish(kWait).exit_code, 3) << "the call ended with an RPC error";
  }
}

TEST_F(Channels, ChannelsArePerTenantAndAnotherTenantsChannelIsNotFound) {
  ok({"chan", "create", "jobs"});
  const auto beta = daemon_.orchctl(kBeta);
  for (const auto& args : std::vector<std::vector<std::string>>{{"chan", "get", "jobs"},
                                                                {"chan", "send", "jobs", "x"},
                                                                {"chan", "recv", "jobs"},
                                                                {"chan", "rm", "jobs"}}) {
    const auto run = beta(args);
    EXPECT_EQ(run.exit_code, 3) << describe(run);
    EXPECT_TRUE(starts_with(run.err, "NOT_FOUND: channel jobs not found")) << run.err;
  }
  const auto own = beta({"chan", "create", "jobs", "--kind", "watch"});
  EXPECT_EQ(own.exit_code, 0) << describe(own);
  EXPECT_EQ(lines_of(ok({"chan", "ls"}).out),
            (std::vector<std::string>{"jobs  mpsc  100  0  0  open"}));
}

TEST_F(Channels, QuotasAreRefusedWithMessagesThatNameTheConfigKey) {
  TestConfig config;
  config.tenants = {TestTenant{.name = "alpha",
                               .token = kAlpha,
                               .max_channels = 1,
                               .max_message_bytes = 8,
                               .max_channel_capacity = 10}};
  DaemonProcess small(config);
  const auto orchctl = small.orchctl(kAlpha);
  const auto big = orchctl({"chan", "create", "big", "--capacity", "11"});
  EXPECT_EQ(big.exit_code, 3);
  EXPECT_EQ(big.err,
            "INVALID_ARGUMENT: capacity: 11 is more than the tenant's max_channel_capacity (10)\n");
  EXPECT_EQ(orchctl({"chan", "create", "a", "--capacity", "10"}).exit_code, 0);
  const auto second = orchctl({"chan", "create", "b", "--capacity", "1"});
  EXPECT_EQ(second.exit_code, 3);
  EXPECT_TRUE(
      starts_with(second.err, "RESOURCE_EXHAUSTED: tenant alpha has 1 channels (max_channels=1)"))
      << second.err;
  const auto large = orchctl({"chan", "send", "a", "ok", "123456789"});
  EXPECT_EQ(large.exit_code, 3);
  EXPECT_TRUE(starts_with(large.err,
                          "RESOURCE_EXHAUSTED: payloads[1]: 9 bytes is more than the "
                          "tenant's max_message_bytes (8)"))
      << large.err;
  const auto info = orchctl({"chan", "get", "a"});
  EXPECT_TRUE(contains(info.out, "depth: 0\n")) << info.out;
  const auto empty_name = orchctl({"chan", "create", ""});
  EXPECT_EQ(empty_name.exit_code, 3);
  EXPECT_EQ(empty_name.err, "INVALID_ARGUMENT: name: must not be empty\n");
}

TEST_F(Channels, OrchctlGetLsCloseAndRmPrintTextAndJson) {
  ok({"chan", "create", "jobs", "--capacity", "5"});
  ok({"chan", "create", "news", "--kind", "broadcast", "--capacity", "3"});
  ok({"chan", "send", "jobs", "a", "b"});
  const auto text = ok({"chan", "get", "jobs"});
  EXPECT_TRUE(
      starts_with(text.out,
                  "name: jobs\nkind: mpsc\ncapacity: 5\ndepth: 2\nin_flight: 0\nsenders: 0\n"
                  "receivers: 0\nsubscribers: 0\nstate: open\nmessages_sent: 2\ncreated: "))
      << text.out;
  const auto json = ok({"-o", "json", "chan", "get", "jobs"});
  const auto info = parse_json<v1::ChannelInfo>(lines_of(json.out).at(0));
  EXPECT_EQ(info.kind(), v1::CHANNEL_KIND_MPSC);
  EXPECT_EQ(info.depth(), 2u);
  EXPECT_EQ(
      lines_of(ok({"chan", "ls"}).out),
      (std::vector<std::string>{"jobs  mpsc  5  2  0  open", "news  broadcast  3  0  0  open"}));
  EXPECT_EQ(lines_of(ok({"chan", "ls", "--kind", "broadcast"}).out),
            (std::vector<std::string>{"news  broadcast  3  0  0  open"}));
  EXPECT_TRUE(contains(ok({"chan", "close", "jobs"}).out, "state: closed\n"));
  const auto refused = orchctl_({"chan", "send", "jobs", "c"});
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_EQ(refused.err, "FAILED_PRECONDITION: channel jobs is closed\n");
  const auto recv_json = ok({"-o", "json", "chan", "recv", "jobs", "-n", "0"});
  const auto responses = lines_of(recv_json.out);
  ASSERT_FALSE(responses.empty());
  const auto first = parse_json<v1::RecvResponse>(responses.front());
  ASSERT_EQ(first.messages_size(), 2);
  EXPECT_EQ(first.messages(1).payload(), "b");
  EXPECT_TRUE(parse_json<v1::RecvResponse>(responses.back()).closed());
  EXPECT_EQ(ok({"chan", "rm", "news"}).out, "news removed (0 messages discarded)\n");
  EXPECT_EQ(lines_of(ok({"chan", "ls"}).out),
            (std::vector<std::string>{"jobs  mpsc  5  0  0  closed"}));
}

TEST_F(Channels, MetricsCountMessagesPerChannelAndForgetADeletedChannel) {
  ok({"chan", "create", "jobs"});
  ok({"chan", "send", "jobs", "a", "b", "c"});
  ok({"chan", "recv", "jobs"});
  const std::string labels = R"({channel="jobs",tenant="alpha"})";
  ASSERT_TRUE(
      wait_for_sample(daemon_.admin_port(), "orch_channel_messages_received_total" + labels, 1));
  auto body = http_get(daemon_.admin_port(), "/metrics").body;
  EXPECT_EQ(metric_sample(body, "orch_channel_messages_sent_total" + labels), 3);
  EXPECT_EQ(metric_sample(body, "orch_channel_depth" + labels), 2);
  EXPECT_EQ(metric_sample(body, R"(orch_channel_send_wait_seconds_count{tenant="alpha"})"), 1);
  EXPECT_TRUE(
      metric_sample(body, R"(orch_grpc_requests_total{code="OK",method="ChannelService/Send"})"));
  ok({"chan", "rm", "jobs"});
  body = http_get(daemon_.admin_port(), "/metrics").body;
  EXPECT_FALSE(metric_sample(body, "orch_channel_messages_sent_total" + labels));
  EXPECT_FALSE(metric_sample(body, "orch_channel_depth" + labels));
}

}  // namespace
}  // namespace orch::test
