// send and recv nodes against the real channel registry, on one io_context driven by the test
// with a manual clock: every assertion is about an exact instant.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <optional>
#include <set>

#include "orch/channels/channel_registry.h"
#include "orch/engine/engine.h"

using namespace std::chrono_literals;

namespace orch::engine {
namespace {

namespace asio = boost::asio;
using channels::ChannelKind;
using channels::ChannelQuota;
using channels::ChannelRegistry;
using channels::ChannelSpec;

Node send_node(std::string channel, std::string payload) {
  Node node = make_node(NodeKind::kSend);
  node.work = ChannelOpSpec{std::move(channel), std::move(payload)};
  return node;
}
Node recv_node(std::string channel) {
  Node node = make_node(NodeKind::kRecv);
  node.work = ChannelOpSpec{std::move(channel), {}};
  return node;
}
Node sleep_node(Duration d) { return make_node(NodeKind::kSleep, d); }
Node select_node(std::vector<Node> children) {
  return make_node(NodeKind::kSelect, {}, std::move(children));
}
Node timeout_node(Duration d, Node child) {
  return make_node(NodeKind::kTimeout, d, {std::move(child)});
}
Node sequence_node(std::vector<Node> children) {
  return make_node(NodeKind::kSequence, {}, std::move(children));
}

const RecvOutput* recv_output(const NodeResult& r) { return std::get_if<RecvOutput>(&r.output); }

class ChannelNodesTest : public ::testing::Test {
 protected:
  ChannelNodesTest() {
    Clock::use_manual();
    registry_.emplace(io_.get_executor());
    registry_->add_tenant("alpha", ChannelQuota{10, 1024, 20'000});
    registry_->add_tenant("beta", ChannelQuota{10, 1024, 20'000});
    engine_.emplace(io_.get_executor(), EngineOptions{std::chrono::hours(1)});
    engine_->add_tenant({"alpha", 2, 20'000});
    engine_->add_tenant({"beta", 2, 20'000});
    engine_->set_channels(&*registry_);
  }
  ~ChannelNodesTest() override {
    engine_->stop_accepting();
    asio::co_spawn(io_, engine_->drain(Duration::zero()), asio::detached);
    settle();
    engine_.reset();
    settle();
    registry_.reset();
    settle();
    Clock::use_real();
  }

  // Runs every ready handler. (Parked waits are no work to the io_context: restart it.)
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

  void create(const std::string& name, ChannelKind kind, std::uint32_t capacity,
              const std::string& tenant = "alpha") {
    auto info = registry_->create(tenant, ChannelSpec{name, kind, capacity, {}, false});
    ASSERT_TRUE(info.has_value()) << info.error().message;
  }

  // Puts messages in directly (never waits: the channel must have room).
  void put(const std::string& name, std::vector<std::string> payloads) {
    channels::SendOptions options;
    options.no_wait = true;
    std::optional<Result<channels::SendOutcome>> out;
    asio::co_spawn(io_, registry_->send("alpha", name, std::move(payloads), options),
                   [&out](std::exception_ptr e, Result<channels::SendOutcome> r) {
                     ASSERT_FALSE(e);
                     out.emplace(std::move(r));
                   });
    settle();
    ASSERT_TRUE(out.has_value());
    ASSERT_TRUE(out->has_value()) << out->error().message;
  }

  // Takes every message left, oldest first.
  std::vector<std::string> drain_channel(const std::string& name) {
    std::vector<std::string> got;
    for (;;) {
      channels::RecvOptions options;
      options.no_wait = true;
      options.max_messages = 1000;
      std::optional<Result<channels::Received>> out;
      asio::co_spawn(io_, registry_->recv("alpha", name, options),
                     [&out](std::exception_ptr e, Result<channels::Received> r) {
                       ASSERT_FALSE(e);
                       out.emplace(std::move(r));
                     });
      settle();
      if (!out || !out->has_value() || (*out)->messages.empty()) return got;
      for (const auto& m : (*out)->messages) got.push_back(m.payload);
      (*out)->commit();
    }
  }

  std::uint32_t depth(const std::string& name) { return registry_->get("alpha", name)->depth; }

  std::string spawn(Node spec, const std::string& tenant = "alpha") {
    auto outcome = engine_->spawn(tenant, SpawnArgs{std::move(spec), "", {}, ""});
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message);
    settle();
    return outcome ? outcome->id : std::string{};
  }

  TaskSnapshot get(const std::string& id, const std::string& tenant = "alpha") {
    auto snapshot = engine_->get(tenant, id);
    EXPECT_TRUE(snapshot.has_value());
    return snapshot ? *snapshot : TaskSnapshot{};
  }

  asio::io_context io_;
  std::optional<ChannelRegistry> registry_;
  std::optional<Engine> engine_;
};

TEST_F(ChannelNodesTest, RecvTakesTheOldestMessageAndCommitsIt) {
  create("jobs", ChannelKind::kMpsc, 10);
  put("jobs", {"first", "second"});
  const auto task = get(spawn(recv_node("jobs")));
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  ASSERT_NE(recv_output(*task.result), nullptr);
  EXPECT_EQ(recv_output(*task.result)->payload, "first");
  EXPECT_EQ(recv_output(*task.result)->sequence, 1u);
  EXPECT_EQ(drain_channel("jobs"), std::vector<std::string>{"second"});
}

TEST_F(ChannelNodesTest, RecvWaitsForAMessageWithoutHoldingAPermit) {
  create("jobs", ChannelKind::kMpsc, 10);
  // More waiting receives than the tenant has permits (2): none of them holds one.
  const auto a = spawn(recv_node("jobs"));
  const auto b = spawn(recv_node("jobs"));
  const auto c = spawn(recv_node("jobs"));
  EXPECT_EQ(get(a).state, State::kRunning);
  EXPECT_EQ(get(c).state, State::kRunning);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  const auto slept = spawn(sleep_node(1s));
  EXPECT_EQ(get(slept).state, State::kRunning);
  put("jobs", {"x", "y", "z"});
  std::multiset<std::string> got;
  for (const auto& id : {a, b, c}) {
    const auto task = get(id);
    ASSERT_EQ(task.state, State::kSucceeded);
    got.insert(recv_output(*task.result)->payload);
  }
  EXPECT_EQ(got, (std::multiset<std::string>{"x", "y", "z"}));
}

TEST_F(ChannelNodesTest, SendIntoAFullChannelWaitsUntilARecvMakesRoom) {
  create("jobs", ChannelKind::kMpsc, 1);
  put("jobs", {"a"});
  const auto sender = spawn(send_node("jobs", "b"));
  advance(1h);
  EXPECT_EQ(get(sender).state, State::kRunning);
  EXPECT_EQ(registry_->get("alpha", "jobs")->senders, 1u);
  const auto receiver = get(spawn(recv_node("jobs")));
  ASSERT_EQ(receiver.state, State::kSucceeded);
  EXPECT_EQ(recv_output(*receiver.result)->payload, "a");
  const auto sent = get(sender);
  ASSERT_EQ(sent.state, State::kSucceeded) << sent.result->error;
  ASSERT_NE(std::get_if<SendOutput>(&sent.result->output), nullptr);
  EXPECT_EQ(std::get<SendOutput>(sent.result->output).receivers, 1u);
  EXPECT_EQ(drain_channel("jobs"), std::vector<std::string>{"b"});
}

TEST_F(ChannelNodesTest, ASendCutShortByATimeoutSendsNothing) {
  create("jobs", ChannelKind::kMpsc, 1);
  put("jobs", {"a"});
  const auto id = spawn(timeout_node(10s, send_node("jobs", "b")));
  advance(10s);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  EXPECT_EQ(task.result->children.at(0).state, State::kCancelled);
  EXPECT_EQ(registry_->get("alpha", "jobs")->messages_sent, 1u);
  EXPECT_EQ(drain_channel("jobs"), std::vector<std::string>{"a"});
}

TEST_F(ChannelNodesTest, TimeoutRecvOnAnEmptyChannelTakesNothingFromALaterSend) {
  create("jobs", ChannelKind::kMpsc, 10);
  const auto id = spawn(timeout_node(2s, recv_node("jobs")));
  advance(2s);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  EXPECT_EQ(recv_output(task.result->children.at(0)), nullptr);
  EXPECT_EQ(registry_->get("alpha", "jobs")->receivers, 0u);
  put("jobs", {"late"});
  EXPECT_EQ(depth("jobs"), 1u);
  EXPECT_EQ(drain_channel("jobs"), std::vector<std::string>{"late"});
}

TEST_F(ChannelNodesTest, SelectOfRecvAndSleepIsWonByAMessageThatArrives) {
  create("a", ChannelKind::kMpsc, 10);
  const auto id = spawn(select_node({recv_node("a"), sleep_node(5s)}));
  advance(1s);
  put("a", {"hello"});
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(task.result->winner, 0u);
  EXPECT_EQ(recv_output(task.result->children[0])->payload, "hello");
  EXPECT_EQ(task.result->children[1].state, State::kCancelled);
  EXPECT_EQ(depth("a"), 0u);
}

TEST_F(ChannelNodesTest, ARecvThatLosesToASleepLeavesTheNextMessageInTheChannel) {
  create("a", ChannelKind::kMpsc, 10);
  const auto id = spawn(select_node({recv_node("a"), sleep_node(5s)}));
  advance(5s);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(task.result->winner, 1u);
  EXPECT_EQ(task.result->children[0].state, State::kCancelled);
  put("a", {"kept"});
  EXPECT_EQ(drain_channel("a"), std::vector<std::string>{"kept"});
}

TEST_F(ChannelNodesTest, AnAbortRightAfterTheHandOverGivesTheMessageBack) {
  create("jobs", ChannelKind::kMpsc, 10);
  put("jobs", {"one"});
  // Spawned and aborted before the io_context runs: the recv is handed the queued message in
  // its first step and the abort lands before it finishes (or before it starts at all).
  auto outcome = engine_->spawn("alpha", SpawnArgs{recv_node("jobs"), "", {}, ""});
  ASSERT_TRUE(outcome.has_value());
  ASSERT_TRUE(engine_->abort("alpha", {outcome->id}).has_value());
  settle();
  const auto task = get(outcome->id);
  ASSERT_EQ(task.state, State::kCancelled);
  EXPECT_EQ(recv_output(*task.result), nullptr);
  EXPECT_EQ(drain_channel("jobs"), std::vector<std::string>{"one"});
}

TEST_F(ChannelNodesTest, SequenceOfRecvAndSendPipesAMessageOn) {
  create("in", ChannelKind::kMpsc, 10);
  create("out", ChannelKind::kMpsc, 10);
  const auto id = spawn(sequence_node({recv_node("in"), send_node("out", "done")}));
  EXPECT_EQ(get(id).state, State::kRunning);
  put("in", {"work"});
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  EXPECT_EQ(recv_output(task.result->children[0])->payload, "work");
  EXPECT_EQ(drain_channel("out"), std::vector<std::string>{"done"});
}

TEST_F(ChannelNodesTest, ClosedMissingAndBroadcastChannelsFailWithAReason) {
  create("jobs", ChannelKind::kMpsc, 10);
  create("news", ChannelKind::kBroadcast, 10);
  ASSERT_TRUE(registry_->close("alpha", "jobs").has_value());
  auto recv_closed = get(spawn(recv_node("jobs")));
  EXPECT_EQ(recv_closed.state, State::kFailed);
  EXPECT_EQ(recv_closed.result->error, "channel jobs is closed");
  auto send_closed = get(spawn(send_node("jobs", "x")));
  EXPECT_EQ(send_closed.state, State::kFailed);
  EXPECT_EQ(send_closed.result->error, "channel jobs is closed");
  auto missing = get(spawn(recv_node("nope")));
  EXPECT_EQ(missing.state, State::kFailed);
  EXPECT_EQ(missing.result->error, "channel nope not found");
  auto broadcast = get(spawn(recv_node("news")));
  EXPECT_EQ(broadcast.state, State::kFailed);
  EXPECT_NE(broadcast.result->error.find("broadcast"), std::string::npos);
  // A send into a broadcast channel reports how many subscribers it reached: none.
  auto fanout = get(spawn(send_node("news", "hi")));
  ASSERT_EQ(fanout.state, State::kSucceeded);
  EXPECT_EQ(std::get<SendOutput>(fanout.result->output).receivers, 0u);
}

TEST_F(ChannelNodesTest, ARecvWaitingWhenItsChannelClosesFails) {
  create("jobs", ChannelKind::kMpsc, 10);
  const auto id = spawn(recv_node("jobs"));
  ASSERT_TRUE(registry_->close("alpha", "jobs").has_value());
  settle();
  const auto task = get(id);
  EXPECT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->error, "channel jobs is closed");
}

TEST_F(ChannelNodesTest, RecvOnAWatchChannelReadsItsCurrentValue) {
  auto info = registry_->create("alpha", ChannelSpec{"config", ChannelKind::kWatch, 0, "v1", false});
  ASSERT_TRUE(info.has_value());
  const auto task = get(spawn(recv_node("config")));
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(recv_output(*task.result)->payload, "v1");
  EXPECT_EQ(recv_output(*task.result)->sequence, 1u);
  // Reading a watch takes nothing: the next read sees the same value.
  EXPECT_EQ(recv_output(*get(spawn(recv_node("config"))).result)->payload, "v1");
}

TEST_F(ChannelNodesTest, AnotherTenantsChannelIsNotFound) {
  create("jobs", ChannelKind::kMpsc, 10);
  put("jobs", {"secret"});
  const auto task = get(spawn(recv_node("jobs"), "beta"), "beta");
  EXPECT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->error, "channel jobs not found");
  const auto sent = get(spawn(send_node("jobs", "x"), "beta"), "beta");
  EXPECT_EQ(sent.state, State::kFailed);
  EXPECT_EQ(drain_channel("jobs"), std::vector<std::string>{"secret"});
}

// 10,000 races of select{recv a, recv b}: half while both channels are empty and messages then
// arrive in both, half with messages already queued in both. Every message is either a
// winner's payload or still in its channel, exactly once; losers carry no payload.
TEST_F(ChannelNodesTest, SelectOverTwoRecvsLosesNoMessageOver10000Races) {
  constexpr int kRaces = 10'000;
  constexpr int kHalf = kRaces / 2;
  create("a", ChannelKind::kMpsc, 20'000);
  create("b", ChannelKind::kMpsc, 20'000);
  std::vector<std::string> ids;
  ids.reserve(kRaces);
  auto spawn_races = [&](int n) {
    std::vector<SpawnArgs> batch;
    for (int i = 0; i < n; ++i) {
      batch.push_back(SpawnArgs{select_node({recv_node("a"), recv_node("b")}), "", {}, ""});
    }
    auto spawned = engine_->spawn_batch("alpha", std::move(batch));
    ASSERT_TRUE(spawned.has_value()) << spawned.error().message;
    for (const auto& s : *spawned) ids.push_back(s.id);
  };
  std::set<std::string> sent;
  int next = 0;
  auto put_both = [&](int n) {
    std::vector<std::string> to_a, to_b;
    for (int i = 0; i < n; ++i, ++next) {
      to_a.push_back("a" + std::to_string(next));
      to_b.push_back("b" + std::to_string(next));
    }
    sent.insert(to_a.begin(), to_a.end());
    sent.insert(to_b.begin(), to_b.end());
    put("a", std::move(to_a));
    put("b", std::move(to_b));
  };

  // Phase 1: the selects wait on both channels; messages arrive in both, 100 at a time.
  spawn_races(kHalf);
  settle();
  for (int i = 0; i < kHalf; i += 100) put_both(100);
  // Phase 2: both channels hold messages before the selects start.
  put_both(kHalf);
  spawn_races(kHalf);
  settle();

  std::vector<std::string> received;
  for (const auto& id : ids) {
    const auto task = get(id);
    ASSERT_EQ(task.state, State::kSucceeded) << id;
    ASSERT_TRUE(task.result->winner.has_value());
    const auto winner = *task.result->winner;
    const auto* out = recv_output(task.result->children.at(winner));
    ASSERT_NE(out, nullptr);
    received.push_back(out->payload);
    const auto& loser = task.result->children.at(1 - winner);
    EXPECT_EQ(loser.state, State::kCancelled);
    EXPECT_EQ(recv_output(loser), nullptr);
  }
  for (auto& payload : drain_channel("a")) received.push_back(std::move(payload));
  for (auto& payload : drain_channel("b")) received.push_back(std::move(payload));

  std::map<std::string, int> seen;
  for (const auto& payload : received) ++seen[payload];
  EXPECT_EQ(received.size(), sent.size());
  for (const auto& payload : sent) EXPECT_EQ(seen[payload], 1) << payload;
  EXPECT_EQ(registry_->get("alpha", "a")->receivers + registry_->get("alpha", "b")->receivers, 0u);
}

}  // namespace
}  // namespace orch::engine
