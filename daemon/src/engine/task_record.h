#pragma once
// Engine internals: the state kept per task and per tenant.
//
// A task costs little until it runs: a queued task is one TaskRecord (an intrusive entry of its
// tenant's semaphore queue) and one slot of the tenant's task table. Its strand, cancellation
// signal and coroutine (RunState) are made when it gets its permit; a root `sleep` runs as a
// bare timer, and a root `worker` without retries or deadlines as a bare attempt of its hub
// (bare_worker.h), with no coroutine at all. Rarely used fields (name, labels, idempotency key) and
// the result live out of line.

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/strand.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "orch/engine/engine.h"
#include "orch/engine/task_id.h"
#include "orch/engine/tenant_semaphore.h"
#include "orch/engine/wait_queue.h"

namespace orch::metrics {
struct TenantMetrics;
}
namespace orch::workers {
class WorkerHub;
}

namespace orch::engine {

class WatchImpl;
struct TenantState;
struct TerminalLink;

/// What a task owns only while it runs (made at grant time, or early by an abort that meets a
/// task whose grant is on its way).
struct RunState {
  std::optional<boost::asio::strand<boost::asio::any_io_executor>> strand;  // coroutine tasks
  boost::asio::cancellation_signal cancel;  // owned by the strand
  std::string cancel_reason;                // set before `cancel` is emitted
  std::optional<Permit> root_permit;  // a one-leaf task's permit, returned after it is terminal
  std::optional<Timer> timer;         // a root sleep's timer; guarded by the engine's mutex
  bool granted = false;               // the first permit is already held (lazily started task)
  // A root worker run without a coroutine (bare_worker.h): its hub, its attempt there once
  // submitted (0 before; guarded by the engine's mutex) and the attempt's fencing token.
  workers::WorkerHub* hub = nullptr;
  std::uint64_t attempt = 0;
  std::uint64_t fencing_token = 0;
};

/// What a terminal task keeps: when it ended and its result tree.
struct TaskEnd {
  TimePoint finished{};
  NodeResult result;
};

/// Name, labels and idempotency key: empty for most tasks, so out of line.
struct TaskExtras {
  std::string name;
  Labels labels;
  std::string idempotency_key;
};

// Laid out to stay within 120 bytes (a 128-byte heap chunk): the small fields fill the
// semaphore entry's tail padding.
struct TaskRecord : PermitRequest {
  TaskRecord(std::uint64_t id, TenantState& tenant, SpawnArgs&& args)
      : kind(args.spec.kind), id(id), tenant(tenant) {
    if (!args.name.empty() || !args.labels.empty() || !args.idempotency_key.empty()) {
      extras.reset(new TaskExtras{std::move(args.name), std::move(args.labels),
                                  std::move(args.idempotency_key)});
    }
    if (kind == NodeKind::kSleep) {
      sleep_for = args.spec.duration;  // a bare sleep: its Node is made only when read
    } else {
      spec = std::make_shared<const Node>(std::move(args.spec));
    }
  }

  std::string id_text() const { return TaskIdGenerator::encode(id); }
  const std::string& name() const { return extras ? extras->name : empty_string(); }
  const Labels& labels() const { return extras ? extras->labels : empty_labels(); }
  const std::string& idempotency_key() const {
    return extras ? extras->idempotency_key : empty_string();
  }
  /// Why the task was cancelled, once it was asked to stop (read on the task's strand).
  const std::string& cancel_reason() const { return run ? run->cancel_reason : empty_string(); }
  /// The spec as a Node (made anew for a bare sleep).
  std::shared_ptr<const Node> spec_node() const {
    if (spec) return spec;
    return std::make_shared<const Node>(make_node(NodeKind::kSleep, sleep_for));
  }
  bool bare_sleep() const { return !spec; }
  TimePoint finished() const { return end ? end->finished : TimePoint{}; }

  static const std::string& empty_string() {
    static const std::string empty;
    return empty;
  }
  static const Labels& empty_labels() {
    static const Labels empty;
    return empty;
  }

 
  const NodeKind kind;               // fixed at spawn
  State state = State::kPending;     // guarded by the engine's mutex
  mutable std::atomic<std::uint32_t> refs{0};  // intrusive reference count (TaskPtr)

  // Fixed at spawn.
  const std::uint64_t id;
  TenantState& tenant;
  Duration sleep_for{};                      // a bare sleep's duration
  std::shared_ptr<const Node> spec;          // null for a bare sleep
  std::unique_ptr<const TaskExtras> extras;  // null when all empty

  // Guarded by the engine's mutex.
  TimePoint created{};
  TimePoint started{};              // zero until running
  std::unique_ptr<TaskEnd> end;     // set once terminal
  TerminalLink* observers = nullptr;   // joins and selects waiting for this task
  std::unique_ptr<RunState> run;       // made when it gets its permit (or an abort meets it)
};

inline void intrusive_ptr_add_ref(const TaskRecord* r) {
  r->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void intrusive_ptr_release(const TaskRecord* r) {
  if (r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete r;
}
using TaskPtr = boost::intrusive_ptr<TaskRecord>;

/// A tenant's tasks in id order (ids grow with every spawn, so admission appends): one slot of
/// 16 bytes per task, found by binary search. Removed tasks leave a hole until compacted.
class TaskTable {
 public:
  struct Slot {
    std::uint64_t id;
    TaskPtr record;  // null: removed
  };

  void append(TaskPtr record) {
    const std::uint64_t id = record->id;
    slots_.push_back(Slot{id, std::move(record)});
    ++size_;
  }
  TaskRecord* find(std::uint64_t id) const {
    auto it = lower(id);
    return it != slots_.end() && it->id == id ? it->record.get() : nullptr;
  }
  void erase(std::uint64_t id) {
    auto it = lower(id);
    if (it == slots_.end() || it->id != id || !it->record) return;
    it->record.reset();
    --size_;
    while (!slots_.empty() && !slots_.front().record) slots_.pop_front();
    while (!slots_.empty() && !slots_.back().record) slots_.pop_back();
    if (slots_.size() > 64 && slots_.size() > 2 * size_) {
      std::erase_if(slots_, [](const Slot& s) { return !s.record; });
    }
  }
  std::size_t size() const { return size_; }
  const std::deque<Slot>& slots() const { return slots_; }

 private:
  // The first slot whose id is not below `id`. A join or a batch looks up tasks spawned
  // together, in spawn order, and they sit in consecutive slots: the slot after the last one
  // found is tried before a binary search.
  template <typename Table>
  static auto lower(Table& table, std::uint64_t id) {
    auto& slots = table.slots_;
    const std::size_t hint = table.hint_;
    if (hint < slots.size() && slots[hint].id == id) {
      table.hint_ = hint + 1;
      return slots.begin() + static_cast<std::ptrdiff_t>(hint);
    }
    auto it = std::lower_bound(slots.begin(), slots.end(), id,
                               [](const Slot& s, std::uint64_t v) { return s.id < v; });
    table.hint_ = static_cast<std::size_t>(it - slots.begin()) + 1;
    return it;
  }
  std::deque<Slot>::const_iterator lower(std::uint64_t id) const { return lower(*this, id); }
  std::deque<Slot>::iterator lower(std::uint64_t id) { return lower(*this, id); }

  std::deque<Slot> slots_;
  std::size_t size_ = 0;
  mutable std::size_t hint_ = 0;  // where the next lookup looks first (under the engine's mutex)
};

struct TenantState {
  explicit TenantState(TenantSettings s) : settings(std::move(s)), semaphore(settings.max_concurrency) {}

  /// The http policy of the next attempt (a reload may replace it).
  std::shared_ptr<const work::HttpPolicy> http_policy() const {
    std::lock_guard lock(http_mutex);
    return settings.http;
  }

  TenantSettings settings;  // name fixed; the rest guarded by the engine's mutex, http as above
  mutable std::mutex http_mutex;
  TenantSemaphore semaphore;
  metrics::TenantMetrics* metrics = nullptr;

  // Guarded by the engine's mutex.
  TaskTable tasks;                                            // ids sort by spawn time
  std::unordered_map<std::string, std::uint64_t> idempotency;  // key -> id
  std::uint32_t live = 0;                                     // not yet terminal
  std::uint32_t pending = 0;
  std::uint32_t running = 0;
  std::vector<std::weak_ptr<WatchImpl>> watches;
};

}  // namespace orch::engine
