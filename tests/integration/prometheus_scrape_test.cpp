// A real Prometheus server scrapes the real daemon: Debian's prometheus runs on loopback with a
// config that scrapes orchestrd's admin port every second, the test spawns work (tasks that
// succeed and fail, a channel with messages, a tenant with running and pending tasks), then asks
// Prometheus's HTTP API whether the target is up and the orch_ series arrived with the values
// the work implies.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "orch/v1/channels.grpc.pb.h"
#include "prometheus_server.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kJob = "orchestrd";
// Prometheus takes a few seconds to start and scrapes every second: on a busy machine all of
// it stays far inside this bound (and inside ctest's 120 s per test).
constexpr auto kPrometheusBound = std::chrono::seconds(75);

// One PromQL instant query and the single value it must return.
struct Expectation {
  std::string promql;
  double value;
};

// What the last round of queries saw, for the failure message.
std::string describe_miss(const Expectation& e, const PromQueryResult& r) {
  std::ostringstream out;
  out << "  " << e.promql << " (want " << e.value << "): ";
  if (!r.error.empty()) {
    out << "error " << r.error;
  } else if (r.samples.empty()) {
    out << "no series";
  } else {
    for (const auto& s : r.samples) out << s.value << " ";
  }
  return out.str() + "\n";
}

bool holds(const Expectation& e, const PromQueryResult& r) {
  return r.error.empty() && r.samples.size() == 1 && r.samples.front().value == e.value;
}

TEST(PrometheusScrape, SeriesOfTasksPermitsAndChannelsArriveWithTheirValuesAndTheTargetIsUp) {
  if (!PrometheusServer::installed()) {
    GTEST_SKIP() << PrometheusServer::kBinary << " is not installed (Debian package prometheus)";
  }
  TestConfig config;
  config.tenants = {TestTenant{.name = "alpha", .token = "alpha-secret", .max_concurrency = 5},
                    TestTenant{.name = "beta", .token = "beta-secret", .max_concurrency = 2}};
  DaemonProcess daemon(config);
  const std::string target = "127.0.0.1:" + std::to_string(daemon.admin_port());
  // Started first: it comes up while the work below runs.
  PrometheusServer prometheus(kJob, {target});
  const auto deadline = Clock::now() + kPrometheusBound;

  // alpha: 3 tasks succeed, 2 fail (recv from a channel that does not exist), 1 times out.
  auto alpha = daemon.client("alpha-secret");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(spawn_task(alpha, oc::sleep(1ms)));
  for (int i = 0; i < 2; ++i) ids.push_back(spawn_task(alpha, oc::recv("missing")));
  ids.push_back(spawn_task(alpha, oc::timeout(10ms, oc::sleep(10min))));
  const auto finished = join_tasks(alpha, ids);
  ASSERT_EQ(finished.size(), 6u);
  EXPECT_EQ(finished[3].state(), v1::TASK_STATE_FAILED) << finished[3].DebugString();
  EXPECT_EQ(finished[5].state(), v1::TASK_STATE_TIMED_OUT) << finished[5].DebugString();

  // alpha's channel: 4 messages sent, 1 received, 3 left.
  {
    v1::CreateChannelRequest create;
    create.set_name("jobs");
    create.set_kind(v1::CHANNEL_KIND_MPSC);
    create.set_capacity(10);
    v1::ChannelInfo info;
    auto ctx = alpha.context(kCallDeadline);
    const auto status = alpha.channels().Create(ctx.get(), create, &info);
    ASSERT_TRUE(status.ok()) << describe(status);
  }
  {
    v1::SendRequest send;
    send.set_name("jobs");
    for (const char* p : {"a", "b", "c", "d"}) send.add_payloads(p);
    v1::SendResponse sent;
    auto ctx = alpha.context(kCallDeadline);
    const auto status = alpha.channels().Send(ctx.get(), send, &sent);
    ASSERT_TRUE(status.ok()) << describe(status);
  }
  {
    v1::RecvRequest recv;
    recv.set_name("jobs");
    recv.set_no_wait(true);
    v1::RecvResponse received;
    auto ctx = alpha.context(kCallDeadline);
    const auto status = alpha.channels().Recv(ctx.get(), recv, &received);
    ASSERT_TRUE(status.ok()) << describe(status);
    ASSERT_EQ(received.messages_size(), 1);
  }

  // beta (2 permits): 3 long sleeps, so 2 run and 1 waits for a permit until the test ends.
  auto beta = daemon.client("beta-secret");
  for (int i = 0; i < 3; ++i) spawn_task(beta, oc::sleep(10min));

  ASSERT_TRUE(prometheus.wait_ready(deadline))
      << "prometheus did not become ready on port " << prometheus.port();

  const std::string job = std::string("job=\"") + kJob + "\"";
  const std::string alpha_sel = job + ",tenant=\"alpha\"";
  const std::string beta_sel = job + ",tenant=\"beta\"";
  const std::vector<Expectation> expectations = {
      {"up{" + job + ",instance=\"" + target + "\"}", 1},
      {"orch_build_info{" + job + ",version=\"0.1.0\"}", 1},
      // Tasks by tenant, kind and outcome.
      {"orch_tasks_spawned_total{" + alpha_sel + ",kind=\"sleep\"}", 3},
      {"orch_tasks_spawned_total{" + alpha_sel + ",kind=\"recv\"}", 2},
      {"orch_tasks_spawned_total{" + alpha_sel + ",kind=\"timeout\"}", 1},
      {"orch_tasks_finished_total{" + alpha_sel + ",kind=\"sleep\",outcome=\"succeeded\"}", 3},
      {"orch_tasks_finished_total{" + alpha_sel + ",kind=\"recv\",outcome=\"failed\"}", 2},
      {"orch_tasks_finished_total{" + alpha_sel + ",kind=\"timeout\",outcome=\"timed_out\"}", 1},
      // PromQL over the scraped series: everything alpha finished, by any kind and outcome.
      {"sum(orch_tasks_finished_total{" + alpha_sel + "})", 6},
      {"orch_tasks_running{" + alpha_sel + "}", 0},
      {"orch_task_duration_seconds_count{" + job + ",kind=\"sleep\"}", 3},
      // Permits: the limit is max_concurrency; beta holds both of its permits and has a waiter.
      {"orch_semaphore_permits{" + alpha_sel + "}", 5},
      {"orch_semaphore_permits{" + beta_sel + "}", 2},
      {"orch_semaphore_permits_in_use{" + beta_sel + "}", 2},
      {"orch_semaphore_waiters{" + beta_sel + "}", 1},
      {"orch_tasks_running{" + beta_sel + "}", 2},
      {"orch_tasks_pending{" + beta_sel + "}", 1},
      {"orch_tasks_spawned_total{" + beta_sel + ",kind=\"sleep\"}", 3},
      // The channel.
      {"orch_channel_messages_sent_total{" + alpha_sel + ",channel=\"jobs\"}", 4},
      {"orch_channel_messages_received_total{" + alpha_sel + ",channel=\"jobs\"}", 1},
      {"orch_channel_depth{" + alpha_sel + ",channel=\"jobs\"}", 3},
      // gRPC calls: the 9 spawns above.
      {"orch_grpc_requests_total{" + job + ",method=\"TaskService/Spawn\",code=\"OK\"}", 9},
  };

  // Poll until every expectation holds at once (scrapes land every second), bounded.
  std::vector<PromQueryResult> last(expectations.size());
  bool all = false;
  int rounds = 0;
  while (!all) {
    ++rounds;
    all = true;
    for (std::size_t i = 0; i < expectations.size(); ++i) {
      last[i] = prometheus.query(expectations[i].promql);
      all = all && holds(expectations[i], last[i]);
    }
    if (all || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(500ms);  // polling: Prometheus scrapes once a second
  }
  std::string report;
  for (std::size_t i = 0; i < expectations.size(); ++i) {
    if (!holds(expectations[i], last[i])) report += describe_miss(expectations[i], last[i]);
  }
  EXPECT_TRUE(all) << "after " << rounds << " rounds of queries, these did not hold:\n" << report;

  // The series carry the target's labels as Prometheus attached them.
  const auto spawned = prometheus.query("orch_tasks_spawned_total{" + alpha_sel + ",kind=\"sleep\"}");
  ASSERT_EQ(spawned.samples.size(), 1u) << spawned.error;
  EXPECT_EQ(spawned.samples.front().labels.at("instance"), target);
  EXPECT_EQ(spawned.samples.front().labels.at("__name__"), "orch_tasks_spawned_total");

  // Stopped by its own pid; SIGTERM is a clean exit for Prometheus.
  EXPECT_EQ(prometheus.stop(), 0) << prometheus.log();
}

}  // namespace
}  // namespace orch::test
