// Named mutexes on a manual clock: FIFO handover, leases that expire and refuse the stale
// guard, values kept as last committed, cancel-safe waits, fencing tokens, quotas, tenants.
#include "orch/mutexes/mutex_registry.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "orch/mutexes/mutex_metrics.h"

using namespace std::chrono_literals;

namespace orch::mutexes {
namespace {

namespace asio = boost::asio;
using engine::Clock;
using engine::ErrorCode;
using engine::Result;

constexpr std::uint64_t kFirstToken = 1000;

// One lock() call running on the test's io_context.
struct LockCall {
  asio::cancellation_signal cancel;
  std::optional<Result<LockGrant>> result;

  bool done() const { return result.has_value(); }
  bool acquired() const { return result && result->has_value(); }
  const LockGrant& grant() const { return result->value(); }
  ErrorCode code() const { return result->error().code; }
  std::string message() const { return result->error().message; }
};

class MutexRegistryTest : public ::testing::Test {
 protected:
  MutexRegistryTest() {
    Clock::use_manual();
    registry_.emplace(io_.get_executor(), MutexOptions{30s, 10min, kFirstToken});
    registry_->add_tenant({"alpha", 3, 8, 3, &metrics_.add_tenant("alpha")});
    registry_->add_tenant({"beta", 3, 8, 3, &metrics_.add_tenant("beta")});
  }
  ~MutexRegistryTest() override {
    registry_->stop();
    settle();
    calls_.clear();
    registry_.reset();
    settle();
    Clock::use_real();
  }

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

  static LockArgs args(std::string name, Duration ttl = Duration::zero()) {
    LockArgs a;
    a.name = std::move(name);
    a.lease_ttl = ttl;
    return a;
  }

  // Starts a lock() and runs it as far as it goes (acquired, refused, or parked).
  LockCall& start(LockArgs a, std::string tenant = "alpha") {
    calls_.push_back(std::make_unique<LockCall>());
    LockCall* call = calls_.back().get();
    asio::co_spawn(io_, registry_->lock(std::move(tenant), std::move(a)),
                   asio::bind_cancellation_slot(call->cancel.slot(),
                                                [call](std::exception_ptr e, Result<LockGrant> r) {
                                                  if (e) std::rethrow_exception(e);
                                                  call->result = std::move(r);
                                                }));
    settle();
    return *call;
  }
  // A lock() that must succeed at once.
  LockGrant acquire(LockArgs a, std::string tenant = "alpha") {
    LockCall& call = start(std::move(a), std::move(tenant));
    EXPECT_TRUE(call.acquired()) << (call.done() && !call.acquired() ? call.message() : "parked");
    return call.acquired() ? call.grant() : LockGrant{};
  }

  Result<void> unlock(const std::string& name, const std::string& guard,
                      std::optional<std::string> value = std::nullopt,
                      const std::string& tenant = "alpha") {
    auto r = registry_->unlock(tenant, UnlockArgs{name, guard, std::move(value)});
    settle();
    return r;
  }

  MutexSnapshot get(const std::string& name, const std::string& tenant = "alpha") {
    auto s = registry_->get(tenant, name);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return s ? *s : MutexSnapshot{};
  }

  TenantMutexMetrics& alpha_metrics() { return metrics_.add_tenant("alpha"); }

  asio::io_context io_;
  prometheus::Registry prometheus_;
  MutexMetrics metrics_{prometheus_};
  std::optional<MutexRegistry> registry_;
  std::vector<std::unique_ptr<LockCall>> calls_;
};

TEST_F(MutexRegistryTest, FirstLockAcquiresAtOnceWithAnEmptyValueAndTheDefaultLease) {
  const auto now = Clock::now();
  const LockGrant grant = acquire(args("a"));
  EXPECT_EQ(grant.fencing_token, kFirstToken);
  EXPECT_EQ(grant.value, "");
  EXPECT_EQ(grant.guard.size(), 32u);
  EXPECT_EQ(grant.acquired_at, now);
  EXPECT_EQ(grant.lease_expires_at, now + 30s);
  const MutexSnapshot s = get("a");
  ASSERT_TRUE(s.holder.has_value());
  EXPECT_EQ(s.holder->fencing_token, kFirstToken);
  EXPECT_EQ(s.fencing_token, kFirstToken);
  EXPECT_EQ(s.value_fencing_token, 0u);
  EXPECT_FALSE(s.value_updated_at.has_value());
  EXPECT_EQ(alpha_metrics().acquisitions.Value(), 1);
  EXPECT_EQ(alpha_metrics().holders.Value(), 1);
}

TEST_F(MutexRegistryTest, WaitersAreServedInArrivalOrderAndEachSeesTheValueStoredBefore) {
  const LockGrant first = acquire(args("counter"));
  std::vector<LockCall*> waiters;
  for (int i = 0; i < 3; ++i) waiters.push_back(&start(args("counter")));
  for (auto* w : waiters) EXPECT_FALSE(w->done());
  EXPECT_EQ(get("counter").waiters, 3u);
  EXPECT_EQ(alpha_metrics().waiters.Value(), 3);

  ASSERT_TRUE(unlock("counter", first.guard, "1").has_value());
  std::uint64_t last_token = first.fencing_token;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    // Only the longest waiter holds the mutex; the others still wait.
    ASSERT_TRUE(waiters[i]->acquired()) << i;
    for (std::size_t j = i + 1; j < waiters.size(); ++j) EXPECT_FALSE(waiters[j]->done()) << j;
    EXPECT_EQ(waiters[i]->grant().value, std::to_string(i + 1));
    EXPECT_GT(waiters[i]->grant().fencing_token, last_token);
    last_token = waiters[i]->grant().fencing_token;
    ASSERT_TRUE(unlock("counter", waiters[i]->grant().guard, std::to_string(i + 2)).has_value());
  }
  const MutexSnapshot s = get("counter");
  EXPECT_FALSE(s.holder.has_value());
  EXPECT_EQ(s.value, "4");
  EXPECT_EQ(s.value_fencing_token, last_token);
  EXPECT_EQ(s.waiters, 0u);
  EXPECT_EQ(alpha_metrics().waiters.Value(), 0);
  EXPECT_EQ(alpha_metrics().holders.Value(), 0);
}

TEST_F(MutexRegistryTest, ANewcomerDoesNotOvertakeAWaiter) {
  const LockGrant first = acquire(args("a"));
  LockCall& waiter = start(args("a"));
  ASSERT_TRUE(unlock("a", first.guard).has_value());
  LockCall& newcomer = start(args("a"));
  EXPECT_TRUE(waiter.acquired());
  EXPECT_FALSE(newcomer.done());
  ASSERT_TRUE(unlock("a", waiter.grant().guard).has_value());
  EXPECT_TRUE(newcomer.acquired());
}

TEST_F(MutexRegistryTest, AnExpiredLeaseFreesTheMutexAndItsStaleUnlockIsRefused) {
  const LockGrant first = acquire(args("a", 300ms));
  LockCall& waiter = start(args("a"));
  advance(299ms);
  EXPECT_FALSE(waiter.done());
  advance(1ms);
  ASSERT_TRUE(waiter.acquired());
  EXPECT_GT(waiter.grant().fencing_token, first.fencing_token);
  EXPECT_EQ(alpha_metrics().lease_expiries.Value(), 1);

  const auto stale = unlock("a", first.guard, "lost write");
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(stale.error().message.find("nothing was stored"), std::string::npos)
      << stale.error().message;
  EXPECT_EQ(get("a").value, "");  // the stale value was not stored
  ASSERT_TRUE(get("a").holder.has_value());
  EXPECT_EQ(get("a").holder->fencing_token, waiter.grant().fencing_token);
  EXPECT_EQ(alpha_metrics().stale_unlocks.Value(), 1);

  // A late refresh cannot revive the lease either.
  auto late = registry_->refresh("alpha", RefreshArgs{"a", first.guard, 1s});
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(alpha_metrics().stale_refreshes.Value(), 1);
}

TEST_F(MutexRegistryTest, AfterExpiryTheValueStaysAsLastCommitted) {
  const LockGrant first = acquire(args("a"));
  ASSERT_TRUE(unlock("a", first.guard, "v1").has_value());
  const LockGrant second = acquire(args("a", 1s));
  EXPECT_EQ(second.value, "v1");
  advance(1s);
  const MutexSnapshot s = get("a");
  EXPECT_FALSE(s.holder.has_value());
  EXPECT_EQ(s.value, "v1");
  EXPECT_EQ(s.value_fencing_token, first.fencing_token);
  EXPECT_EQ(s.fencing_token, second.fencing_token);
  EXPECT_FALSE(unlock("a", second.guard, "v2").has_value());
  EXPECT_EQ(acquire(args("a")).value, "v1");
}

TEST_F(MutexRegistryTest, AnExpiryIsSeenByTheNextCallEvenBeforeTheTimerRuns) {
  const LockGrant first = acquire(args("a", 1s));
  Clock::advance(1s);  // no poll: the lease timer has not run
  const auto stale = registry_->unlock("alpha", UnlockArgs{"a", first.guard, "x"});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);
  settle();
  EXPECT_EQ(registry_->get("alpha", "a").error().code, ErrorCode::kNotFound);
}

TEST_F(MutexRegistryTest, RefreshExtendsTheLeaseFromNow) {
  const LockGrant grant = acquire(args("a", 1s));
  advance(800ms);
  auto renewed = registry_->refresh("alpha", RefreshArgs{"a", grant.guard, Duration::zero()});
  ASSERT_TRUE(renewed.has_value()) << renewed.error().message;
  EXPECT_EQ(*renewed, Clock::now() + 1s);  // zero: the lease the lock asked for
  advance(800ms);
  ASSERT_TRUE(get("a").holder.has_value());
  renewed = registry_->refresh("alpha", RefreshArgs{"a", grant.guard, 5s});
  ASSERT_TRUE(renewed.has_value());
  EXPECT_EQ(*renewed, Clock::now() + 5s);
  advance(4s);
  EXPECT_TRUE(unlock("a", grant.guard).has_value());
}

TEST_F(MutexRegistryTest, AShorterRefreshBringsTheExpiryForward) {
  const LockGrant grant = acquire(args("a", 10s));
  LockCall& waiter = start(args("a"));
  ASSERT_TRUE(registry_->refresh("alpha", RefreshArgs{"a", grant.guard, 100ms}).has_value());
  advance(100ms);
  EXPECT_TRUE(waiter.acquired());
}

TEST_F(MutexRegistryTest, ACancelledWaiterLeavesTheQueueAndNeverAcquires) {
  const LockGrant first = acquire(args("a"));
  LockCall& gone = start(args("a"));
  LockCall& next = start(args("a"));
  gone.cancel.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(gone.done());
  EXPECT_EQ(gone.code(), ErrorCode::kCancelled);
  EXPECT_EQ(get("a").waiters, 1u);
  ASSERT_TRUE(unlock("a", first.guard).has_value());
  EXPECT_TRUE(next.acquired());
  EXPECT_EQ(alpha_metrics().lock_failure(LockFailure::kCancelled).Value(), 1);
}

TEST_F(MutexRegistryTest, AWaiterCancelledAsTheMutexReachesItPassesItOn) {
  const LockGrant first = acquire(args("a"));
  LockCall& gone = start(args("a"));
  LockCall& next = start(args("a"));
  // The cancellation is on its way when the unlock hands the mutex to `gone`.
  gone.cancel.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(registry_->unlock("alpha", UnlockArgs{"a", first.guard, std::nullopt}).has_value());
  settle();
  ASSERT_TRUE(gone.done());
  EXPECT_EQ(gone.code(), ErrorCode::kCancelled);
  ASSERT_TRUE(next.acquired());
  EXPECT_EQ(get("a").holder->fencing_token, next.grant().fencing_token);
}

TEST_F(MutexRegistryTest, AWaitTimeoutIsDeadlineExceededAndLeavesTheQueue) {
  const LockGrant first = acquire(args("a"));
  LockArgs waiting = args("a");
  waiting.wait_timeout = 500ms;
  LockCall& call = start(waiting);
  advance(499ms);
  EXPECT_FALSE(call.done());
  advance(1ms);
  ASSERT_TRUE(call.done());
  EXPECT_EQ(call.code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(call.message().find("500ms"), std::string::npos) << call.message();
  EXPECT_EQ(get("a").waiters, 0u);
  EXPECT_EQ(get("a").holder->fencing_token, first.fencing_token);
  EXPECT_EQ(alpha_metrics().lock_failure(LockFailure::kTimeout).Value(), 1);
}

TEST_F(MutexRegistryTest, AWaitTimeoutDoesNotMatterWhenTheMutexComesFirst) {
  const LockGrant first = acquire(args("a"));
  LockArgs waiting = args("a");
  waiting.wait_timeout = 500ms;
  LockCall& call = start(waiting);
  advance(200ms);
  ASSERT_TRUE(unlock("a", first.guard).has_value());
  ASSERT_TRUE(call.acquired());
  advance(1s);
  EXPECT_TRUE(get("a").holder.has_value());
}

TEST_F(MutexRegistryTest, NoWaitOnAHeldMutexIsFailedPrecondition) {
  acquire(args("a"));
  LockArgs try_lock = args("a");
  try_lock.no_wait = true;
  LockCall& call = start(try_lock);
  ASSERT_TRUE(call.done());
  EXPECT_EQ(call.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(get("a").waiters, 0u);
  LockArgs free = args("b");
  free.no_wait = true;
  EXPECT_TRUE(start(free).acquired());
}

TEST_F(MutexRegistryTest, FencingTokensGrowWithEveryAcquisitionWhateverEndedTheHold) {
  std::vector<std::uint64_t> tokens;
  LockGrant a = acquire(args("a", 1s));
  tokens.push_back(a.fencing_token);
  tokens.push_back(acquire(args("b")).fencing_token);
  advance(1s);  // a expires
  a = acquire(args("a"));
  tokens.push_back(a.fencing_token);
  ASSERT_TRUE(unlock("a", a.guard).has_value());
  tokens.push_back(acquire(args("a")).fencing_token);
  tokens.push_back(acquire(args("a"), "beta").fencing_token);
  for (std::size_t i = 1; i < tokens.size(); ++i) EXPECT_GT(tokens[i], tokens[i - 1]) << i;
}

TEST(MutexFencing, TokensStartFromTheWallClockSoTheyGrowAcrossRestarts) {
  asio::io_context io;
  const auto wall_ns = [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  };
  auto lock_once = [&io] {
    MutexRegistry registry(io.get_executor(), MutexOptions{});
    registry.add_tenant({"alpha"});
    std::optional<Result<LockGrant>> result;
    LockArgs a;
    a.name = "a";
    asio::co_spawn(io, registry.lock("alpha", a),
                   [&](std::exception_ptr, Result<LockGrant> r) { result = std::move(r); });
    io.restart();
    io.poll();
    EXPECT_TRUE(result && result->has_value());
    return result && result->has_value() ? (*result)->fencing_token : 0;
  };
  const std::uint64_t before = wall_ns();
  const std::uint64_t first_run = lock_once();
  EXPECT_GE(first_run, before);
  std::this_thread::sleep_for(1ms);  // a restart takes far longer than this
  const std::uint64_t second_run = lock_once();
  EXPECT_GT(second_run, first_run);
}

TEST_F(MutexRegistryTest, MaxMutexesCountsOnlyMutexesWithState) {
  const LockGrant a = acquire(args("a"));
  const LockGrant b = acquire(args("b"));
  acquire(args("c"));
  LockCall& refused = start(args("d"));
  ASSERT_TRUE(refused.done());
  EXPECT_EQ(refused.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("max_mutexes"), std::string::npos) << refused.message();
  EXPECT_EQ(alpha_metrics().lock_failure(LockFailure::kQuota).Value(), 1);
  EXPECT_EQ(alpha_metrics().mutexes.Value(), 3);

  ASSERT_TRUE(unlock("a", a.guard).has_value());          // empty value: forgotten
  ASSERT_TRUE(unlock("b", b.guard, "kept").has_value());  // holds a value: still counted
  EXPECT_EQ(registry_->get("alpha", "a").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(registry_->usage("alpha").mutexes, 2u);
  EXPECT_TRUE(start(args("d")).acquired());
  EXPECT_EQ(start(args("e")).code(), ErrorCode::kResourceExhausted);
  // Another tenant's quota is its own.
  EXPECT_TRUE(start(args("e"), "beta").acquired());
}

TEST_F(MutexRegistryTest, AValueLargerThanTheQuotaIsRefusedAndTheHoldStays) {
  const LockGrant grant = acquire(args("a"));
  const auto big = unlock("a", grant.guard, std::string(9, 'x'));
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(big.error().message.find("value: 9 bytes"), std::string::npos) << big.error().message;
  EXPECT_NE(big.error().message.find("max_mutex_value_bytes"), std::string::npos);
  EXPECT_TRUE(get("a").holder.has_value());
  EXPECT_TRUE(unlock("a", grant.guard, std::string(8, 'x')).has_value());
  EXPECT_EQ(get("a").value, std::string(8, 'x'));
}

TEST_F(MutexRegistryTest, MaxWaitersIsPerTenant) {
  acquire(args("a"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(start(args("a")).done());
  LockCall& refused = start(args("a"));
  ASSERT_TRUE(refused.done());
  EXPECT_EQ(refused.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("max_mutex_waiters"), std::string::npos) << refused.message();
  EXPECT_EQ(registry_->usage("alpha").waiters, 3u);
}

TEST_F(MutexRegistryTest, BadArgumentsNameTheField) {
  const auto code_and_message = [this](LockArgs a) {
    LockCall& call = start(std::move(a));
    EXPECT_TRUE(call.done());
    return call.done() && !call.acquired() ? call.message() : std::string("acquired");
  };
  EXPECT_EQ(code_and_message(args("")), "name: must not be empty");
  EXPECT_EQ(code_and_message(args(std::string(257, 'n'))), "name: longer than 256 bytes");
  EXPECT_EQ(code_and_message(args("a", -1s)), "lease_ttl: must not be negative");
  EXPECT_EQ(code_and_message(args("a", 11min)),
            "lease_ttl: 11m is longer than the server's maximum 10m (limits.max_lease_ttl)");
  LockArgs holder = args("a");
  holder.holder = std::string(257, 'h');
  EXPECT_EQ(code_and_message(holder), "holder: longer than 256 bytes");
  const auto refresh = registry_->refresh("alpha", RefreshArgs{"a", "g", 11min});
  ASSERT_FALSE(refresh.has_value());
  EXPECT_EQ(refresh.error().code, ErrorCode::kInvalidArgument);
  const auto no_guard = registry_->unlock("alpha", UnlockArgs{"a", "", std::nullopt});
  ASSERT_FALSE(no_guard.has_value());
  EXPECT_EQ(no_guard.error().message, "guard: must not be empty");
}

TEST_F(MutexRegistryTest, TenantsHaveSeparateNamespaces) {
  const LockGrant alpha = acquire(args("shared"));
  ASSERT_TRUE(unlock("shared", alpha.guard, "alpha's").has_value());
  const LockGrant again = acquire(args("shared"));
  EXPECT_EQ(registry_->get("beta", "shared").error().code, ErrorCode::kNotFound);
  // alpha's guard means nothing to beta, and beta cannot release alpha's hold.
  const auto foreign = unlock("shared", again.guard, "beta's", "beta");
  ASSERT_FALSE(foreign.has_value());
  EXPECT_EQ(foreign.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(get("shared").holder.has_value());
  // beta's "shared" is its own mutex: free, empty.
  const LockGrant beta = acquire(args("shared"), "beta");
  EXPECT_EQ(beta.value, "");
  EXPECT_EQ(get("shared").value, "alpha's");
}

TEST_F(MutexRegistryTest, StopEndsEveryWaitWithUnavailable) {
  acquire(args("a"));
  LockCall& waiter = start(args("a"));
  registry_->stop();
  settle();
  ASSERT_TRUE(waiter.done());
  EXPECT_EQ(waiter.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(start(args("b")).code(), ErrorCode::kUnavailable);
}

TEST_F(MutexRegistryTest, AReloadChangesTheLeaseLimitAndTheQuotasForTheNextCallOnly) {
  const LockGrant held = acquire(args("held", 5min));
  registry_->set_max_lease_ttl(1min);
  LockCall& refused = start(args("a", 2min));
  ASSERT_TRUE(refused.done());
  ASSERT_FALSE(refused.acquired());
  EXPECT_EQ(refused.message(),
            "lease_ttl: 2m is longer than the server's maximum 1m (limits.max_lease_ttl)");
  // The default lease (30s) is cut to a lower maximum.
  registry_->set_max_lease_ttl(10s);
  const auto now = Clock::now();
  EXPECT_EQ(acquire(args("b")).lease_expires_at, now + 10s);
  // A lower max_mutexes refuses new mutexes and keeps the ones there are.
  registry_->add_tenant({"alpha", 1, 8, 3, &metrics_.add_tenant("alpha")});
  EXPECT_EQ(start(args("c")).code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(get("held").holder.has_value());
  EXPECT_TRUE(unlock("held", held.guard).has_value());
}

}  // namespace
}  // namespace orch::mutexes
