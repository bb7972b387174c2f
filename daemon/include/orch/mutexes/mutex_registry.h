#pragma once
/// MutexRegistry: the tenants' named mutexes, each guarding a small value (bytes), held under
/// leases, handed over in FIFO order, and fenced by tokens that only grow.
///
/// A mutex comes into being on its first lock, unlocked with an empty value. A hold is a lease:
/// it ends by unlock() or, at the latest, when the lease expires; then the next waiter gets the
/// mutex and the old guard stops working (its unlock() and refresh() are FAILED_PRECONDITION,
/// and a value it meant to store is not stored). Every acquisition gets a fencing token greater
/// than any token the registry issued before (one counter for all mutexes, seeded from the
/// wall clock so that tokens keep growing across restarts).
///
/// A mutex that nobody holds or waits for and whose value is empty is forgotten when it is
/// unlocked (get() is then NOT_FOUND, as for a name never locked), so a tenant's max_mutexes
/// counts only mutexes with state. One whose last hold expired is kept, so that the late
/// unlock() of that hold is told FAILED_PRECONDITION, until its place is needed for a new
/// mutex of the same tenant.
///
/// Names are per tenant: another tenant's mutex of the same name is a different mutex, and no
/// call can reach it.
///
/// Protobuf-free and gRPC-free: the RPC layer converts requests to these types.
///
/// Time: leases are measured on engine::Clock; a timer per held mutex ends an expired lease
/// (and hands the mutex over) on the registry's executor, and every call also ends expired
/// leases it meets first, so a manual clock moved past an expiry is seen at once.
///
/// Thread-safety: every public member may be called from any thread. One short mutex guards
/// all state and is never held across a co_await; the lease timers are touched only under it.
///
/// Lifetime: lock() coroutines keep the registry's state alive while they run. stop() (and the
/// destructor) completes every waiting lock() with UNAVAILABLE and stops the lease timers.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "orch/common/duration.h"
#include "orch/engine/clock.h"
#include "orch/engine/error.h"

namespace orch::mutexes {

struct TenantMutexMetrics;

/// A tenant's mutex quotas.
struct TenantMutexLimits {
  std::string tenant;
  /// Mutexes with state (held, waited for, or with a value) at once.
  std::uint32_t max_mutexes = 1000;
  /// Largest value an unlock() may store.
  std::uint64_t max_value_bytes = 64 * 1024;
  /// lock() calls waiting at once, over all the tenant's mutexes.
  std::uint32_t max_waiters = 10'000;
  /// Where this tenant's metrics go; may be null.
  TenantMutexMetrics* metrics = nullptr;
};

struct MutexOptions {
  /// The lease of a lock() that asks for none (capped at max_lease_ttl).
  Duration default_lease_ttl = std::chrono::seconds(30);
  /// Longest lease a lock() or refresh() may ask for.
  Duration max_lease_ttl = std::chrono::hours(1);
  /// The first fencing token; nullopt: nanoseconds since the Unix epoch on the wall clock.
  std::optional<std::uint64_t> first_fencing_token;
};

/// Longest mutex name and holder description, in bytes.
inline constexpr std::size_t kMaxMutexNameBytes = 256;
inline constexpr std::size_t kMaxHolderBytes = 256;

struct LockArgs {
  std::string name;
  /// Zero: MutexOptions::default_lease_ttl.
  Duration lease_ttl{0};
  /// nullopt: wait without limit (until acquired or cancelled).
  std::optional<Duration> wait_timeout;
  /// Fail at once with FAILED_PRECONDITION when the mutex is held (try_lock).
  bool no_wait = false;
  /// Who locks, shown by get(); never checked.
  std::string holder;
};

/// What a successful lock() returns.
struct LockGrant {
  /// The secret that unlock() and refresh() need.
  std::string guard;
  std::uint64_t fencing_token = 0;
  std::string value;
  engine::TimePoint acquired_at{};
  engine::TimePoint lease_expires_at{};
};

struct UnlockArgs {
  std::string name;
  std::string guard;
  /// Stored as the mutex's value before the release; nullopt leaves the value unchanged.
  std::optional<std::string> value;
};

struct RefreshArgs {
  std::string name;
  std::string guard;
  /// The new lease runs this long from now. Zero: the lease_ttl of the lock() (after default).
  Duration lease_ttl{0};
};

/// The current hold of a mutex (never its guard).
struct HolderSnapshot {
  std::string holder;
  std::uint64_t fencing_token = 0;
  engine::TimePoint acquired_at{};
  engine::TimePoint lease_expires_at{};
};

/// A consistent copy of one mutex.
struct MutexSnapshot {
  std::string name;
  std::string value;
  /// Set while locked.
  std::optional<HolderSnapshot> holder;
  /// The token of the latest acquisition; 0 if none (never, once a mutex exists).
  std::uint64_t fencing_token = 0;
  /// The token of the hold whose unlock() stored the current value; 0 if none has.
  std::uint64_t value_fencing_token = 0;
  std::optional<engine::TimePoint> value_updated_at;
  std::uint32_t waiters = 0;
};

/// A tenant's mutex counts, for gauges and tests.
struct MutexUsage {
  std::uint32_t mutexes = 0;
  std::uint32_t held = 0;
  std::uint32_t waiters = 0;
};

class MutexRegistry {
 public:
  /// Lease timers run on `executor`.
  MutexRegistry(boost::asio::any_io_executor executor, MutexOptions options);
  ~MutexRegistry();
  MutexRegistry(const MutexRegistry&) = delete;
  MutexRegistry& operator=(const MutexRegistry&) = delete;

  /// Registers a tenant, or replaces the limits of one registered before (a configuration
  /// reload: held mutexes and waiters stay; the new limits apply to the next call).
  void add_tenant(TenantMutexLimits limits);
  /// Changes the longest lease a lock() or refresh() may ask for (from the next call on).
  void set_max_lease_ttl(Duration max_lease_ttl);

  /// Acquires the mutex, behind every earlier waiter. INVALID_ARGUMENT for a bad name, holder
  /// or lease_ttl; RESOURCE_EXHAUSTED when a new mutex or a new waiter does not fit the
  /// tenant's quota; FAILED_PRECONDITION with no_wait when the mutex is held;
  /// DEADLINE_EXCEEDED when wait_timeout passes first; UNAVAILABLE after stop().
  /// Cancellation (the caller's slot, any type): a waiting call leaves the queue and completes
  /// with CANCELLED, never holding the mutex, also when the mutex reached it in the same
  /// instant (it passes it on to the next waiter).
  boost::asio::awaitable<engine::Result<LockGrant>> lock(std::string tenant, LockArgs args);

  /// Stores the value (if given) and releases the mutex to the next waiter. NOT_FOUND when the
  /// tenant has no mutex of that name; FAILED_PRECONDITION when the guard does not hold it
  /// (already unlocked, lease expired, or a wrong guard): nothing is stored then;
  /// INVALID_ARGUMENT when the value exceeds max_value_bytes (the hold stays).
  engine::Result<void> unlock(const std::string& tenant, const UnlockArgs& args);

  /// Extends the lease of the hold of `guard`; returns the new expiry. Errors as unlock(), and
  /// INVALID_ARGUMENT for a lease_ttl beyond max_lease_ttl. An expired lease cannot be revived.
  engine::Result<engine::TimePoint> refresh(const std::string& tenant, const RefreshArgs& args);

  /// The mutex's value and state, without locking it. NOT_FOUND when the tenant has no mutex
  /// of that name.
  engine::Result<MutexSnapshot> get(const std::string& tenant, const std::string& name) const;

  /// The tenant's counts (zero for an unknown tenant).
  MutexUsage usage(const std::string& tenant) const;

  /// Ends every wait with UNAVAILABLE and stops the lease timers; later calls are UNAVAILABLE.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace orch::mutexes
