#include "orch/workers/worker_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "worker_metrics.h"

namespace orch::workers {

using engine::Clock;
using engine::FailureReason;
using engine::TimePoint;
using engine::WaitQueue;

namespace {

constexpr std::array<std::string_view, kRefusalReasonCount> kRefusalNames{
    "unknown_assignment", "mismatch", "cancelled", "already_reported", "too_large"};

constexpr std::string_view kAssignmentPrefix = "asg-";

std::string assignment_name(WorkerHub::AttemptId id) {
  return std::string(kAssignmentPrefix) + std::to_string(id);
}

std::optional<WorkerHub::AttemptId> parse_assignment(std::string_view name) {
  if (!name.starts_with(kAssignmentPrefix)) return std::nullopt;
  name.remove_prefix(kAssignmentPrefix.size());
  WorkerHub::AttemptId id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc{} || end != name.data() + name.size()) return std::nullopt;
  return id;
}

}  // namespace

void WorkerHub::wake_all(Wakes& wakes) {
  // Results first: their callbacks answer the callers waiting for the tasks.
  for (auto& [done, result] : wakes.done) done(std::move(result));
  // A sink may appear more than once (never twice in a row); waking twice is harmless.
  for (const auto& sink : wakes.sinks) sink->wake();
  for (auto& w : wakes.waiters) WaitQueue::complete(std::move(w), {});
}

std::string_view refusal_reason_name(RefusalReason reason) {
  return kRefusalNames[static_cast<std::size_t>(reason)];
}

struct WorkerHub::Attempt {
  enum class Phase { kQueued, kRunning, kDone };
  AttemptRequest request;
  std::string assignment_id;
  Phase phase = Phase::kQueued;
  TimePoint submitted;
  TimePoint started;
  TimePoint last_heartbeat;
  std::string worker_id;
  std::optional<AttemptResult> result;
  WaitQueue waiters;
  AttemptDone done;  // set: the result goes here, not to take_result()
};

struct WorkerHub::Worker {
  std::string id;
  std::string name;
  std::vector<std::string> queues;
  std::uint32_t slots = 1;
  std::set<AttemptId> in_flight;
  std::deque<Outgoing> outbox;
  std::size_t queued_refusals = 0;
  std::shared_ptr<WorkerSink> sink;
  std::uint64_t last_assigned = 0;
  TimePoint last_seen;
  // Given-up or reported assignments, at most remembered_per_worker: a ring whose oldest entry
  // is at closed_next once it is full. Looked up only to refuse a report, so a scan will do.
  std::vector<std::pair<AttemptId, RefusalReason>> closed;
  std::size_t closed_next = 0;

  std::optional<RefusalReason> closed_reason(std::optional<AttemptId> id) const {
    if (!id) return std::nullopt;
    const auto it = std::find_if(closed.begin(), closed.end(), [&](const auto& c) { return c.first == *id; });
    if (it == closed.end()) return std::nullopt;
    return it->second;
  }

  bool serves(std::string_view queue) const {
    return std::find(queues.begin(), queues.end(), queue) != queues.end();
  }
  bool has_free_slot() const { return in_flight.size() < slots; }
};

WorkerHub::WorkerHub(std::string tenant, Options options, WorkerMetrics* metrics)
    : tenant_(std::move(tenant)), options_(options), metrics_(metrics) {}

WorkerHub::~WorkerHub() = default;

// ---------------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------------

std::optional<std::string> WorkerHub::connect(std::string name, std::vector<std::string> queues,
                                              std::uint32_t slots,
                                              std::shared_ptr<WorkerSink> sink) {
  Wakes wakes;
  std::string id;
  {
    std::lock_guard lock(mutex_);
    if (workers_.size() >= options_.max_workers) return std::nullopt;
    id = "w-" + std::to_string(++last_worker_);
    auto worker = std::make_unique<Worker>();
    worker->id = id;
    worker->name = std::move(name);
    worker->queues = std::move(queues);
    worker->slots = slots;
    worker->sink = std::move(sink);
    worker->last_seen = Clock::now();
    Worker& w = *worker;
    workers_.emplace(id, std::move(worker));
    std::string queue_list;
    for (const auto& q : w.queues) queue_list += (queue_list.empty() ? "" : ",") + q;
    spdlog::info("tenant {}: worker {} connected (queues: {}, slots: {})", tenant_,
                 describe_locked(id), queue_list, slots);
    fill_locked(w, wakes);
    update_gauges_locked();
  }
  wake_all(wakes);
  return id;
}

void WorkerHub::disconnect(const std::string& worker_id) {
  Wakes wakes;
  {
    std::lock_guard lock(mutex_);
    auto it = workers_.find(worker_id);
    if (it == workers_.end()) return;
    Worker& w = *it->second;
    const std::string who = describe_locked(worker_id);
    for (AttemptId id : w.in_flight) {
      auto a = attempts_.find(id);
      if (a == attempts_.end()) continue;
      --running_;
      finish_locked(id, *a->second,
                    AttemptResult{false, "worker " + who + " disconnected while running the attempt",
                                  FailureReason::kWorkerLost, true, worker_id},
                    wakes);
    }
    spdlog::info("tenant {}: worker {} disconnected ({} assignments lost)", tenant_, who,
                 w.in_flight.size());
    workers_.erase(it);
    update_gauges_locked();
  }
  wake_all(wakes);
}

void WorkerHub::set_slots(const std::string& worker_id, std::uint32_t slots) {
  Wakes wakes;
  {
    std::lock_guard lock(mutex_);
    auto it = workers_.find(worker_id);
    if (it == workers_.end()) return;
    it->second->slots = slots;
    it->second->last_seen = Clock::now();
    fill_locked(*it->second, wakes);
  }
  wake_all(wakes);
}

void WorkerHub::heartbeat(const std::string& worker_id,
                          const std::vector<std::string>& assignment_ids) {
  std::lock_guard lock(mutex_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  const TimePoint now = Clock::now();
  it->second->last_seen = now;
  for (const auto& name : assignment_ids) {
    auto id = parse_assignment(name);
    if (!id || !it->second->in_flight.contains(*id)) continue;
    auto a = attempts_.find(*id);
    if (a != attempts_.end()) a->second->last_heartbeat = now;
  }
}

void WorkerHub::report(const std::string& worker_id, Report report) {
  std::vector<Report> one;
  one.push_back(std::move(report));
  this->report(worker_id, std::move(one));
}

void WorkerHub::report(const std::string& worker_id, std::vector<Report> reports) {
  Wakes wakes;
  {
    std::lock_guard lock(mutex_);
    auto wit = workers_.find(worker_id);
    if (wit == workers_.end()) return;
    Worker& w = *wit->second;
    w.last_seen = Clock::now();
    for (auto& report : reports) report_locked(w, std::move(report), wakes);
    update_gauges_locked();
  }
  wake_all(wakes);
}

void WorkerHub::report_locked(Worker& w, Report report, Wakes& wakes) {
  const std::string& worker_id = w.id;
  {
    const auto id = parse_assignment(report.assignment_id);
    if (!id || !w.in_flight.contains(*id)) {
      if (const auto closed = w.closed_reason(id)) {
        const RefusalReason why = *closed;
        refuse_locked(w, report.assignment_id, why,
                      why == RefusalReason::kCancelled
                          ? "the assignment was cancelled or timed out before this report"
                          : "the assignment was already reported; the first report stands",
                      wakes);
      } else {
        refuse_locked(w, report.assignment_id, RefusalReason::kUnknownAssignment,
                      "no assignment '" + report.assignment_id.substr(0, 64) +
                          "' is outstanding on this stream",
                      wakes);
      }
    } else {
      Attempt& a = *attempts_.at(*id);
      const auto& r = a.request;
      if (report.task_id != r.task_id || report.attempt != r.attempt ||
          report.fencing_token != r.fencing_token) {
        refuse_locked(w, report.assignment_id, RefusalReason::kMismatch,
                      "task id, attempt or fencing token does not match the assignment (task " +
                          r.task_id + ", attempt " + std::to_string(r.attempt) +
                          ", fencing token " + std::to_string(r.fencing_token) + ")",
                      wakes);
      } else {
        w.in_flight.erase(*id);
        --running_;
        AttemptResult result;
        result.worker_id = worker_id;
        if (report.output.size() > options_.max_output_bytes) {
          const std::string what = report.succeeded ? "result" : "error message";
          const std::string message = "output_too_large: the worker's " + what + " of " +
                                      std::to_string(report.output.size()) +
                                      " bytes exceeds max_output_bytes (" +
                                      std::to_string(options_.max_output_bytes) + ")";
          refuse_locked(w, report.assignment_id, RefusalReason::kTooLarge, message, wakes);
          result = AttemptResult{false, message, FailureReason::kWorkerError, false, worker_id};
        } else if (report.succeeded) {
          result = AttemptResult{true, std::move(report.output), FailureReason::kWorkerError, true,
                                 worker_id};
        } else {
          std::string message = "worker " + describe_locked(worker_id) + " reported an error";
          if (!report.reason.empty()) message += " (" + report.reason.substr(0, 64) + ")";
          message += ": " + report.output;
          result = AttemptResult{false, std::move(message), FailureReason::kWorkerError,
                                 report.retryable, worker_id};
        }
        remember_locked(w, *id, RefusalReason::kAlreadyReported);
        finish_locked(*id, a, std::move(result), wakes);
        fill_locked(w, wakes);
      }
    }
  }
}

std::optional<Outgoing> WorkerHub::next_message(const std::string& worker_id) {
  std::lock_guard lock(mutex_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second->outbox.empty()) return std::nullopt;
  Worker& w = *it->second;
  Outgoing out = std::move(w.outbox.front());
  w.outbox.pop_front();
  if (std::holds_alternative<Refusal>(out)) --w.queued_refusals;
  return out;
}

void WorkerHub::close_all(const std::string& why) { close_silent(TimePoint::max(), why); }

void WorkerHub::close_silent(TimePoint before, const std::string& why) {
  std::vector<std::shared_ptr<WorkerSink>> sinks;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, w] : workers_) {
      if (w->last_seen < before) sinks.push_back(w->sink);
    }
  }
  for (const auto& sink : sinks) sink->close(why);
}

// ---------------------------------------------------------------------------------------------
// Attempts
// ---------------------------------------------------------------------------------------------

WorkerHub::AttemptId WorkerHub::submit(AttemptRequest request) { return submit(std::move(request), {}); }

WorkerHub::AttemptId WorkerHub::submit(AttemptRequest request, AttemptDone done) {
  Wakes wakes;
  AttemptId id = 0;
  {
    std::lock_guard lock(mutex_);
    id = ++last_attempt_;
    auto attempt = std::make_unique<Attempt>();
    attempt->request = std::move(request);
    attempt->assignment_id = assignment_name(id);
    attempt->submitted = Clock::now();
    attempt->done = std::move(done);
    Attempt& a = *attempt;
    attempts_.emplace(id, std::move(attempt));
    // Straight to a worker with a free slot when nothing of its queue waits (a worker with a
    // free slot takes waiting work at once, so none would be passed over); else it waits.
    if (!queues_.contains(a.request.queue)) place_locked(id, a, wakes);
    if (a.phase == Attempt::Phase::kQueued) {
      queues_[a.request.queue].push_back(id);
      ++backlog_;
    }
    update_gauges_locked();
  }
  wake_all(wakes);
  return id;
}

std::optional<TimePoint> WorkerHub::next_deadline(AttemptId id) const {
  std::lock_guard lock(mutex_);
  auto it = attempts_.find(id);
  if (it == attempts_.end()) return std::nullopt;
  const Attempt& a = *it->second;
  const auto& r = a.request;
  switch (a.phase) {
    case Attempt::Phase::kQueued:
      if (r.schedule_to_start) return a.submitted + *r.schedule_to_start;
      return std::nullopt;
    case Attempt::Phase::kRunning: {
      std::optional<TimePoint> next;
      if (r.start_to_close) next = a.started + *r.start_to_close;
      if (r.heartbeat) {
        const TimePoint hb = a.last_heartbeat + *r.heartbeat;
        if (!next || hb < *next) next = hb;
      }
      return next;
    }
    case Attempt::Phase::kDone:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<AttemptResult> WorkerHub::take_result(AttemptId id) {
  std::lock_guard lock(mutex_);
  auto it = attempts_.find(id);
  if (it == attempts_.end() || !it->second->result) return std::nullopt;
  AttemptResult result = std::move(*it->second->result);
  attempts_.erase(it);
  return result;
}

std::optional<AttemptResult> WorkerHub::expire(AttemptId id, TimePoint now) {
  Wakes wakes;
  std::optional<AttemptResult> failure;
  {
    std::lock_guard lock(mutex_);
    auto it = attempts_.find(id);
    if (it == attempts_.end()) return std::nullopt;
    Attempt& a = *it->second;
    const auto& r = a.request;
    if (a.phase == Attempt::Phase::kQueued) {
      if (r.schedule_to_start && now >= a.submitted + *r.schedule_to_start) {
        unqueue_locked(id, a);
        failure = AttemptResult{false,
                                "no worker took the task from queue '" + r.queue + "' within " +
                                    format_duration(*r.schedule_to_start) + " (schedule_to_start)",
                                FailureReason::kScheduleToStart, true, {}};
      }
    } else if (a.phase == Attempt::Phase::kRunning) {
      const std::string who = describe_locked(a.worker_id);
      const std::string worker_id = a.worker_id;
      if (r.start_to_close && now >= a.started + *r.start_to_close) {
        const std::string message = "worker " + who + " did not finish within " +
                                    format_duration(*r.start_to_close) + " (start_to_close)";
        cancel_running_locked(id, a, CancelReason::kDeadline, message, wakes);
        failure = AttemptResult{false, message, FailureReason::kStartToClose, true, worker_id};
      } else if (r.heartbeat && now >= a.last_heartbeat + *r.heartbeat) {
        const std::string message = "worker " + who + " sent no heartbeat for the attempt within " +
                                    format_duration(*r.heartbeat) + " (heartbeat)";
        cancel_running_locked(id, a, CancelReason::kHeartbeatTimeout, message, wakes);
        failure = AttemptResult{false, message, FailureReason::kHeartbeat, true, worker_id};
      }
    }
    if (failure) {
      attempts_.erase(it);
      update_gauges_locked();
    }
  }
  wake_all(wakes);
  return failure;
}

void WorkerHub::abandon(AttemptId id, const std::string& message) { withdraw(id, message); }

bool WorkerHub::withdraw(AttemptId id, const std::string& message) {
  Wakes wakes;
  {
    std::lock_guard lock(mutex_);
    auto it = attempts_.find(id);
    if (it == attempts_.end()) return false;
    if (it->second->result) {
      // Ended, its result not taken: nothing to cancel.
      attempts_.erase(it);
      return false;
    }
    Attempt& a = *it->second;
    if (a.phase == Attempt::Phase::kQueued) {
      unqueue_locked(id, a);
    } else if (a.phase == Attempt::Phase::kRunning) {
      cancel_running_locked(id, a, CancelReason::kAborted, message, wakes);
    }
    attempts_.erase(it);
    update_gauges_locked();
  }
  wake_all(wakes);
  return true;
}

WaitQueue* WorkerHub::waiters_of(AttemptId id) {
  std::lock_guard lock(mutex_);
  return waiters_locked(id);
}

bool WorkerHub::ready_locked(AttemptId id) const {
  auto it = attempts_.find(id);
  return it == attempts_.end() || it->second->result.has_value();
}

WaitQueue* WorkerHub::waiters_locked(AttemptId id) {
  auto it = attempts_.find(id);
  return it == attempts_.end() ? nullptr : &it->second->waiters;
}

std::size_t WorkerHub::backlog() const {
  std::lock_guard lock(mutex_);
  return backlog_;
}

std::size_t WorkerHub::connected() const {
  std::lock_guard lock(mutex_);
  return workers_.size();
}

std::size_t WorkerHub::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

std::uint64_t WorkerHub::refused(RefusalReason reason) const {
  std::lock_guard lock(mutex_);
  return refused_[static_cast<std::size_t>(reason)];
}

// ---------------------------------------------------------------------------------------------
// Internals (mutex held)
// ---------------------------------------------------------------------------------------------

void WorkerHub::place_locked(AttemptId id, Attempt& attempt, Wakes& wakes) {
  Worker* best = nullptr;
  for (auto& [wid, w] : workers_) {
    if (!w->has_free_slot() || !w->serves(attempt.request.queue)) continue;
    if (!best || w->in_flight.size() < best->in_flight.size() ||
        (w->in_flight.size() == best->in_flight.size() && w->last_assigned < best->last_assigned)) {
      best = w.get();
    }
  }
  if (best) assign_locked(id, attempt, *best, wakes);
}

void WorkerHub::fill_locked(Worker& worker, Wakes& wakes) {
  while (worker.has_free_slot()) {
    // The oldest waiting attempt among the worker's queues (ids grow with submission).
    std::deque<AttemptId>* from = nullptr;
    for (const auto& q : worker.queues) {
      auto it = queues_.find(q);
      if (it == queues_.end() || it->second.empty()) continue;
      if (!from || it->second.front() < from->front()) from = &it->second;
    }
    if (!from) return;
    const AttemptId id = from->front();
    assign_locked(id, *attempts_.at(id), worker, wakes);
  }
}

void WorkerHub::assign_locked(AttemptId id, Attempt& attempt, Worker& worker, Wakes& wakes) {
  // A waiting attempt that gains a deadline now (start_to_close, heartbeat) is told to look at
  // next_deadline() again.
  if (attempt.request.start_to_close || attempt.request.heartbeat) {
    while (auto w = attempt.waiters.pop_front()) wakes.waiters.push_back(std::move(*w));
  }
  unqueue_locked(id, attempt);
  const TimePoint now = Clock::now();
  attempt.phase = Attempt::Phase::kRunning;
  attempt.worker_id = worker.id;
  attempt.started = now;
  attempt.last_heartbeat = now;
  worker.in_flight.insert(id);
  worker.last_assigned = ++assign_clock_;
  ++running_;
  const auto& r = attempt.request;
  Assignment out{attempt.assignment_id, r.task_id, r.attempt, r.fencing_token, r.queue, r.payload,
                 std::nullopt, r.heartbeat};
  if (r.start_to_close) out.deadline = now + *r.start_to_close;
  if (!worker.outbox.empty() && std::holds_alternative<std::vector<Assignment>>(worker.outbox.back())) {
    std::get<std::vector<Assignment>>(worker.outbox.back()).push_back(std::move(out));
  } else {
    worker.outbox.emplace_back(std::vector<Assignment>{std::move(out)});
  }
  if (metrics_) {
    metrics_->latency->Observe(std::chrono::duration<double>(now - attempt.submitted).count());
  }
  wakes.add(worker.sink);
}

void WorkerHub::unqueue_locked(AttemptId id, const Attempt& attempt) {
  if (attempt.phase != Attempt::Phase::kQueued) return;
  auto it = queues_.find(attempt.request.queue);
  if (it == queues_.end()) return;
  auto& q = it->second;
  if (auto pos = std::find(q.begin(), q.end(), id); pos != q.end()) {
    q.erase(pos);
    --backlog_;
  }
  if (q.empty()) queues_.erase(it);
}

void WorkerHub::cancel_running_locked(AttemptId id, Attempt& attempt, CancelReason reason,
                                      const std::string& message, Wakes& wakes) {
  auto it = workers_.find(attempt.worker_id);
  attempt.phase = Attempt::Phase::kDone;
  if (it == workers_.end()) return;
  Worker& w = *it->second;
  if (w.in_flight.erase(id) == 0) return;
  --running_;
  remember_locked(w, id, RefusalReason::kCancelled);
  w.outbox.emplace_back(CancelNotice{attempt.assignment_id, reason, message});
  wakes.add(w.sink);
  fill_locked(w, wakes);
}

void WorkerHub::finish_locked(AttemptId id, Attempt& attempt, AttemptResult result, Wakes& wakes) {
  attempt.phase = Attempt::Phase::kDone;
  if (attempt.done) {
    // Nobody takes this result: it goes to the callback, and the attempt is forgotten now.
    wakes.done.emplace_back(std::move(attempt.done), std::move(result));
    attempts_.erase(id);
    return;
  }
  attempt.result = std::move(result);
  while (auto w = attempt.waiters.pop_front()) wakes.waiters.push_back(std::move(*w));
}

void WorkerHub::remember_locked(Worker& worker, AttemptId id, RefusalReason why) {
  // An assignment leaves in_flight once, so it is remembered at most once.
  const std::size_t capacity = options_.remembered_per_worker;
  if (capacity == 0) return;
  if (worker.closed.size() < capacity) {
    worker.closed.emplace_back(id, why);
    return;
  }
  worker.closed[worker.closed_next] = {id, why};
  worker.closed_next = (worker.closed_next + 1) % capacity;
}

void WorkerHub::refuse_locked(Worker& worker, const std::string& assignment_id,
                              RefusalReason reason, std::string message, Wakes& wakes) {
  ++refused_[static_cast<std::size_t>(reason)];
  if (metrics_) metrics_->refused[static_cast<std::size_t>(reason)]->Increment();
  spdlog::debug("tenant {}: refused a report from worker {} on {}: {}", tenant_,
                describe_locked(worker.id), assignment_id.substr(0, 64), message);
  if (worker.queued_refusals >= options_.max_queued_refusals) return;
  ++worker.queued_refusals;
  worker.outbox.emplace_back(Refusal{assignment_id.substr(0, 256), reason, std::move(message)});
  wakes.add(worker.sink);
}

WorkerHub::Options WorkerHub::options() const {
  std::lock_guard lock(mutex_);
  return options_;
}

void WorkerHub::set_max_output_bytes(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  options_.max_output_bytes = bytes;
}

void WorkerHub::update_gauges_locked() {
  if (!metrics_) return;
  metrics_->backlog->Set(static_cast<double>(backlog_));
  metrics_->connected->Set(static_cast<double>(workers_.size()));
  metrics_->running->Set(static_cast<double>(running_));
}

std::string WorkerHub::describe_locked(const std::string& worker_id) const {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second->name.empty()) return worker_id;
  return worker_id + " (" + it->second->name + ")";
}

// ---------------------------------------------------------------------------------------------
// WorkerHubs
// ---------------------------------------------------------------------------------------------

struct WorkerHubs::Impl {
  // Hubs are added (reload) but never removed, so a pointer found stays valid.
  mutable std::mutex mutex;
  std::vector<WorkerHub*> all() const {
    std::lock_guard lock(mutex);
    std::vector<WorkerHub*> out;
    for (auto& [name, hub] : hubs) out.push_back(hub.get());
    return out;
  }
  std::unique_ptr<WorkerMetricFamilies> families;
  std::vector<std::unique_ptr<WorkerMetrics>> metrics;
  std::map<std::string, std::unique_ptr<WorkerHub>, std::less<>> hubs;
};

WorkerHubs::WorkerHubs(prometheus::Registry* registry) : impl_(std::make_unique<Impl>()) {
  if (registry) impl_->families = std::make_unique<WorkerMetricFamilies>(*registry);
}

WorkerHubs::~WorkerHubs() = default;

WorkerHub& WorkerHubs::add_tenant(const std::string& tenant, WorkerHub::Options options) {
  std::lock_guard lock(impl_->mutex);
  if (auto it = impl_->hubs.find(tenant); it != impl_->hubs.end()) {
    it->second->set_max_output_bytes(options.max_output_bytes);
    return *it->second;
  }
  WorkerMetrics* m = nullptr;
  if (impl_->families) {
    impl_->metrics.push_back(impl_->families->add_tenant(tenant));
    m = impl_->metrics.back().get();
  }
  auto& hub = impl_->hubs[tenant];
  hub = std::make_unique<WorkerHub>(tenant, options, m);
  return *hub;
}

WorkerHub* WorkerHubs::find(std::string_view tenant) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->hubs.find(tenant);
  return it == impl_->hubs.end() ? nullptr : it->second.get();
}

void WorkerHubs::close_all(const std::string& why) {
  for (auto* hub : impl_->all()) hub->close_all(why);
}

void WorkerHubs::close_silent(TimePoint before, const std::string& why) {
  for (auto* hub : impl_->all()) hub->close_silent(before, why);
}

}  // namespace orch::workers
