#pragma once
/// TickHub: one timer for many timelines. Each entry is armed with the instant it is next due;
/// the hub keeps every armed entry in one due-list (a binary heap by deadline) and waits on one
/// timer for the earliest. When it wakes it fires every entry due by then, in deadline order,
/// from that one wake-up: no timer, strand hand-off or coroutine resumption per entry.
///
/// An entry's on_due() runs on one of the executor's threads, never two at once (the hub's
/// wake-ups are serialised), and returns the instant it is next due (or nullopt: it waits for
/// an arm()). It must be short (short mutexes only, never a wait), since
/// every other entry due at that moment fires after it.
///
/// Wake-ups are "at or after": an entry may be woken when nothing of its own is due (it was
/// armed for an earlier instant and its owner moved the deadline later meanwhile); on_due() then
/// checks its own state and returns the deadline it really has. This is what makes arm() safe
/// from any thread without racing a wake-up in progress.
///
/// Timing follows the engine Clock, so a manual clock (tests) drives the hub like any Timer:
/// Clock::advance() followed by io_context::poll() fires what is due.
///
/// Thread-safety: arm(), disarm() and stop() may be called from any thread (one short mutex,
/// never held while an entry runs). Lifetime: the hub holds the entries it has armed (a
/// shared_ptr) until they fire, are disarmed or the hub stops; its pending wait holds only the
/// hub's internals, so the hub itself may be destroyed at any time (it stops first).

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "orch/engine/clock.h"

namespace orch::schedules {

class TickHub {
  struct Impl;

 public:
  /// What the hub fires. Derive from it; arm it through a shared_ptr.
  class Entry {
   public:
    virtual ~Entry() = default;
    /// Runs (never twice at once) at or after the instant it was armed for (`now` is the Clock
    /// when it runs). Returns the instant it is next due (a past one fires in the same pass
    /// after every other entry already due), or nullopt to wait for the next arm().
    virtual std::optional<engine::TimePoint> on_due(engine::TimePoint now) = 0;

   private:
    friend struct TickHub::Impl;
    // Guarded by the hub's mutex: the due-list item that is current for this entry (0: none),
    // and the instant it is due.
    std::uint64_t armed_ = 0;
    engine::TimePoint armed_at_{};
  };

  explicit TickHub(boost::asio::any_io_executor executor);
  /// Stops (see stop()).
  ~TickHub();
  TickHub(const TickHub&) = delete;
  TickHub& operator=(const TickHub&) = delete;

  /// Makes sure `entry` is woken at or before `deadline` (an entry armed for an earlier instant
  /// stays armed for that one). No effect after stop().
  void arm(const std::shared_ptr<Entry>& entry, engine::TimePoint deadline);
  /// `entry` is not woken again until the next arm(); the hub lets go of it.
  void disarm(Entry& entry);
  /// Lets go of every entry and never fires again; arm() is a no-op from now on. Entries
  /// running at this moment finish.
  void stop();

  /// Entries armed now (for tests and metrics).
  std::size_t armed() const;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace orch::schedules
