// A tenant's permits (max_concurrency) and queue (max_queued) on the real daemon.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

TestConfig alpha_with(unsigned max_concurrency, unsigned max_queued) {
  TestConfig config = two_tenants();
  config.tenants[0].max_concurrency = max_concurrency;
  config.tenants[0].max_queued = max_queued;
  return config;
}

TEST(TenantLimits, SevenSleepsUnderThreePermitsRunInThreeWavesNeverMoreThanThreeAtOnce) {
  DaemonProcess daemon(alpha_with(3, 100));
  auto client = daemon.client(kAlpha);

  // A second view of the same invariant: the tenant's permits, sampled while the tasks run.
  std::atomic<bool> sampling{true};
  std::atomic<unsigned> max_permits{0};
  std::atomic<unsigned> samples{0};
  std::thread sampler([&] {
    auto sampler_client = daemon.client(kAlpha);
    while (sampling) {
      v1::WhoAmIResponse who;
      if (sampler_client.who_am_i(who, kCallDeadline).ok()) {
        unsigned seen = max_permits;
        const unsigned now = who.usage().permits_in_use();
        while (now > seen && !max_permits.compare_exchange_weak(seen, now)) {
        }
        ++samples;
      }
      // A sampling interval, not synchronisation: it only keeps the sampler from hogging a core.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  const auto start = std::chrono::steady_clock::now();
  v1::SpawnBatchRequest batch;
  for (int i = 0; i < 7; ++i) *batch.add_tasks()->mutable_spec() = oc::sleep(500ms);
  v1::SpawnBatchResponse spawned;
  const auto status = client.spawn_batch(batch, spawned, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  ASSERT_EQ(spawned.ids_size(), 7);

  // Watch the seven tasks: the first events are their states at subscription (taken at one
  // instant), then every change in order, until all are terminal.
  auto ctx = client.context(kCallDeadline);
  v1::WatchRequest request;
  for (const auto& id : spawned.ids()) request.add_ids(id);
  auto reader = client.watch(*ctx, request);
  std::map<std::string, v1::TaskState> states;
  std::size_t max_running = 0;
  std::string at_max;
  v1::TaskEvent event;
  while (reader->Read(&event)) {
    states[event.id()] = event.state();
    const auto running = static_cast<std::size_t>(std::count_if(
        states.begin(), states.end(),
        [](const auto& entry) { return entry.second == v1::TASK_STATE_RUNNING; }));
    if (running > max_running) {
      max_running = running;
      at_max = "after event " + event.id() + " -> " + v1::TaskState_Name(event.state());
    }
  }
  const auto finished = reader->Finish();
  const double elapsed = seconds_since(start);
  sampling = false;
  sampler.join();

  ASSERT_TRUE(finished.ok()) << describe(finished);
  ASSERT_EQ(states.size(), 7u);
  for (const auto& [id, state] : states) {
    EXPECT_EQ(state, v1::TASK_STATE_SUCCEEDED) << id;
  }
  EXPECT_GE(max_running, 1u);
  EXPECT_LE(max_running, 3u) << "the watch saw " << max_running << " tasks RUNNING at once ("
                             << at_max << "); WhoAmI saw at most " << max_permits.load()
                             << " permits in use";
  EXPECT_GT(samples.load(), 0u);
  EXPECT_LE(max_permits.load(), 3u);
  // ceil(7 / 3) = 3 waves of 500 ms.
  EXPECT_GE(elapsed, 1.5);
  EXPECT_LT(elapsed, 10.0);

  // The waves, read from the tasks' own start times: the 4th task can only start once a
  // permit of the first wave is back (>= 500 ms), the 7th once one of the second wave is.
  std::vector<double> starts;
  const auto tasks = join_tasks(client, {spawned.ids().begin(), spawned.ids().end()});
  ASSERT_EQ(tasks.size(), 7u);
  for (const auto& task : tasks) {
    starts.push_back(seconds_between(tasks.front().created_at(), task.started_at()));
  }
  std::sort(starts.begin(), starts.end());
  EXPECT_GE(starts[3] - starts[0], 0.49) << "the 4th task started before a permit was free";
  EXPECT_GE(starts[6] - starts[0], 0.99) << "the 7th task started before the third wave";
}

TEST(TenantLimits, SpawnBeyondMaxQueuedIsResourceExhaustedWhileAnotherTenantStillSpawns) {
  DaemonProcess daemon(alpha_with(3, 20));
  auto alpha = daemon.client(kAlpha);

  // 3 running + 20 queued fill the tenant.
  for (int i = 0; i < 23; ++i) {
    v1::SpawnRequest request;
    *request.mutable_spec() = oc::sleep(60s);
    v1::SpawnResponse response;
    const auto status = alpha.spawn(request, response, kCallDeadline);
    ASSERT_TRUE(status.ok()) << "spawn #" << i + 1 << ": " << describe(status);
  }
  EXPECT_EQ(usage(alpha).live_tasks(), 23u);

  const auto refused = daemon.orchctl(kAlpha)({"spawn", "sleep", "60s"});
  EXPECT_EQ(refused.exit_code, 3) << describe(refused);
  EXPECT_TRUE(starts_with(refused.err,
                          "RESOURCE_EXHAUSTED: tenant alpha has 20 tasks queued (max_queued=20)"));
  EXPECT_EQ(refused.out, "");
  EXPECT_EQ(usage(alpha).live_tasks(), 23u) << "the refused spawn left a task behind";

  // Another tenant's quota is its own: beta spawns and runs to the end.
  const auto beta = daemon.orchctl(kBeta)({"spawn", "--wait", "sleep", "10ms"});
  EXPECT_EQ(beta.exit_code, 0) << describe(beta);
  EXPECT_TRUE(contains(beta.out, "state: SUCCEEDED"));
}

}  // namespace
}  // namespace orch::test
