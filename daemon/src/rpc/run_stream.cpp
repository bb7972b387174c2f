// TaskService.RunStream: a pipelined spawn-and-wait. One bidirectional callback reactor per
// stream. Each message's items are validated and spawned on the gRPC thread that read it (no
// hand-off), the next read starts at once, and each spawned task registers with the engine to
// be told when it is terminal. Answers wait in a queue; one write is in flight at a time, and
// everything that became ready meanwhile leaves in the next message.
//
// Ending: a half-close ends the stream with OK once every task it spawned is answered; a
// cancelled or broken stream aborts the tasks it spawned that are still running (never a task
// it only found by idempotency key) and ends at once.
#include <spdlog/spdlog.h>

#include <deque>
#include <unordered_map>

#include "orch/common/arena_message.h"
#include "orch/engine/engine.h"
#include "orch/metrics/metrics.h"
#include "orch/rpc/convert.h"
#include "orch/rpc/status.h"
#include "services.h"

namespace orch::rpc {
namespace {

constexpr const char* kMethod = "TaskService/RunStream";
// One answer message stops growing past either bound (a client's default receive limit is
// 4 MiB; a single large output still goes alone).
constexpr int kMaxOutcomesPerMessage = 1024;
constexpr std::size_t kMaxBytesPerMessage = 1 << 20;

using Request = v1::RunStreamRequest;
using Response = v1::RunStreamResponse;

class RunStreamCall;

// What the engine's completion callbacks hold: it may outlive the stream, so it reaches the
// stream only while the stream is alive.
struct Link {
  std::mutex mutex;
  RunStreamCall* stream = nullptr;
};

class RunStreamCall final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  RunStreamCall(const ServiceBase& service, std::shared_ptr<const config::TenantConfig> tenant,
            std::optional<grpc::Status> refuse, CallSlot slot = {})
      : service_(service), tenant_(std::move(tenant)), limits_(service.limits.get()),
        slot_(std::move(slot)), started_(std::chrono::steady_clock::now()),
        link_(std::make_shared<Link>()) {
    link_->stream = this;
    if (refuse) {
      end(*refuse);
      return;
    }
    StartRead(in_.get());
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-closed by the client, or the stream broke (OnCancel follows then).
      {
        std::lock_guard lock(mutex_);
        reads_done_ = true;
      }
      pump();
      return;
    }
    handle(*in_);
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
    }
    in_.renew();
    StartRead(in_.get());
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
    }
    if (!ok) end(grpc::Status(grpc::StatusCode::CANCELLED, "the client's stream broke"));
    pump();
  }

  void OnCancel() override { end(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away")); }

  void OnDone() override {
    {
      std::lock_guard lock(link_->mutex);
      link_->stream = nullptr;
    }
    delete this;
  }

  /// A task this stream waits for is terminal: queue its answer.
  void answered(std::uint64_t ref, const engine::TaskSnapshot& task) {
    {
      std::lock_guard lock(mutex_);
      running_.erase(task.id);
      --in_flight_;
      queue_outcome_locked([&](Response::Outcome& o) {
        o.set_ref(ref);
        o.set_id(task.id);
        o.set_state(state_to_proto(task.state));
        if (task.result) result_to_proto(*task.result, *o.mutable_result());
      });
    }
    pump();
  }

 private:
  // Validates and spawns the message's items, answering refused ones at once.
  void handle(const Request& request) {
    engine::Engine& engine = service_.engine;
    const SpecPolicy policy{*limits_, *tenant_};
    const std::string& tenant = tenant_->name;
    bool refused_any = false;
    for (const auto& item : request.items()) {
      std::optional<engine::Error> refusal;
      {
        std::lock_guard lock(mutex_);
        if (in_flight_ >= limits_->max_batch) {
          refusal = engine::make_error(
              engine::ErrorCode::kResourceExhausted,
              "this stream has " + std::to_string(in_flight_) +
                  " tasks in flight, the most allowed (limits.max_batch); wait for answers");
        } else {
          ++in_flight_;  // taken before the spawn, so the bound holds across threads
        }
      }
      std::optional<engine::SpawnOutcome> spawned;
      if (!refusal) {
        auto args = spawn_args_from_proto(item.spawn(), policy, "spawn");
        if (!args) {
          count_rejected(args.error());
          refusal = args.error();
        } else if (auto outcome = engine.spawn(tenant, std::move(*args)); !outcome) {
          refusal = outcome.error();
        } else {
          spawned = std::move(*outcome);
        }
        if (refusal) {
          std::lock_guard lock(mutex_);
          --in_flight_;
        }
      }
      if (refusal) {
        refused_any = true;
        const auto status = to_status(*refusal);
        std::lock_guard lock(mutex_);
        queue_outcome_locked([&](Response::Outcome& o) {
          o.set_ref(item.ref());
          o.set_code(static_cast<std::int32_t>(status.error_code()));
          o.set_message(status.error_message());
        });
        continue;
      }
      if (!spawned->existing) {
        std::optional<std::string> ended;  // why, when the stream ended while this one spawned
        {
          std::lock_guard lock(mutex_);
          if (ending_) {
            ended = ending_->error_message();
          } else {
            running_.emplace(spawned->id, item.ref());
          }
        }
        // end() ran between the spawn and the line above and could not see this task: it is
        // aborted here, as end() would have (its answer still comes through on_terminal).
        if (ended) abort_own({spawned->id}, *ended);
      }
      const std::uint64_t ref = item.ref();
      // The wait is never cancelled: a stream gone before the answer finds link->stream null.
      // The answer may be queued on the thread that ended the task (a worker's report): it
      // only takes this stream's locks and starts a write.
      const bool waiting = engine
                               .on_terminal(
                                   tenant, spawned->id,
                                   [link = link_, ref](engine::TaskSnapshot task) {
                                     std::lock_guard lock(link->mutex);
                                     if (link->stream) link->stream->answered(ref, task);
                                   },
                                   service_.executor, engine::TerminalDelivery::kInline)
                               .has_value();
      if (!waiting) {
        // Gone already: only a task found by key whose retention just ended.
        std::lock_guard lock(mutex_);
        running_.erase(spawned->id);
        --in_flight_;
        queue_outcome_locked([&](Response::Outcome& o) {
          o.set_ref(ref);
          o.set_code(static_cast<std::int32_t>(grpc::StatusCode::NOT_FOUND));
          o.set_message("task " + spawned->id + " is no longer kept");
        });
      }
    }
    if (refused_any) pump();
  }

  void count_rejected(const engine::Error& error) {
    if (!service_.metrics) return;
    const bool permission = error.code == engine::ErrorCode::kPermissionDenied;
    service_.metrics->add_tenant(tenant_->name).rejected(permission ? "permission" : "invalid").Increment();
  }

  // A new answer, made by `fill`, in the last queued message, or in a new one when that one is
  // full. The answer is built in place, on the message's arena; one that would take the message
  // past its byte bound is copied to a new message (only answers near that size are).
  template <typename Fill>
  void queue_outcome_locked(Fill&& fill) {
    if (queued_.empty() || (*queued_.back())->outcomes_size() >= kMaxOutcomesPerMessage) {
      start_message_locked();
    }
    auto* last = queued_.back()->get();
    Response::Outcome& o = *last->add_outcomes();
    fill(o);
    const std::size_t bytes = o.ByteSizeLong();
    if (queued_bytes_ + bytes > kMaxBytesPerMessage && last->outcomes_size() > 1) {
      start_message_locked();
      *(*queued_.back())->add_outcomes() = o;
      last->mutable_outcomes()->RemoveLast();
    }
    queued_bytes_ += bytes;
  }

  // An empty message at the end of the queue: the one last written, when its write is done.
  void start_message_locked() {
    if (spare_) {
      spare_->renew();
      queued_.push_back(std::move(spare_));
    } else {
      queued_.push_back(std::make_unique<Answer>());
    }
    queued_bytes_ = 0;
  }

  /// Writes the next message if none is in flight; finishes once ending (or half-closed with
  /// nothing left to answer) and idle.
  void pump() {
    std::unique_lock lock(mutex_);
    if (writing_ || finished_) return;
    if (!ending_ && !queued_.empty()) {
      spare_ = std::move(out_);  // its write is done
      out_ = std::move(queued_.front());
      queued_.pop_front();
      if (queued_.empty()) queued_bytes_ = 0;
      writing_ = true;
      lock.unlock();
      StartWrite(out_->get());
      return;
    }
    if (!ending_ && reads_done_ && in_flight_ == 0) ending_ = grpc::Status::OK;
    if (!ending_) return;
    finished_ = true;
    const grpc::Status status = *ending_;
    lock.unlock();
    service_.observe(kMethod, status, started_);
    Finish(status);
  }

  /// Ends the stream with `status` (the first call wins): tasks still running that this stream
  /// spawned are aborted, and Finish follows when no write is in flight.
  void end(const grpc::Status& status) {
    std::vector<std::string> abort;
    {
      std::lock_guard lock(mutex_);
      if (ending_) return;
      ending_ = status;
      for (auto& [id, ref] : running_) abort.push_back(id);
      running_.clear();
    }
    if (!abort.empty()) abort_own(abort, status.error_message());
    pump();
  }

  // Aborts tasks this stream spawned, because it ended for `why`.
  void abort_own(const std::vector<std::string>& ids, const std::string& why) {
    // Every id is the stream's own, unexpired task: the abort finds them all.
    auto aborted = service_.engine.abort(tenant_->name, ids,
                                         "cancelled: the RunStream that spawned it ended (" + why + ")");
    if (!aborted) spdlog::warn("{}: aborting the stream's tasks: {}", kMethod, aborted.error().message);
  }

  const ServiceBase& service_;
  std::shared_ptr<const config::TenantConfig> tenant_;
  std::shared_ptr<const config::Limits> limits_;
  CallSlot slot_;  // the tenant's stream slot, given back when the stream is deleted
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<Link> link_;
  ArenaMessage<Request> in_;  // renewed for each read

  std::mutex mutex_;
  std::uint32_t in_flight_ = 0;                           // spawned (or spawning), not answered
  std::unordered_map<std::string, std::uint64_t> running_;  // own tasks not answered: id -> ref
  using Answer = ArenaMessage<Response>;
  std::deque<std::unique_ptr<Answer>> queued_;  // answers waiting to be written
  std::size_t queued_bytes_ = 0;                // of queued_.back()
  std::unique_ptr<Answer> out_;                 // the message written last (or being written)
  std::unique_ptr<Answer> spare_;               // the one before, kept for reuse
  bool writing_ = false;
  bool reads_done_ = false;
  std::optional<grpc::Status> ending_;
  bool finished_ = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::RunStreamRequest, v1::RunStreamResponse>* TaskServiceImpl::RunStream(
    grpc::CallbackServerContext* ctx) {
  auto tenant = base_.authenticate(ctx);
  if (!tenant) {
    return new RunStreamCall(base_, nullptr,
                               grpc::Status(grpc::StatusCode::UNAUTHENTICATED, tenant.error().message));
  }
  auto slot = base_.take_slot((*tenant)->name, SlotKind::kStream);
  if (!slot) return new RunStreamCall(base_, *tenant, to_status(slot.error()));
  return new RunStreamCall(base_, *tenant, std::nullopt, std::move(*slot));
}

}  // namespace orch::rpc
