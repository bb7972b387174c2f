#include "orch/mutexes/mutex_registry.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include "orch/engine/wait_queue.h"
#include "orch/mutexes/mutex_metrics.h"

namespace orch::mutexes {

namespace asio = boost::asio;
using engine::Clock;
using engine::Error;
using engine::ErrorCode;
using engine::make_error;
using engine::Result;
using engine::TimePoint;
using engine::WaitQueue;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// Names quoted in messages are cut after this many bytes to keep errors on one line.
constexpr std::size_t kMaxQuotedBytes = 80;

// 128 random bits as hex: unguessable, so only the holder can unlock.
std::string new_guard() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    std::random_device device;
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

// Compares guards in constant time: how much of a guard matched must not show in the timing.
bool same_guard(const std::string& held, const std::string& given) {
  return held.size() == given.size() && CRYPTO_memcmp(held.data(), given.data(), held.size()) == 0;
}

std::string quote(const std::string& name) {
  if (name.size() <= kMaxQuotedBytes) return '"' + name + '"';
  return '"' + name.substr(0, kMaxQuotedBytes) + "...\"";
}

std::uint64_t wall_clock_token() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return ns > 0 ? static_cast<std::uint64_t>(ns) : 1;
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

Error invalid(const std::string& field, const std::string& reason) {
  return make_error(ErrorCode::kInvalidArgument, field + ": " + reason);
}

Error stopped_error() { return make_error(ErrorCode::kUnavailable, "orchestrd is shutting down"); }

Result<void> check_name(const std::string& name) {
  if (name.empty()) return invalid("name", "must not be empty");
  if (name.size() > kMaxMutexNameBytes) {
    return invalid("name", "longer than " + std::to_string(kMaxMutexNameBytes) + " bytes");
  }
  return {};
}

// A lease asked for: zero takes `fallback`; longer than the maximum is refused.
Result<Duration> lease_of(Duration asked, Duration fallback, const MutexOptions& options) {
  if (asked < Duration::zero()) return invalid("lease_ttl", "must not be negative");
  if (asked > options.max_lease_ttl) {
    return invalid("lease_ttl", format_duration(asked) + " is longer than the server's maximum " +
                                    format_duration(options.max_lease_ttl) +
                                    " (limits.max_lease_ttl)");
  }
  return asked == Duration::zero() ? fallback : asked;
}

struct Hold {
  std::string guard;
  std::uint64_t token = 0;
  std::string holder;
  TimePoint acquired_at{};
  TimePoint expires_at{};
  Duration ttl{};
};

struct Entry;
struct TenantMutexes;

// One waiting lock() call. It lives in that call's coroutine frame; the registry reaches it
// through Entry::waiters while it is parked, always under the registry's mutex.
struct PendingLock {
  // What the call asks for.
  std::string tenant_name;
  std::string name;
  Duration ttl{};
  std::string holder;
  bool no_wait = false;
  TimePoint started{};
  // What the registry answers, set under its mutex.
  TenantMutexes* tenant = nullptr;
  Entry* entry = nullptr;  // set while parked in entry->waiters
  std::optional<LockGrant> grant;
  std::optional<Error> failure;
  // The call's completion handler while it is parked.
  WaitQueue queue;
};

struct Entry {
  explicit Entry(const asio::any_io_executor& executor) : lease_timer(executor) {}

  std::string value;
  std::uint64_t value_token = 0;
  std::optional<TimePoint> value_updated_at;
  std::uint64_t last_token = 0;
  std::optional<Hold> hold;
  // Invariant: not empty only while `hold` is set (a release hands over at once).
  std::deque<PendingLock*> waiters;
  // Waits for hold->expires_at; touched only under the registry's mutex.
  engine::Timer lease_timer;
};

struct TenantMutexes {
  TenantMutexLimits limits;
  // unique_ptr: parked waiters and timers refer to an entry while the map changes.
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries;
  std::uint32_t held = 0;
  std::uint32_t waiting = 0;

  void update_gauges() const {
    if (!limits.metrics) return;
    limits.metrics->mutexes.Set(static_cast<double>(entries.size()));
    limits.metrics->holders.Set(held);
    limits.metrics->waiters.Set(waiting);
  }
  void count_failure(LockFailure reason) const {
    if (limits.metrics) limits.metrics->lock_failure(reason).Increment();
  }
};

using EntryIt = std::map<std::string, std::unique_ptr<Entry>, std::less<>>::iterator;

}  // namespace

// Every mutex of every tenant, and every state change of one, under one mutex.
struct MutexRegistry::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, MutexOptions opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        last_token(options.first_fencing_token.value_or(wall_clock_token())) {
    // The first acquisition takes last_token + 1.
    if (last_token > 0) --last_token;
    if (options.max_lease_ttl <= Duration::zero()) options.max_lease_ttl = std::chrono::hours(1);
    options.default_lease_ttl = std::min(options.default_lease_ttl, options.max_lease_ttl);
  }

  asio::any_io_executor executor;
  MutexOptions options;
  std::mutex mutex;
  bool stopped = false;
  std::uint64_t last_token;  // the token of the latest acquisition of any mutex
  std::map<std::string, TenantMutexes, std::less<>> tenants;

  TenantMutexes* tenant_locked(std::string_view name) {
    auto it = tenants.find(name);
    return it == tenants.end() ? nullptr : &it->second;
  }

  // Starts a lock() under the mutex: grants or refuses it at once (true), or parks it at the
  // end of the mutex's queue (false).
  bool start_lock_locked(PendingLock& p) {
    if (stopped) {
      p.failure = stopped_error();
      return true;
    }
    TenantMutexes* t = tenant_locked(p.tenant_name);
    if (!t) {
      p.failure =
          make_error(ErrorCode::kNotFound, "tenant " + quote(p.tenant_name) + " is unknown");
      return true;
    }
    p.tenant = t;
    const TimePoint now = Clock::now();
    auto it = expire_if_due_locked(*t, t->entries.find(p.name), now);
    if (it == t->entries.end()) {
      if (t->entries.size() >= t->limits.max_mutexes) {
        t->count_failure(LockFailure::kQuota);
        p.failure =
            make_error(ErrorCode::kResourceExhausted,
                       "max_mutexes: tenant " + quote(t->limits.tenant) + " already has " +
                           std::to_string(t->entries.size()) +
                           " mutexes that are held, waited for or hold a value (its limit)");
        return true;
      }
      it = t->entries.emplace(p.name, std::make_unique<Entry>(executor)).first;
    }
    Entry& e = *it->second;
    if (!e.hold) {
      p.grant = grant_locked(*t, it, p.ttl, p.holder, p.started, now);
      t->update_gauges();
      return true;
    }
    if (p.no_wait) {
      t->count_failure(LockFailure::kBusy);
      p.failure = make_error(ErrorCode::kFailedPrecondition,
                             "mutex " + quote(p.name) + " is held (fencing token " +
                                 std::to_string(e.hold->token) + ") and no_wait is set");
      return true;
    }
    if (t->waiting >= t->limits.max_waiters) {
      t->count_failure(LockFailure::kQuota);
      p.failure =
          make_error(ErrorCode::kResourceExhausted,
                     "max_mutex_waiters: tenant " + quote(t->limits.tenant) + " already has " +
                         std::to_string(t->waiting) + " Lock calls waiting (its limit)");
      return true;
    }
    e.waiters.push_back(&p);
    p.entry = &e;
    ++t->waiting;
    t->update_gauges();
    return false;
  }

  // The cancellation of a parked lock(): takes it out of its mutex's queue. Returns the queue
  // holding its handler, or nullptr when the mutex (or stop()) already answered it.
  WaitQueue* leave_queue_locked(PendingLock& p) {
    if (!p.entry) return nullptr;
    std::erase(p.entry->waiters, &p);
    p.entry = nullptr;
    --p.tenant->waiting;
    p.tenant->update_gauges();
    return &p.queue;
  }

  LockGrant grant_locked(TenantMutexes& t, EntryIt it, Duration ttl, const std::string& holder,
                         TimePoint started, TimePoint now) {
    Entry& e = *it->second;
    Hold hold{new_guard(), ++last_token, holder, now, now + ttl, ttl};
    LockGrant grant{hold.guard, hold.token, e.value, now, hold.expires_at};
    e.last_token = hold.token;
    e.hold = std::move(hold);
    ++t.held;
    if (t.limits.metrics) {
      t.limits.metrics->acquisitions.Increment();
      t.limits.metrics->wait.Observe(seconds(now - started));
    }
    arm_lease_timer_locked(t, it);
    return grant;
  }

  // Ends the current hold and hands the mutex to the first waiter; forgets a mutex left
  // without state. Returns the entry, or end() when it was forgotten.
  EntryIt release_locked(TenantMutexes& t, EntryIt it, TimePoint now) {
    Entry& e = *it->second;
    e.hold.reset();
    e.lease_timer.cancel();
    --t.held;
    if (!e.waiters.empty()) {
      PendingLock* next = e.waiters.front();
      e.waiters.pop_front();
      next->entry = nullptr;
      --t.waiting;
      next->grant = grant_locked(t, it, next->ttl, next->holder, next->started, now);
      if (auto w = next->queue.pop_front()) WaitQueue::complete(std::move(*w), {});
    } else if (e.value.empty()) {
      t.entries.erase(it);
      it = t.entries.end();
    }
    t.update_gauges();
    return it;
  }

  // Ends the hold of `it` if its lease has run out by `now`. Returns the entry, or end() when
  // there is none (any more).
  EntryIt expire_if_due_locked(TenantMutexes& t, EntryIt it, TimePoint now) {
    if (it == t.entries.end()) return it;
    const Entry& e = *it->second;
    if (!e.hold || e.hold->expires_at > now) return it;
    if (t.limits.metrics) t.limits.metrics->lease_expiries.Increment();
    return release_locked(t, it, now);
  }

  void arm_lease_timer_locked(const TenantMutexes& t, EntryIt it) {
    Entry& e = *it->second;
    e.lease_timer.expires_at(e.hold->expires_at);
    // By name and token, never by pointer: the entry may be gone when the timer fires.
    e.lease_timer.async_wait([weak = weak_from_this(), tenant = t.limits.tenant, name = it->first,
                              token = e.hold->token](boost::system::error_code ec) {
      if (ec) return;
      if (auto state = weak.lock()) state->on_lease_timer(tenant, name, token);
    });
  }

  void on_lease_timer(const std::string& tenant, const std::string& name, std::uint64_t token) {
    std::lock_guard lock(mutex);
    if (stopped) return;
    TenantMutexes* t = tenant_locked(tenant);
    if (!t) return;
    auto it = t->entries.find(name);
    if (it == t->entries.end() || !it->second->hold || it->second->hold->token != token) return;
    const TimePoint now = Clock::now();
    if (it->second->hold->expires_at <= now) {
      expire_if_due_locked(*t, it, now);
    } else {
      arm_lease_timer_locked(*t, it);  // refreshed since the timer was set
    }
  }

  // Finds the hold `guard` of mutex `name`, after ending expired leases; counts and explains
  // a refusal.
  Result<EntryIt> held_by_locked(TenantMutexes& t, const std::string& name,
                                 const std::string& guard, TimePoint now, bool unlocking) {
    auto it = expire_if_due_locked(t, t.entries.find(name), now);
    if (it != t.entries.end() && it->second->hold && same_guard(it->second->hold->guard, guard)) {
      return it;
    }
    if (t.limits.metrics) {
      (unlocking ? t.limits.metrics->stale_unlocks : t.limits.metrics->stale_refreshes).Increment();
    }
    const std::string consequence =
        unlocking ? "; nothing was stored" : "; an expired lease cannot be revived";
    if (it == t.entries.end() || !it->second->hold) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "guard does not hold mutex " + quote(name) +
                            ": it is not locked (already unlocked, or the lease expired)" +
                            consequence);
    }
    return make_error(ErrorCode::kFailedPrecondition,
                      "guard does not hold mutex " + quote(name) +
                          ": another lock holds it now (fencing token " +
                          std::to_string(it->second->hold->token) +
                          "); this guard's lease expired or the guard is wrong" + consequence);
  }

  Result<void> unlock(const std::string& tenant, const UnlockArgs& args) {
    if (auto ok = check_name(args.name); !ok) return ok.error();
    if (args.guard.empty()) return invalid("guard", "must not be empty");
    std::lock_guard lock(mutex);
    if (stopped) return stopped_error();
    TenantMutexes* t = tenant_locked(tenant);
    if (!t) return make_error(ErrorCode::kNotFound, "tenant " + quote(tenant) + " is unknown");
    const TimePoint now = Clock::now();
    auto it = held_by_locked(*t, args.name, args.guard, now, /*unlocking=*/true);
    if (!it) return it.error();
    Entry& e = *it.value()->second;
    if (args.value) {
      if (args.value->size() > t->limits.max_value_bytes) {
        return invalid("value", std::to_string(args.value->size()) + " bytes, more than the " +
                                    std::to_string(t->limits.max_value_bytes) +
                                    " of max_mutex_value_bytes; the mutex is still held");
      }
      e.value = *args.value;
      e.value_token = e.hold->token;
      e.value_updated_at = now;
    }
    release_locked(*t, *it, now);
    return {};
  }

  void stop_locked() {
    stopped = true;
    for (auto& [tenant_name, t] : tenants) {
      for (auto& [name, e] : t.entries) {
        e->lease_timer.cancel();
        for (PendingLock* p : e->waiters) {
          p->entry = nullptr;
          p->failure = stopped_error();
          if (auto w = p->queue.pop_front()) WaitQueue::complete(std::move(*w), {});
        }
        e->waiters.clear();
      }
      t.waiting = 0;
      t.update_gauges();
    }
  }
};

MutexRegistry::MutexRegistry(asio::any_io_executor executor, MutexOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {}

MutexRegistry::~MutexRegistry() { stop(); }

void MutexRegistry::add_tenant(TenantMutexLimits limits) {
  std::lock_guard lock(state_->mutex);
  const std::string name = limits.tenant;
  auto [it, added] = state_->tenants.try_emplace(name);
  it->second.limits = std::move(limits);
  it->second.update_gauges();
}

void MutexRegistry::set_max_lease_ttl(Duration max_lease_ttl) {
  if (max_lease_ttl <= Duration::zero()) return;
  std::lock_guard lock(state_->mutex);
  state_->options.max_lease_ttl = max_lease_ttl;
}

// Parks a lock() (see State::start_lock_locked) until the mutex reaches it or it is cancelled.
// A coroutine of its own so that a deadline can race it in a parallel group.
static asio::awaitable<boost::system::error_code> park(MutexRegistry::State* state,
                                                       PendingLock* pending) {
  auto executor = co_await asio::this_coro::executor;
  auto [ec] = co_await engine::async_park(
      state->mutex, &pending->queue,
      [state, pending]() -> std::optional<boost::system::error_code> {
        if (state->start_lock_locked(*pending)) return boost::system::error_code{};
        return std::nullopt;
      },
      [state, pending]() -> WaitQueue* { return state->leave_queue_locked(*pending); }, executor,
      kAwait);
  co_return ec;
}

asio::awaitable<Result<LockGrant>> MutexRegistry::lock(std::string tenant, LockArgs args) {
  // The frame keeps the state alive: a parked wait refers to it.
  const std::shared_ptr<State> state = state_;
  if (auto ok = check_name(args.name); !ok) co_return ok.error();
  if (args.holder.size() > kMaxHolderBytes) {
    co_return invalid("holder", "longer than " + std::to_string(kMaxHolderBytes) + " bytes");
  }
  MutexOptions options;
  {
    std::lock_guard lock(state->mutex);  // a reload may change the limits
    options = state->options;
  }
  auto ttl = lease_of(args.lease_ttl, std::min(options.default_lease_ttl, options.max_lease_ttl),
                      options);
  if (!ttl) co_return ttl.error();
  if (args.wait_timeout && *args.wait_timeout < Duration::zero()) {
    co_return invalid("wait_timeout", "must not be negative");
  }

  PendingLock pending;
  pending.tenant_name = std::move(tenant);
  pending.name = args.name;
  pending.ttl = *ttl;
  pending.holder = std::move(args.holder);
  pending.no_wait = args.no_wait;
  pending.started = Clock::now();

  auto executor = co_await asio::this_coro::executor;
  bool deadline_won = false;
  if (args.no_wait || !args.wait_timeout) {
    co_await park(state.get(), &pending);
  } else {
    engine::Timer deadline(executor);
    deadline.expires_after(*args.wait_timeout);
    auto [order, exception, park_ec, timer_ec] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(executor, park(state.get(), &pending), asio::deferred),
            deadline.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (exception) std::rethrow_exception(exception);
    deadline_won = order[0] == 1 && !timer_ec;
  }

  std::optional<LockGrant> grant;
  std::optional<Error> failure;
  TenantMutexes* t = nullptr;
  {
    std::lock_guard lock(state->mutex);
    grant = std::move(pending.grant);
    failure = std::move(pending.failure);
    t = pending.tenant;
  }
  const auto cancel_state = co_await asio::this_coro::cancellation_state;
  const bool cancelled = cancel_state.cancelled() != asio::cancellation_type::none;
  if (grant && cancelled) {
    // The mutex reached a caller that is gone: pass it on rather than hold it for a lease.
    (void)state->unlock(pending.tenant_name, UnlockArgs{pending.name, grant->guard, std::nullopt});
    grant.reset();
  }
  if (grant) co_return std::move(*grant);
  if (failure) co_return std::move(*failure);
  if (deadline_won) {
    if (t) t->count_failure(LockFailure::kTimeout);
    co_return make_error(ErrorCode::kDeadlineExceeded,
                         "mutex " + quote(pending.name) + " was not acquired within " +
                             format_duration(*args.wait_timeout) + " (wait_timeout)");
  }
  if (t) t->count_failure(LockFailure::kCancelled);
  co_return make_error(ErrorCode::kCancelled, "the Lock call of mutex " + quote(pending.name) +
                                                  " was cancelled while waiting");
}

Result<void> MutexRegistry::unlock(const std::string& tenant, const UnlockArgs& args) {
  return state_->unlock(tenant, args);
}

Result<TimePoint> MutexRegistry::refresh(const std::string& tenant, const RefreshArgs& args) {
  if (auto ok = check_name(args.name); !ok) return ok.error();
  if (args.guard.empty()) return invalid("guard", "must not be empty");
  // Zero means: the same lease as the lock() asked for (hold.ttl, applied below).
  std::lock_guard lock(state_->mutex);
  auto asked = lease_of(args.lease_ttl, Duration::zero(), state_->options);
  if (!asked) return asked.error();
  if (state_->stopped) return stopped_error();
  TenantMutexes* t = state_->tenant_locked(tenant);
  if (!t) return make_error(ErrorCode::kNotFound, "tenant " + quote(tenant) + " is unknown");
  const TimePoint now = Clock::now();
  auto it = state_->held_by_locked(*t, args.name, args.guard, now, /*unlocking=*/false);
  if (!it) return it.error();
  Hold& hold = *it.value()->second->hold;
  hold.expires_at = now + (*asked == Duration::zero() ? hold.ttl : *asked);
  state_->arm_lease_timer_locked(*t, *it);
  return hold.expires_at;
}

Result<MutexSnapshot> MutexRegistry::get(const std::string& tenant, const std::string& name) const {
  if (auto ok = check_name(name); !ok) return ok.error();
  std::lock_guard lock(state_->mutex);
  if (state_->stopped) return stopped_error();
  TenantMutexes* t = state_->tenant_locked(tenant);
  const auto not_found = [&] {
    return make_error(ErrorCode::kNotFound, "no mutex " + quote(name) +
                                                " (never locked, or unlocked with an empty value)");
  };
  if (!t) return not_found();
  auto it = state_->expire_if_due_locked(*t, t->entries.find(name), Clock::now());
  if (it == t->entries.end()) return not_found();
  const Entry& e = *it->second;
  MutexSnapshot s;
  s.name = it->first;
  s.value = e.value;
  if (e.hold) {
    s.holder =
        HolderSnapshot{e.hold->holder, e.hold->token, e.hold->acquired_at, e.hold->expires_at};
  }
  s.fencing_token = e.last_token;
  s.value_fencing_token = e.value_token;
  s.value_updated_at = e.value_updated_at;
  s.waiters = static_cast<std::uint32_t>(e.waiters.size());
  return s;
}

MutexUsage MutexRegistry::usage(const std::string& tenant) const {
  std::lock_guard lock(state_->mutex);
  const TenantMutexes* t = state_->tenant_locked(tenant);
  if (!t) return {};
  return MutexUsage{static_cast<std::uint32_t>(t->entries.size()), t->held, t->waiting};
}

void MutexRegistry::stop() {
  std::lock_guard lock(state_->mutex);
  state_->stop_locked();
}

}  // namespace orch::mutexes
