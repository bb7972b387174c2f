// WorkerService.Connect: one bidirectional callback reactor per worker, bridging its stream
// and the tenant's WorkerHub. Reads run one at a time (each read handled, then the next
// started); writes run one at a time, pulled from the hub as earlier ones complete, so the
// messages waiting for a worker stay bounded by its slots (plus a few refusals).
#include "worker_service.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "orch/common/arena_message.h"
#include "orch/engine/clock.h"
#include "orch/tenants/tenant_registry.h"
#include "orch/workers/worker_hub.h"

namespace orch::rpc {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kMethod = "WorkerService/Connect";
// More slots than this is a mistake in the worker, not a capacity.
constexpr std::uint32_t kMaxSlots = 10'000;
constexpr int kMaxQueues = 64;

v1::CancelReason cancel_reason_to_proto(workers::CancelReason reason) {
  switch (reason) {
    case workers::CancelReason::kAborted:
      return v1::CANCEL_REASON_ABORTED;
    case workers::CancelReason::kDeadline:
      return v1::CANCEL_REASON_DEADLINE;
    case workers::CancelReason::kHeartbeatTimeout:
      return v1::CANCEL_REASON_HEARTBEAT_TIMEOUT;
  }
  return v1::CANCEL_REASON_UNSPECIFIED;
}

v1::RefusalReason refusal_reason_to_proto(workers::RefusalReason reason) {
  switch (reason) {
    case workers::RefusalReason::kUnknownAssignment:
      return v1::REFUSAL_REASON_UNKNOWN_ASSIGNMENT;
    case workers::RefusalReason::kMismatch:
      return v1::REFUSAL_REASON_MISMATCH;
    case workers::RefusalReason::kCancelled:
      return v1::REFUSAL_REASON_CANCELLED;
    case workers::RefusalReason::kAlreadyReported:
      return v1::REFUSAL_REASON_ALREADY_REPORTED;
    case workers::RefusalReason::kTooLarge:
      return v1::REFUSAL_REASON_TOO_LARGE;
  }
  return v1::REFUSAL_REASON_UNSPECIFIED;
}

// Moves the message's strings into `out`, an empty message.
void to_proto(workers::Outgoing& message, v1::ServerMessage& out) {
  if (auto* batch = std::get_if<std::vector<workers::Assignment>>(&message)) {
    auto* assignments = out.mutable_assignments();
    assignments->mutable_assignments()->Reserve(static_cast<int>(batch->size()));
    for (auto& a : *batch) {
      auto* o = assignments->add_assignments();
      o->set_assignment_id(std::move(a.assignment_id));
      o->set_task_id(std::move(a.task_id));
      o->set_attempt(a.attempt);
      o->set_fencing_token(a.fencing_token);
      o->set_queue(std::move(a.queue));
      o->set_payload(std::move(a.payload));
      if (a.deadline) {
        const auto wall = engine::Clock::to_system(*a.deadline);
        *o->mutable_deadline() = TimeUtil::NanosecondsToTimestamp(
            std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count());
      }
      if (a.heartbeat_timeout) {
        *o->mutable_heartbeat_timeout() = TimeUtil::NanosecondsToDuration(a.heartbeat_timeout->count());
      }
    }
  } else if (const auto* cancel = std::get_if<workers::CancelNotice>(&message)) {
    auto* o = out.mutable_cancel();
    o->set_assignment_id(cancel->assignment_id);
    o->set_reason(cancel_reason_to_proto(cancel->reason));
    o->set_message(cancel->message);
  } else {
    const auto& refusal = std::get<workers::Refusal>(message);
    auto* o = out.mutable_result_refused();
    o->set_assignment_id(refusal.assignment_id);
    o->set_reason(refusal_reason_to_proto(refusal.reason));
    o->set_message(refusal.message);
  }
}

class Session;

// What the hub holds of a session: it may outlive the session (the hub copies it to call it
// outside its own lock), so it reaches the session only while the session is alive.
class SessionSink final : public workers::WorkerSink {
 public:
  explicit SessionSink(Session* session) : session_(session) {}
  void wake() override;
  void close(const std::string& why) override;
  void detach() {
    std::lock_guard lock(mutex_);
    session_ = nullptr;
  }

 private:
  std::mutex mutex_;
  Session* session_;
};

class Session final : public grpc::ServerBidiReactor<v1::WorkerMessage, v1::ServerMessage> {
 public:
  Session(const ServiceBase& service, workers::WorkerHub* hub,
          std::shared_ptr<const config::TenantConfig> tenant, std::optional<grpc::Status> refuse,
          CallSlot slot = {})
      : service_(service), hub_(hub), tenant_(std::move(tenant)), slot_(std::move(slot)),
        started_(std::chrono::steady_clock::now()),
        sink_(std::make_shared<SessionSink>(this)) {
    if (refuse) {
      end(*refuse);
      return;
    }
    StartRead(in_.get());
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-closed by the worker, or the stream broke.
      end(grpc::Status::OK);
      return;
    }
    if (auto status = handle(*in_); !status.ok()) {
      end(status);
      return;
    }
    in_.renew();
    StartRead(in_.get());
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
    }
    // A stream already ending (OnCancel can run first, on another thread) held its Finish back
    // for this write: end() is then a no-op, and pump() must still run to Finish.
    if (!ok) end(grpc::Status(grpc::StatusCode::CANCELLED, "the worker's stream broke"));
    pump();
  }

  void OnCancel() override { end(grpc::Status(grpc::StatusCode::CANCELLED, "the worker went away")); }

  void OnDone() override {
    sink_->detach();
    disconnect();
    delete this;
  }

  /// Writes the next message if none is in flight; finishes once ending and idle.
  void pump() {
    std::unique_lock lock(mutex_);
    if (writing_ || finished_) return;
    if (ending_) {
      finished_ = true;
      const grpc::Status status = *ending_;
      lock.unlock();
      service_.observe(kMethod, status, started_);
      Finish(status);
      return;
    }
    if (welcome_) {
      out_.renew();
      *out_ = std::move(*welcome_);
      welcome_.reset();
    } else {
      if (worker_id_.empty()) return;
      auto next = hub_->next_message(worker_id_);
      if (!next) return;
      out_.renew();
      to_proto(*next, *out_);
    }
    writing_ = true;
    lock.unlock();
    StartWrite(out_.get());
  }

  /// Ends the stream with `status` (the first call wins): the worker leaves the hub at once,
  /// and Finish follows when no write is in flight.
  void end(const grpc::Status& status) {
    {
      std::lock_guard lock(mutex_);
      if (ending_) return;
      ending_ = status;
    }
    disconnect();
    pump();
  }

 private:
  grpc::Status invalid(const std::string& message) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
  }

  grpc::Status handle(v1::WorkerMessage& message) {
    std::string worker;
    {
      std::lock_guard lock(mutex_);
      worker = worker_id_;
    }
    if (worker.empty()) {
      if (!message.has_hello()) return invalid("the first message must be a hello");
      return hello(message.hello());
    }
    switch (message.kind_case()) {
      case v1::WorkerMessage::kHello:
        return invalid("hello: sent twice on one stream");
      case v1::WorkerMessage::kCompletions: {
        // All of the message's reports under one lock of the hub; the strings are moved out.
        auto& c = *message.mutable_completions();
        std::vector<workers::Report> reports;
        reports.reserve(static_cast<std::size_t>(c.results_size() + c.errors_size()));
        for (auto& r : *c.mutable_results()) {
          reports.push_back(workers::Report{std::move(*r.mutable_assignment_id()),
                                            std::move(*r.mutable_task_id()), r.attempt(),
                                            r.fencing_token(), true, std::move(*r.mutable_output()),
                                            true, {}});
        }
        for (auto& e : *c.mutable_errors()) {
          reports.push_back(workers::Report{std::move(*e.mutable_assignment_id()),
                                            std::move(*e.mutable_task_id()), e.attempt(),
                                            e.fencing_token(), false, std::move(*e.mutable_message()),
                                            e.retryable(), std::move(*e.mutable_reason())});
        }
        if (!reports.empty()) hub_->report(worker, std::move(reports));
        return grpc::Status::OK;
      }
      case v1::WorkerMessage::kHeartbeat: {
        const auto& ids = message.heartbeat().assignment_ids();
        hub_->heartbeat(worker, std::vector<std::string>(ids.begin(), ids.end()));
        return grpc::Status::OK;
      }
      case v1::WorkerMessage::kSetSlots:
        if (message.set_slots().slots() > kMaxSlots) {
          return invalid("set_slots.slots: must be at most " + std::to_string(kMaxSlots));
        }
        hub_->set_slots(worker, message.set_slots().slots());
        return grpc::Status::OK;
      case v1::WorkerMessage::KIND_NOT_SET:
        break;
    }
    return invalid("no message kind set; set one of hello, completions, heartbeat, set_slots");
  }

  grpc::Status hello(const v1::WorkerMessage::Hello& hello) {
    if (hello.queues().empty()) return invalid("hello.queues: must name at least one queue");
    if (hello.queues_size() > kMaxQueues) {
      return invalid("hello.queues: more than " + std::to_string(kMaxQueues) + " queues");
    }
    std::vector<std::string> queues;
    for (int i = 0; i < hello.queues_size(); ++i) {
      const auto& q = hello.queues(i);
      if (auto why = workers::check_queue_name(q); !why.empty()) {
        return invalid("hello.queues[" + std::to_string(i) + "]: " + why);
      }
      if (std::find(queues.begin(), queues.end(), q) == queues.end()) queues.push_back(q);
    }
    if (hello.slots() < 1 || hello.slots() > kMaxSlots) {
      return invalid("hello.slots: must be between 1 and " + std::to_string(kMaxSlots));
    }
    if (hello.worker_name().size() > 256) return invalid("hello.worker_name: longer than 256 bytes");
    auto id = hub_->connect(hello.worker_name(), std::move(queues), hello.slots(), sink_);
    if (!id) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "tenant " + tenant_->name + " has too many workers connected");
    }
    {
      std::lock_guard lock(mutex_);
      worker_id_ = *id;
      v1::ServerMessage welcome;
      auto* w = welcome.mutable_welcome();
      w->set_worker_id(*id);
      *w->mutable_heartbeat_interval() = TimeUtil::SecondsToDuration(kWorkerHeartbeatInterval.count());
      w->set_max_output_bytes(hub_->options().max_output_bytes);
      welcome_ = std::move(welcome);
    }
    pump();
    return grpc::Status::OK;
  }

  void disconnect() {
    std::string worker;
    {
      std::lock_guard lock(mutex_);
      worker = std::exchange(worker_id_, std::string{});
    }
    if (!worker.empty()) hub_->disconnect(worker);
  }

  const ServiceBase& service_;
  workers::WorkerHub* hub_;
  std::shared_ptr<const config::TenantConfig> tenant_;
  CallSlot slot_;  // the tenant's stream slot, given back when the session is deleted
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<SessionSink> sink_;
  ArenaMessage<v1::WorkerMessage> in_;  // renewed for each read

  std::mutex mutex_;
  std::string worker_id_;  // set after the hello, cleared once disconnected
  std::optional<v1::ServerMessage> welcome_;
  ArenaMessage<v1::ServerMessage> out_;  // renewed for each write, once the last one is done
  bool writing_ = false;
  std::optional<grpc::Status> ending_;
  bool finished_ = false;
};

void SessionSink::wake() {
  std::lock_guard lock(mutex_);
  if (session_) session_->pump();
}

void SessionSink::close(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (session_) session_->end(grpc::Status(grpc::StatusCode::UNAVAILABLE, why));
}

}  // namespace

// A timer on its own strand: close_all() stops it from any thread.
struct WorkerServiceImpl::Sweeper {
  explicit Sweeper(const asio::any_io_executor& executor)
      : strand(asio::make_strand(executor)), timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  engine::Timer timer;
  bool stopped = false;  // on the strand
};

WorkerServiceImpl::WorkerServiceImpl(ServiceBase base, workers::WorkerHubs* hubs)
    : base_(std::move(base)), hubs_(hubs), sweeper_(std::make_unique<Sweeper>(base_.executor)) {}

WorkerServiceImpl::~WorkerServiceImpl() = default;

void WorkerServiceImpl::start_sweeper() {
  if (!hubs_) return;
  asio::post(sweeper_->strand, [this] { arm_sweeper(); });
}

void WorkerServiceImpl::arm_sweeper() {
  if (sweeper_->stopped) return;
  sweeper_->timer.expires_after(kWorkerHeartbeatInterval);
  sweeper_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec || sweeper_->stopped) return;
    const auto silence = 3 * kWorkerHeartbeatInterval;
    hubs_->close_silent(engine::Clock::now() - silence,
                        "no message from the worker for " + std::to_string(silence.count()) +
                            "s (three heartbeat intervals)");
    arm_sweeper();
  });
}

grpc::ServerBidiReactor<v1::WorkerMessage, v1::ServerMessage>* WorkerServiceImpl::Connect(
    grpc::CallbackServerContext* ctx) {
  auto tenant = base_.authenticate(ctx);
  if (!tenant) {
    return new Session(base_, nullptr, nullptr,
                       grpc::Status(grpc::StatusCode::UNAUTHENTICATED, tenant.error().message));
  }
  workers::WorkerHub* hub = hubs_ ? hubs_->find((*tenant)->name) : nullptr;
  if (!hub) {
    return new Session(base_, nullptr, *tenant,
                       grpc::Status(grpc::StatusCode::UNAVAILABLE, "workers are not available"));
  }
  auto slot = base_.take_slot((*tenant)->name, SlotKind::kStream);
  if (!slot) return new Session(base_, nullptr, *tenant, to_status(slot.error()));
  return new Session(base_, hub, *tenant, std::nullopt, std::move(*slot));
}

void WorkerServiceImpl::close_all() {
  asio::post(sweeper_->strand, [this] {
    sweeper_->stopped = true;
    sweeper_->timer.cancel();
  });
  if (hubs_) hubs_->close_all("orchestrd is shutting down; reconnect with backoff");
}

}  // namespace orch::rpc
