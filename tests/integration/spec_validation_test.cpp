// Every bad task spec is refused before anything runs, with a status that names the field, and
// the daemon keeps serving afterwards.
#include <gtest/gtest.h>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

// Small limits, so that the depth and size checks are reached with small specs. alpha may not
// use exec; http is allowed.
TestConfig limited_config() {
  TestConfig config = two_tenants();
  config.limits = {{"max_spec_depth", "8"}, {"max_spec_nodes", "50"}, {"max_duration", "1h"}};
  config.tenants[0].allowed_kinds = {"sleep", "http"};
  return config;
}

// `levels` nested sequences around one sleep: a spec `levels + 1` nodes deep.
v1::TaskSpec nested(int levels) {
  v1::TaskSpec spec = oc::sleep(1ms);
  for (int i = 0; i < levels; ++i) spec = oc::sequence({spec});
  return spec;
}

// A join of `n` sleeps: n + 1 nodes.
v1::TaskSpec wide(int n) {
  std::vector<v1::TaskSpec> children(static_cast<std::size_t>(n), oc::sleep(1ms));
  return oc::join(std::move(children));
}

v1::TaskSpec sleep_of(std::int64_t seconds, std::int32_t nanos = 0) {
  v1::TaskSpec spec;
  spec.mutable_sleep()->mutable_duration()->set_seconds(seconds);
  spec.mutable_sleep()->mutable_duration()->set_nanos(nanos);
  return spec;
}

struct BadSpec {
  std::string what;
  v1::TaskSpec spec;
  grpc::StatusCode code;
  std::string message;  // exact
};

std::vector<BadSpec> bad_specs() {
  std::vector<BadSpec> cases;
  const auto invalid = grpc::StatusCode::INVALID_ARGUMENT;
  cases.push_back({"no node set", v1::TaskSpec{}, invalid,
                   "spec: no node set; set exactly one of sleep, http, exec, worker, send, recv, "
                   "join, select, timeout, sequence"});
  {
    v1::TaskSpec spec;
    spec.mutable_join();
    cases.push_back({"join without children", spec, invalid,
                     "spec.join.children: must not be empty"});
  }
  {
    v1::TaskSpec spec;
    spec.mutable_select();
    cases.push_back({"select without children", spec, invalid,
                     "spec.select.children: must not be empty"});
  }
  {
    v1::TaskSpec spec;
    spec.mutable_sequence();
    cases.push_back({"sequence without children", spec, invalid,
                     "spec.sequence.children: must not be empty"});
  }
  {
    v1::TaskSpec spec;
    *spec.mutable_timeout()->mutable_duration() = oc::to_proto(1s);
    cases.push_back({"timeout without child", spec, invalid, "spec.timeout.child: required"});
  }
  {
    v1::TaskSpec spec;
    *spec.mutable_timeout()->mutable_child() = oc::sleep(1s);
    cases.push_back(
        {"timeout without duration", spec, invalid, "spec.timeout.duration: required"});
  }
  {
    v1::TaskSpec spec;
    spec.mutable_sleep();
    cases.push_back({"sleep without duration", spec, invalid, "spec.sleep.duration: required"});
  }
  cases.push_back({"negative duration", sleep_of(-1), invalid,
                   "spec.sleep.duration: must not be negative"});
  cases.push_back({"duration over limits.max_duration", sleep_of(3601), invalid,
                   "spec.sleep.duration: must be at most 1h (limits.max_duration)"});
  cases.push_back({"absurd duration", sleep_of(std::int64_t{315'576'000'000}), invalid,
                   "spec.sleep.duration: must be at most 1h (limits.max_duration)"});
  cases.push_back({"nanos out of range", sleep_of(1, 1'000'000'000), invalid,
                   "spec.sleep.duration: not a valid duration"});
  {
    // A bad node deep inside a tree is named by its full path.
    auto spec = oc::join({oc::sleep(1s), oc::timeout(1s, oc::select({oc::sleep(1s), sleep_of(-1)}))});
    cases.push_back({"bad node deep in the tree", spec, invalid,
                     "spec.join.children[1].timeout.child.select.children[1].sleep.duration: "
                     "must not be negative"});
  }
  cases.push_back({"nesting deeper than limits.max_spec_depth", nested(8), invalid,
                   "spec.sequence.children[0].sequence.children[0].sequence.children[0]"
                   ".sequence.children[0].sequence.children[0].sequence.children[0]"
                   ".sequence.children[0].sequence.children[0]: nesting deeper than 8 levels "
                   "(limits.max_spec_depth)"});
  cases.push_back({"more nodes than limits.max_spec_nodes", wide(50), invalid,
                   "spec: more than 50 nodes (limits.max_spec_nodes)"});
  {
    v1::TaskSpec spec;
    spec.mutable_exec()->add_argv("/bin/true");
    cases.push_back({"exec not in allowed_kinds", spec, grpc::StatusCode::PERMISSION_DENIED,
                     "spec.exec: tenant alpha may not use node kind 'exec' "
                     "(allowed_kinds: sleep, http)"});
  }
  cases.push_back({"http with an unusable URL", oc::http("GET", "ftp://127.0.0.1/"), invalid,
                   "spec.http.url: scheme must be http or https, got \"ftp\""});
  cases.push_back({"http to a denied host", oc::http("GET", "http://169.254.169.254/"),
                   grpc::StatusCode::PERMISSION_DENIED,
                   "spec.http.url: host 169.254.169.254 is denied by http_deny_hosts pattern "
                   "\"169.254.0.0/16\""});
  return cases;
}

TEST(SpecValidation, EveryBadSpecIsRefusedNamingTheFieldAndTheDaemonKeepsServing) {
  DaemonProcess daemon(limited_config());
  auto client = daemon.client(kAlpha);

  for (const auto& bad : bad_specs()) {
    SCOPED_TRACE(bad.what);
    v1::SpawnRequest request;
    *request.mutable_spec() = bad.spec;
    v1::SpawnResponse response;
    const auto status = client.spawn(request, response, kCallDeadline);
    EXPECT_EQ(status.error_code(), bad.code) << describe(status);
    EXPECT_EQ(status.error_message(), bad.message);
    EXPECT_TRUE(response.id().empty());
  }

  // Nothing was admitted, and a good spec still runs.
  EXPECT_EQ(usage(client).stored_tasks(), 0u);
  const auto task = join_task(client, spawn_task(client, oc::sleep(10ms)));
  EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
}

TEST(SpecValidation, SpecsAtTheLimitsAreAccepted) {
  DaemonProcess daemon(limited_config());
  auto client = daemon.client(kAlpha);

  // 8 levels deep (7 sequences around a sleep) and 50 nodes are exactly at the limits.
  EXPECT_EQ(join_task(client, spawn_task(client, nested(7))).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(join_task(client, spawn_task(client, wide(49))).state(), v1::TASK_STATE_SUCCEEDED);
  // A zero sleep completes at once; the longest allowed one is accepted.
  EXPECT_EQ(join_task(client, spawn_task(client, sleep_of(0))).state(),
            v1::TASK_STATE_SUCCEEDED);
  v1::SpawnRequest request;
  *request.mutable_spec() = sleep_of(3600);
  v1::SpawnResponse response;
  EXPECT_TRUE(client.spawn(request, response, kCallDeadline).ok());
}

TEST(SpecValidation, SpawnWithoutSpecIsInvalidArgument) {
  DaemonProcess daemon(limited_config());
  auto client = daemon.client(kAlpha);
  v1::SpawnResponse response;
  const auto status = client.spawn(v1::SpawnRequest{}, response, kCallDeadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_EQ(status.error_message(), "spec: required");
}

TEST(SpecValidation, OrchctlReportsABadSpecFileAsInvalidArgumentOnOneStderrLine) {
  DaemonProcess daemon(limited_config());
  const auto orchctl = daemon.orchctl(kAlpha);

  const auto run = orchctl({"spawn", "-f", "-"}, R"({"join": {"children": []}})");
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_EQ(run.err, "INVALID_ARGUMENT: spec.join.children: must not be empty\n");
  EXPECT_EQ(run.out, "");

  const auto good = orchctl({"spawn", "--wait", "-f", "-"}, "sleep: {duration: 10ms}\n");
  EXPECT_EQ(good.exit_code, 0) << describe(good);
  EXPECT_TRUE(contains(good.out, "state: SUCCEEDED"));
}

}  // namespace
}  // namespace orch::test
