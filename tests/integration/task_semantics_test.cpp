// What composite nodes and the Join/Select RPCs do on the real daemon: concurrency, winners,
// deadlines and aborts, driven through orchctl and the C++ client.
#include <gtest/gtest.h>

#include <functional>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

TEST(TaskSemantics, JoinNodeOfThreeSleepsRunsThemConcurrently) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);

  const auto start = std::chrono::steady_clock::now();
  const auto run = orchctl({"-o", "json", "spawn", "--wait", "-f", "-"},
                           R"({"join": {"children": [{"sleep": {"duration": "300ms"}},
                                                     {"sleep": {"duration": "300ms"}},
                                                     {"sleep": {"duration": "300ms"}}]}})");
  const double elapsed = seconds_since(start);

  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto task = parse_json<v1::TaskInfo>(run.out);
  EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(task.result().join().children_size(), 3);
  for (const auto& child : task.result().join().children()) {
    EXPECT_EQ(child.state(), v1::TASK_STATE_SUCCEEDED);
  }
  // One after another they would take 0.9 s; together, a little over 0.3 s.
  const double ran = seconds_between(task.result().started_at(), task.result().finished_at());
  EXPECT_GE(ran, 0.3);
  EXPECT_LT(ran, 0.9);
  EXPECT_LT(elapsed, 0.9) << "orchctl spawn --wait took " << elapsed << "s";
}

TEST(TaskSemantics, JoinRpcOverThreeSleepingTasksReturnsOnceAllHaveEnded) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(spawn_task(client, oc::sleep(300ms)));
  const auto tasks = join_tasks(client, ids);
  const double elapsed = seconds_since(start);

  ASSERT_EQ(tasks.size(), 3u);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].id(), ids[i]) << "Join returns the tasks in request order";
    EXPECT_EQ(tasks[i].state(), v1::TASK_STATE_SUCCEEDED);
  }
  EXPECT_GE(elapsed, 0.3);
  EXPECT_LT(elapsed, 0.9) << "three 300 ms sleeps did not run concurrently";
}

TEST(TaskSemantics, SelectNodeEndsAtTheWinnerAndCancelsTheLoser) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);

  const auto start = std::chrono::steady_clock::now();
  const auto run = orchctl({"-o", "json", "spawn", "--wait", "-f", "-"},
                           R"({"select": {"children": [{"sleep": {"duration": "3s"}},
                                                       {"sleep": {"duration": "300ms"}}]}})");
  const double elapsed = seconds_since(start);

  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto task = parse_json<v1::TaskInfo>(run.out);
  EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  const auto& select = task.result().select();
  EXPECT_EQ(select.winner(), 1u);
  EXPECT_EQ(select.result().state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(select.children_size(), 2);
  EXPECT_EQ(select.children(0).state(), v1::TASK_STATE_CANCELLED);
  EXPECT_TRUE(contains(select.children(0).error(), "lost the select"));
  EXPECT_EQ(select.children(1).state(), v1::TASK_STATE_SUCCEEDED);
  // Ended at the winner (300 ms), not at the loser (3 s).
  EXPECT_GE(elapsed, 0.3);
  EXPECT_LT(elapsed, 2.0);
}

TEST(TaskSemantics, SelectRpcWithAbortLosersCancelsTheLosingTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);

  const auto start = std::chrono::steady_clock::now();
  const std::string slow = spawn_task(client, oc::sleep(3s));
  const std::string fast = spawn_task(client, oc::sleep(300ms));
  v1::SelectRequest request;
  request.add_ids(slow);
  request.add_ids(fast);
  request.set_abort_losers(true);
  v1::SelectResponse response;
  const auto status = client.select(request, response, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.winner(), 1u);
  EXPECT_EQ(response.task().id(), fast);
  EXPECT_EQ(response.task().state(), v1::TASK_STATE_SUCCEEDED);

  const auto loser = join_task(client, slow);
  const double elapsed = seconds_since(start);
  EXPECT_EQ(loser.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_TRUE(contains(loser.result().error(), "lost a select"));
  EXPECT_LT(elapsed, 2.0) << "the loser was not cancelled but ran to its end";
}

TEST(TaskSemantics, TimeoutNodeEndsTimedOutAtItsDeadline) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);

  const auto start = std::chrono::steady_clock::now();
  const auto run = orchctl(
      {"-o", "json", "spawn", "--wait", "-f", "-"},
      R"({"timeout": {"duration": "300ms", "child": {"sleep": {"duration": "5s"}}}})");
  const double elapsed = seconds_since(start);

  EXPECT_EQ(run.exit_code, 1) << "a task that did not succeed exits 1\n" << describe(run);
  const auto task = parse_json<v1::TaskInfo>(run.out);
  EXPECT_EQ(task.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(task.result().state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(task.result().timeout().child().state(), v1::TASK_STATE_CANCELLED);
  EXPECT_GE(elapsed, 0.3);
  EXPECT_LT(elapsed, 2.0) << "the timeout did not cut the 5 s sleep short";
}

// Calls `visit` on every node of a result tree with its path ("root.join[1].select[0]").
void for_each_node(const v1::NodeResult& node, const std::string& path,
                   const std::function<void(const v1::NodeResult&, const std::string&)>& visit) {
  visit(node, path);
  for (int i = 0; i < node.join().children_size(); ++i) {
    for_each_node(node.join().children(i), path + ".join[" + std::to_string(i) + "]", visit);
  }
  for (int i = 0; i < node.select().children_size(); ++i) {
    for_each_node(node.select().children(i), path + ".select[" + std::to_string(i) + "]", visit);
  }
  for (int i = 0; i < node.sequence().children_size(); ++i) {
    for_each_node(node.sequence().children(i), path + ".sequence[" + std::to_string(i) + "]",
                  visit);
  }
  if (node.has_timeout()) for_each_node(node.timeout().child(), path + ".timeout", visit);
}

TEST(TaskSemantics, AbortOfACompositeCancelsAllItsDescendants) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const auto orchctl = daemon.orchctl(kAlpha);

  // Five leaves hold permits at once: one per branch, two in the select.
  const auto spec = oc::join({oc::sleep(30s), oc::select({oc::sleep(30s), oc::sleep(30s)}),
                              oc::timeout(30s, oc::sleep(30s)),
                              oc::sequence({oc::sleep(30s), oc::sleep(1s)})});
  const std::string id = spawn_task(client, spec);
  TaskWatchStream watch(client, {id});
  ASSERT_TRUE(watch.wait_for(id, v1::TASK_STATE_RUNNING));
  EXPECT_GE(usage(client).permits_in_use(), 1u);

  const auto abort = orchctl({"abort", id});
  ASSERT_EQ(abort.exit_code, 0) << describe(abort);
  EXPECT_EQ(abort.out, id + " aborted\n");

  const auto task = join_task(client, id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  // The task's own error tells a person why it ended.
  EXPECT_TRUE(contains(task.result().error(), "aborted"));
  int nodes = 0;
  for_each_node(task.result(), "root", [&](const v1::NodeResult& node, const std::string& path) {
    ++nodes;
    EXPECT_EQ(node.state(), v1::TASK_STATE_CANCELLED) << path << ": " << node.error();
    // Every leaf was cancelled by the abort, and says so (also those inside the select: no
    // child won it, the abort cancelled them all).
    if (node.output_case() == v1::NodeResult::OUTPUT_NOT_SET) {
      EXPECT_TRUE(contains(node.error(), "aborted")) << path;
    }
  });
  // join + sleep + select + 2 sleeps + timeout + sleep + sequence + its first sleep (the second
  // never started, so it has no result).
  EXPECT_EQ(nodes, 9);
  ASSERT_EQ(task.result().join().children_size(), 4);
  EXPECT_EQ(task.result().join().children(3).sequence().children_size(), 1);

  // The watch saw the end and closed by itself.
  EXPECT_TRUE(watch.finish().ok());
  EXPECT_EQ(watch.events().back().state(), v1::TASK_STATE_CANCELLED);

  // Every permit came back with the leaves.
  const auto after = usage(client);
  EXPECT_EQ(after.permits_in_use(), 0u);
  EXPECT_EQ(after.live_tasks(), 0u);

  // Aborting a terminal task changes nothing.
  const auto again = orchctl({"abort", id});
  EXPECT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(again.out, id + " already terminal\n");
}

}  // namespace
}  // namespace orch::test
