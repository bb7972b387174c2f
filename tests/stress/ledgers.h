#pragma once
/// What the stress run expects, written down as it goes, and checked at the end.
///
/// Every acknowledged spawn, every accepted channel message, every mutex hold is entered in a
/// ledger by the thread that got the acknowledgement; every observation (a Join answer, a Watch
/// event, a delivery, an Ack) is entered by the thread that made it. The checks compare the two
/// once the load has stopped:
///
///   TaskLedger     every acknowledged task reached exactly one terminal state, the one its
///                  spec promises (a sleep succeeds, an aborted task is CANCELLED, a worker task
///                  answers its own payload however many workers were killed under it).
///   MpscLedger     at-least-once: every accepted message acknowledged exactly once;
///                  at-most-once: no message delivered twice, and no more missing than the
///                  receivers that went away could have carried off (docs/channels.md).
///   PipeLedger     send/recv task nodes: every message a send task put in was taken by exactly
///                  one recv task, or is still in the channel.
///   BroadcastCheck one subscriber's stream: every sequence number is either delivered or
///                  counted in a `lagged` event, in order.
///   WatchLedger    each version carries the value that was sent with it; readers only move
///                  forward and end on the latest.
///
/// Thread-safety: every member of every ledger may be called from any thread.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "orch/v1/channels.pb.h"
#include "orch/v1/tasks.pb.h"

namespace orch::stress {

/// Problems found, each with a line saying what and where; counted by kind for the summary.
class Findings {
 public:
  void add(const std::string& kind, const std::string& detail);
  std::size_t count(const std::string& kind) const;
  std::size_t total() const;
  /// "kind: N" per kind, and the first few details of each.
  std::string describe(std::size_t details_per_kind = 5) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> items_;
};

/// What a task's outcome must be.
enum class Expect {
  kSucceeded,   // sleeps and compositions of sleeps
  kCancelled,   // aborted, or the loser of a select with abort_losers
  kWorkerEcho,  // a worker node whose workers answer the payload: SUCCEEDED with it
  kPipeSend,    // a send node: SUCCEEDED, its payload is then in the pipe channel
  kPipeRecv,    // timeout{recv}: SUCCEEDED with a payload; TIMED_OUT or aborted: took nothing
  kShutdown,    // spawned around SIGTERM: SUCCEEDED, or CANCELLED because the daemon stops
};

class PipeLedger;

class TaskLedger {
 public:
  TaskLedger(Findings& findings, PipeLedger* pipe) : findings_(findings), pipe_(pipe) {}

  /// A Spawn (or SpawnBatch) answered with `id`.
  void acked(const std::string& id, Expect expect, const std::string& payload = {});
  /// A task as some call saw it; non-terminal states and ids never acked here are kept aside
  /// (a tenant-wide Watch can see a task end before its spawner records the ack).
  void observe(const orch::v1::TaskInfo& task);
  /// The call meant to observe `id` failed; `after_sigterm` says it began after the daemon was
  /// told to stop.
  void call_failed(const std::string& id, int code, const std::string& message, bool after_sigterm);

  std::vector<std::string> unobserved() const;
  std::uint64_t acked_count() const;
  std::uint64_t terminal_count() const;
  /// Acked tasks without a terminal state, classified: those whose last call failed with
  /// UNAVAILABLE after SIGTERM are "unavailable", the rest are losses (entered in Findings).
  struct Resolution {
    std::uint64_t terminal = 0;
    std::uint64_t unavailable_after_sigterm = 0;
    std::uint64_t lost = 0;
    std::map<std::string, std::uint64_t> states;  // terminal state name -> tasks
  };
  Resolution resolve(bool shutdown_phase);

 private:
  struct Entry {
    Expect expect = Expect::kSucceeded;
    std::string payload;
    std::optional<int> state;  // terminal state, once seen
    std::optional<int> failed_code;
    std::string failed_message;
    bool failed_after_sigterm = false;
  };
  void check_locked(const std::string& id, Entry& entry, const orch::v1::TaskInfo& task);

  Findings& findings_;
  PipeLedger* pipe_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, orch::v1::TaskInfo> early_;  // terminal before acked
};

/// Messages of one MPSC channel, keyed by payload (every payload the run sends is unique).
class MpscLedger {
 public:
  MpscLedger(std::string channel, bool at_least_once, Findings& findings)
      : channel_(std::move(channel)), at_least_once_(at_least_once), findings_(findings) {}

  /// A Send answered: the first `accepted` payloads went in from `first_sequence` on.
  void sent(const std::vector<std::string>& payloads, std::uint32_t accepted,
            std::uint64_t first_sequence);
  /// A Send whose answer never came (the caller went away): each payload may or may not be in.
  void sent_unknown(const std::vector<std::string>& payloads);
  /// A message handed to a receiver.
  void delivered(const orch::v1::ChannelMessage& message);
  /// An Ack of a delivery of `payload` answered OK.
  void acked(const std::string& payload);
  /// A Recv or Subscribe that went away holding up to `messages` messages the daemon may have
  /// sent (at-most-once lets those be lost).
  void may_have_lost(std::uint64_t messages) { may_lose_ += messages; }

  struct Summary {
    std::uint64_t accepted = 0;
    std::uint64_t unknown = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t redeliveries = 0;  // delivery_count > 1
    std::uint64_t acks = 0;
    std::uint64_t missing = 0;       // accepted, never delivered (or never acked)
    std::uint64_t duplicates = 0;    // at-most-once delivered twice / at-least-once acked twice
    std::uint64_t allowed_loss = 0;  // at-most-once: what cancelled receivers could carry off
  };
  /// Checks everything and enters problems in Findings.
  Summary check();

 private:
  struct Message {
    bool accepted = false;
    bool unknown = false;
    std::uint64_t sequence = 0;
    std::uint32_t deliveries = 0;
    std::uint32_t acks = 0;
  };
  std::string channel_;
  bool at_least_once_;
  Findings& findings_;
  std::mutex mutex_;
  std::unordered_map<std::string, Message> messages_;
  std::uint64_t deliveries_ = 0;
  std::uint64_t redeliveries_ = 0;
  std::atomic<std::uint64_t> may_lose_{0};
};

/// The `pipe` channel that only send and recv task nodes use.
class PipeLedger {
 public:
  explicit PipeLedger(Findings& findings) : findings_(findings) {}
  void sent(const std::string& payload);
  void received(const std::string& payload, const std::string& how);
  struct Summary {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t missing = 0;
    std::uint64_t duplicates = 0;
  };
  Summary check();

 private:
  Findings& findings_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint32_t> sent_;
  std::unordered_map<std::string, std::uint32_t> received_;
};

/// One broadcast subscription's stream, checked event by event.
class BroadcastCheck {
 public:
  /// A message event; false (and `problem` set) when its sequence leaves a gap that no lagged
  /// event accounted for, or goes backwards.
  bool message(std::uint64_t sequence, std::string& problem);
  void lagged(std::uint64_t skipped) {
    pending_skip_ += skipped;
    lagged_ += skipped;
  }
  /// The sequence the stream is complete up to (0 before the first message), counting lagged
  /// messages at its end.
  std::uint64_t complete_up_to() const { return next_ == 0 ? 0 : next_ - 1 + pending_skip_; }
  std::uint64_t received() const { return received_; }
  std::uint64_t lagged_total() const { return lagged_; }

 private:
  std::uint64_t next_ = 0;  // the sequence expected next; 0 before the first message
  std::uint64_t pending_skip_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t lagged_ = 0;
};

/// Versions of the watch channel and the values sent with them.
class WatchLedger {
 public:
  explicit WatchLedger(Findings& findings) : findings_(findings) {}
  void sent(std::uint64_t version, const std::string& value);
  /// A value a reader saw; checked against what was sent, at the end.
  void seen(std::uint64_t version, const std::string& value);
  std::uint64_t check();  // values read and compared

 private:
  Findings& findings_;
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::string> sent_;
  std::vector<std::pair<std::uint64_t, std::string>> seen_;
};

/// Task state name without the TASK_STATE_ prefix.
std::string state_name(int state);

}  // namespace orch::stress
