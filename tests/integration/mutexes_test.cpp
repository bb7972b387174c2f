// MutexService against the real daemon, with several client processes on loopback: counters
// incremented under a named mutex, a lease that expires under a live client, waits that time
// out or are abandoned, quotas, tenants, and orchctl's output.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "orch/v1/mutex.grpc.pb.h"
#include "proto_json.h"
#include "task_calls.h"
#include "test_support.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
using namespace std::chrono_literals;

// The MutexService calls of one client, each bounded by a client deadline.
class MutexCalls {
 public:
  explicit MutexCalls(orch::client::Client& client) : client_(client) {}

  grpc::Status lock(const std::string& name, v1::LockResponse& response,
                    std::chrono::milliseconds ttl = 60s, std::chrono::milliseconds wait = 0ms) {
    v1::LockRequest request;
    request.set_name(name);
    *request.mutable_lease_ttl() = orch::client::to_proto(ttl);
    *request.mutable_wait_timeout() = orch::client::to_proto(wait);
    request.set_holder("mutexes_test");
    auto ctx = client_.context(kCallDeadline);
    return client_.mutexes().Lock(ctx.get(), request, &response);
  }
  grpc::Status unlock(const std::string& name, const std::string& guard,
                      std::optional<std::string> value = std::nullopt) {
    v1::UnlockRequest request;
    request.set_name(name);
    request.set_guard(guard);
    if (value) {
      request.set_set_value(true);
      request.set_value(*value);
    }
    v1::UnlockResponse response;
    auto ctx = client_.context(kCallDeadline);
    return client_.mutexes().Unlock(ctx.get(), request, &response);
  }
  grpc::Status get(const std::string& name, v1::MutexInfo& info) {
    v1::GetMutexRequest request;
    request.set_name(name);
    auto ctx = client_.context(kCallDeadline);
    return client_.mutexes().Get(ctx.get(), request, &info);
  }
  // Polls Get until `done(info)` holds (true) or 10 s pass (false).
  template <typename Predicate>
  bool wait_until(const std::string& name, Predicate done) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      v1::MutexInfo info;
      if (get(name, info).ok() && done(info)) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  orch::client::Client& client_;
};

// A client with a TCP connection of its own (gRPC would otherwise share one per address).
orch::client::Client own_connection(const DaemonProcess& daemon, const std::string& token) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(daemon.grpc_address(), grpc::InsecureChannelCredentials(), args);
  return orch::client::Client(channel, orch::client::ClientOptions{daemon.grpc_address(), token});
}

// The line `KEY: VALUE` of orchctl's text output, without `KEY: `.
std::string field(const std::string& text, const std::string& key) {
  for (const auto& line : lines_of(text)) {
    if (line.rfind(key + ": ", 0) == 0) return line.substr(key.size() + 2);
  }
  ADD_FAILURE() << "no \"" << key << ":\" line in:\n" << text;
  return {};
}

std::string config_with_mutex_quotas() {
  std::string yaml = two_tenants().yaml();
  const std::string alpha = "  - name: alpha\n";
  yaml.insert(yaml.find(alpha) + alpha.size(),
              "    max_mutexes: 1\n    max_mutex_value_bytes: 4\n    max_mutex_waiters: 1\n");
  return yaml + "limits:\n  max_lease_ttl: 1m\n";
}

TEST(Mutexes, FiveOrchctlClientsIncrementACounterUnderTheMutexToFive) {
  DaemonProcess daemon(two_tenants());
  const Orchctl orchctl = daemon.orchctl(kAlpha);
  // Each client is a shell running orchctl: lock, read the value, unlock storing value + 1.
  const std::string o = std::string(kOrchctl) + " --addr " + orchctl.address + " --token " + kAlpha;
  const std::string script =
      "set -e\n"
      "out=$(" +
      o +
      " mutex lock counter --ttl 60s --wait 60s)\n"
      "guard=$(printf '%s\\n' \"$out\" | sed -n 's/^guard: //p')\n"
      "token=$(printf '%s\\n' \"$out\" | sed -n 's/^fencing_token: //p')\n"
      "value=$(printf '%s\\n' \"$out\" | sed -n 's/^value: \"\\(.*\\)\"$/\\1/p')\n" +
      o +
      " mutex unlock counter \"$guard\" --value $(( ${value:-0} + 1 ))\n"
      "echo \"$token $value\"\n";
  std::vector<std::unique_ptr<Subprocess>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(
        std::make_unique<Subprocess>(std::vector<std::string>{"/bin/sh", "-c", script}));
  }
  std::set<std::string> tokens;
  for (auto& c : clients) {
    const CommandResult r = c->finish(60s);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    tokens.insert(lines_of(r.out).back().substr(0, lines_of(r.out).back().find(' ')));
  }
  EXPECT_EQ(tokens.size(), 5u) << "every acquisition has a token of its own";

  const CommandResult got = orchctl({"mutex", "get", "counter"});
  ASSERT_EQ(got.exit_code, 0) << describe(got);
  EXPECT_EQ(field(got.out, "value"), "\"5\"");
  EXPECT_EQ(field(got.out, "locked"), "false");
}

TEST(Mutexes, FiftyClientsAndAThousandIncrementsEndAtExactlyAThousand) {
  DaemonProcess daemon(two_tenants());
  constexpr int kClients = 50;
  constexpr int kIncrements = 20;
  struct Acquisition {
    std::uint64_t token;
    int value_read;
  };
  std::vector<std::vector<Acquisition>> seen(kClients);
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto client = own_connection(daemon, kAlpha);
      MutexCalls calls(client);
      for (int n = 0; n < kIncrements; ++n) {
        v1::LockResponse lock;
        auto status = calls.lock("counter", lock, 60s, 60s);
        if (!status.ok()) {
          errors[i] = "Lock: " + describe(status);
          return;
        }
        const int value = lock.value().empty() ? 0 : std::stoi(lock.value());
        seen[i].push_back({lock.fencing_token(), value});
        status = calls.unlock("counter", lock.guard(), std::to_string(value + 1));
        if (!status.ok()) {
          errors[i] = "Unlock: " + describe(status);
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) ASSERT_EQ(errors[i], "") << "client " << i;

  auto client = daemon.client(kAlpha);
  MutexCalls calls(client);
  v1::MutexInfo info;
  ASSERT_TRUE(calls.get("counter", info).ok());
  EXPECT_EQ(info.value(), "1000");
  EXPECT_FALSE(info.locked());
  // In fencing-token order, every holder read exactly what the holder before it wrote.
  std::vector<Acquisition> all;
  for (const auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  ASSERT_EQ(all.size(), 1000u);
  std::sort(all.begin(), all.end(), [](auto a, auto b) { return a.token < b.token; });
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].value_read, static_cast<int>(i)) << "acquisition " << i;
    if (i > 0) {
      ASSERT_GT(all[i].token, all[i - 1].token);
    }
  }
  EXPECT_EQ(info.value_fencing_token(), all.back().token);
}

TEST(Mutexes, ALeaseExpiryFreesTheLockAndRefusesTheStaleUnlock) {
  DaemonProcess daemon(two_tenants());
  const Orchctl orchctl = daemon.orchctl(kAlpha);
  // A takes the lock for 300 ms and then "stalls"; B waits (generously) and gets it.
  const CommandResult a = orchctl({"mutex", "lock", "job", "--ttl", "300ms"});
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  Subprocess b = orchctl.start({"-o", "json", "mutex", "lock", "job", "--wait", "60s"});
  const CommandResult b_done = b.finish(60s);
  ASSERT_EQ(b_done.exit_code, 0) << describe(b_done);
  const auto b_lock = parse_json<v1::LockResponse>(lines_of(b_done.out).at(0));
  EXPECT_GT(b_lock.fencing_token(), std::stoull(field(a.out, "fencing_token")));

  // A wakes up and tries to commit: refused, nothing stored.
  const CommandResult stale =
      orchctl({"mutex", "unlock", "job", field(a.out, "guard"), "--value", "stale write"});
  EXPECT_EQ(stale.exit_code, 3) << describe(stale);
  EXPECT_TRUE(stale.err.starts_with("FAILED_PRECONDITION: guard does not hold mutex \"job\""))
      << stale.err;
  const CommandResult refresh = orchctl({"mutex", "refresh", "job", field(a.out, "guard")});
  EXPECT_EQ(refresh.exit_code, 3) << describe(refresh);

  const CommandResult got = orchctl({"-o", "json", "mutex", "get", "job"});
  ASSERT_EQ(got.exit_code, 0) << describe(got);
  const auto info = parse_json<v1::MutexInfo>(lines_of(got.out).at(0));
  EXPECT_TRUE(info.locked());
  EXPECT_EQ(info.holder().fencing_token(), b_lock.fencing_token());
  EXPECT_EQ(info.value(), "");

  // B commits normally.
  const CommandResult b_unlock =
      orchctl({"mutex", "unlock", "job", b_lock.guard(), "--value", "b"});
  EXPECT_EQ(b_unlock.exit_code, 0) << describe(b_unlock);
  EXPECT_EQ(b_unlock.out, "job unlocked\n");

  const std::string metrics = http_get(daemon.admin_port(), "/metrics").body;
  EXPECT_EQ(metric_sample(metrics, "orch_mutex_lease_expiries_total{tenant=\"alpha\"}"), 1.0);
  EXPECT_EQ(
      metric_sample(metrics, "orch_mutex_stale_guards_total{call=\"unlock\",tenant=\"alpha\"}"),
      1.0);
  EXPECT_EQ(metric_sample(metrics, "orch_mutex_acquisitions_total{tenant=\"alpha\"}"), 2.0);
  EXPECT_EQ(metric_sample(metrics, "orch_mutex_wait_seconds_count{tenant=\"alpha\"}"), 2.0);
  EXPECT_EQ(metric_sample(metrics, "orch_mutex_holders{tenant=\"alpha\"}"), 0.0);
}

TEST(Mutexes, AWaitTimeoutIsDeadlineExceededAndLeavesTheQueue) {
  DaemonProcess daemon(two_tenants());
  const Orchctl orchctl = daemon.orchctl(kAlpha);
  const CommandResult held = orchctl({"mutex", "lock", "m", "--ttl", "60s"});
  ASSERT_EQ(held.exit_code, 0) << describe(held);
  const CommandResult waited = orchctl({"mutex", "lock", "m", "--wait", "200ms"});
  EXPECT_EQ(waited.exit_code, 3) << describe(waited);
  EXPECT_EQ(waited.err,
            "DEADLINE_EXCEEDED: mutex \"m\" was not acquired within 200ms (wait_timeout)\n");
  const CommandResult busy = orchctl({"mutex", "lock", "m", "--no-wait"});
  EXPECT_EQ(busy.exit_code, 3) << describe(busy);
  EXPECT_TRUE(busy.err.starts_with("FAILED_PRECONDITION: mutex \"m\" is held")) << busy.err;

  const CommandResult got = orchctl({"mutex", "get", "m"});
  EXPECT_EQ(field(got.out, "waiters"), "0");
  EXPECT_EQ(orchctl({"mutex", "unlock", "m", field(held.out, "guard")}).exit_code, 0);
}

TEST(Mutexes, AClientKilledWhileWaitingLeavesTheQueueAndNeverAcquires) {
  DaemonProcess daemon(two_tenants());
  const Orchctl orchctl = daemon.orchctl(kAlpha);
  auto client = daemon.client(kAlpha);
  MutexCalls calls(client);
  v1::LockResponse held;
  ASSERT_TRUE(calls.lock("m", held).ok());

  Subprocess waiter = orchctl.start({"mutex", "lock", "m"});  // waits without limit
  ASSERT_TRUE(calls.wait_until("m", [](const v1::MutexInfo& i) { return i.waiters() == 1; }));
  ::kill(waiter.pid(), SIGKILL);
  EXPECT_EQ(waiter.finish(10s).exit_code, 128 + SIGKILL);
  ASSERT_TRUE(calls.wait_until("m", [](const v1::MutexInfo& i) { return i.waiters() == 0; }));

  ASSERT_TRUE(calls.unlock("m", held.guard(), "kept").ok());
  v1::MutexInfo info;
  ASSERT_TRUE(calls.get("m", info).ok());
  EXPECT_FALSE(info.locked()) << "the killed client must not have acquired it";
  EXPECT_EQ(info.fencing_token(), held.fencing_token());
}

TEST(Mutexes, AnotherTenantsMutexIsNotFound) {
  DaemonProcess daemon(two_tenants());
  const Orchctl alpha = daemon.orchctl(kAlpha);
  const Orchctl beta = daemon.orchctl(kBeta);
  const CommandResult held = alpha({"mutex", "lock", "shared"});
  ASSERT_EQ(held.exit_code, 0) << describe(held);

  const CommandResult get = beta({"mutex", "get", "shared"});
  EXPECT_EQ(get.exit_code, 3) << describe(get);
  EXPECT_TRUE(get.err.starts_with("NOT_FOUND: no mutex \"shared\"")) << get.err;
  // alpha's guard does nothing in beta's namespace.
  const CommandResult foreign =
      beta({"mutex", "unlock", "shared", field(held.out, "guard"), "--value", "x"});
  EXPECT_EQ(foreign.exit_code, 3) << describe(foreign);
  EXPECT_TRUE(foreign.err.starts_with("FAILED_PRECONDITION")) << foreign.err;
  // beta's "shared" is a mutex of its own, free at once.
  const CommandResult own = beta({"mutex", "lock", "shared", "--no-wait"});
  EXPECT_EQ(own.exit_code, 0) << describe(own);
  const CommandResult still = alpha({"mutex", "get", "shared"});
  EXPECT_EQ(field(still.out, "locked"), "true");
  EXPECT_EQ(field(still.out, "fencing_token"), field(held.out, "fencing_token"));
}

TEST(Mutexes, QuotasAndBadRequestsGetErrorsThatNameTheLimitOrField) {
  DaemonProcess daemon(config_with_mutex_quotas());
  auto client = daemon.client(kAlpha);
  MutexCalls calls(client);
  v1::LockResponse first;
  ASSERT_TRUE(calls.lock("a", first).ok());

  v1::LockResponse second;
  auto status = calls.lock("b", second);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(status);
  EXPECT_TRUE(contains(status.error_message(), "max_mutexes"));

  status = calls.lock("a", second, 2min);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_EQ(status.error_message(),
            "lease_ttl: 2m is longer than the server's maximum 1m (limits.max_lease_ttl)");

  v1::LockRequest negative;
  negative.set_name("a");
  negative.mutable_wait_timeout()->set_seconds(-1);
  auto ctx = client.context(kCallDeadline);
  status = client.mutexes().Lock(ctx.get(), negative, &second);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_TRUE(status.error_message().starts_with("wait_timeout: ")) << describe(status);

  status = calls.unlock("a", first.guard(), "12345");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_TRUE(contains(status.error_message(), "max_mutex_value_bytes"));

  v1::UnlockRequest unflagged;
  unflagged.set_name("a");
  unflagged.set_guard(first.guard());
  unflagged.set_value("1");
  v1::UnlockResponse unlocked;
  auto unlock_ctx = client.context(kCallDeadline);
  status = client.mutexes().Unlock(unlock_ctx.get(), unflagged, &unlocked);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_TRUE(status.error_message().starts_with("value: ")) << describe(status);

  EXPECT_TRUE(calls.unlock("a", first.guard(), "1234").ok());
  // beta has the default quotas.
  auto beta_client = daemon.client(kBeta);
  MutexCalls beta(beta_client);
  EXPECT_TRUE(beta.lock("a", second).ok());
  EXPECT_TRUE(beta.lock("b", second).ok());
}

TEST(Mutexes, OrchctlPrintsEveryCallAsTextAndJson) {
  DaemonProcess daemon(two_tenants());
  const Orchctl orchctl = daemon.orchctl(kAlpha);
  const CommandResult lock =
      orchctl({"-o", "json", "mutex", "lock", "cfg", "--ttl", "10s", "--holder", "deploy-1"});
  ASSERT_EQ(lock.exit_code, 0) << describe(lock);
  const auto grant = parse_json<v1::LockResponse>(lines_of(lock.out).at(0));
  EXPECT_EQ(grant.guard().size(), 32u);
  EXPECT_GT(grant.fencing_token(), 0u);
  EXPECT_TRUE(grant.has_lease_expires_at());

  const CommandResult refresh = orchctl({"mutex", "refresh", "cfg", grant.guard(), "--ttl", "1m"});
  ASSERT_EQ(refresh.exit_code, 0) << describe(refresh);
  EXPECT_NE(field(refresh.out, "lease_expires_at"), "-");

  const CommandResult held = orchctl({"mutex", "get", "cfg"});
  ASSERT_EQ(held.exit_code, 0) << describe(held);
  EXPECT_EQ(field(held.out, "locked"), "true");
  EXPECT_EQ(field(held.out, "holder"), "\"deploy-1\"");
  EXPECT_EQ(field(held.out, "lease_expires_at"), field(refresh.out, "lease_expires_at"));
  EXPECT_EQ(field(held.out, "value_updated_at"), "-");

  const CommandResult unlock =
      orchctl({"-o", "json", "mutex", "unlock", "cfg", grant.guard(), "--value", "a \"b\"\n"});
  ASSERT_EQ(unlock.exit_code, 0) << describe(unlock);
  EXPECT_EQ(unlock.out, "{}\n");

  const CommandResult text = orchctl({"mutex", "get", "cfg"});
  EXPECT_EQ(field(text.out, "locked"), "false");
  EXPECT_EQ(field(text.out, "value"), "\"a \\\"b\\\"\\n\"");
  EXPECT_EQ(field(text.out, "value_fencing_token"), std::to_string(grant.fencing_token()));
  const CommandResult json = orchctl({"-o", "json", "mutex", "get", "cfg"});
  const auto info = parse_json<v1::MutexInfo>(lines_of(json.out).at(0));
  EXPECT_EQ(info.value(), "a \"b\"\n");
  EXPECT_EQ(info.value_fencing_token(), grant.fencing_token());

  const CommandResult usage = orchctl({"mutex", "lock", "cfg", "--wait", "1s", "--no-wait"});
  EXPECT_EQ(usage.exit_code, 2) << describe(usage);
  EXPECT_EQ(orchctl({"mutex", "lock", "cfg", "--ttl", "soon"}).exit_code, 2);
  EXPECT_EQ(orchctl({"mutex", "unlock", "cfg"}).exit_code, 2);
}

}  // namespace
}  // namespace orch::test
