#include "orch/client/task_runner.h"

#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "orch/common/arena_message.h"

namespace orch::client {

namespace v1 = orch::v1;

// One RunStream call. Holds the stream open (a gRPC hold) until close() has half-closed it, so
// that writes from start() never race OnDone.
class TaskRunner::Reactor final : public grpc::ClientBidiReactor<v1::RunStreamRequest, v1::RunStreamResponse> {
 public:
  explicit Reactor(Client& client) : ctx_(client.context()) {
    client.tasks().async()->RunStream(ctx_.get(), this);
    AddHold();
    StartRead(&in_);
    StartCall();
  }

  void start(const v1::SpawnRequest& request, Done done) {
    std::unique_lock lock(mutex_);
    if (closing_ || ended_ || done_) {
      grpc::Status status(grpc::StatusCode::FAILED_PRECONDITION, "the task runner is closed");
      if (done_ && !final_.ok()) {
        status = final_;
      } else if (ended_ && !closing_) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the task runner's stream ended");
      }
      lock.unlock();
      done(status, Outcome{});
      return;
    }
    const std::uint64_t ref = ++last_ref_;
    waiting_.emplace(ref, std::move(done));
    auto* item = writes_.filling()->add_items();
    item->set_ref(ref);
    *item->mutable_spawn() = request;
    write_locked(lock);
  }

  grpc::Status close() {
    std::unique_lock lock(mutex_);
    closing_ = true;
    if (!writing_) {
      half_close_locked(lock);
      lock.lock();
    }
    done_cv_.wait(lock, [this] { return done_; });
    return final_;
  }

  void cancel() { ctx_->TryCancel(); }

  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return waiting_.size();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The daemon ended the stream: nothing more can be answered.
      std::unique_lock lock(mutex_);
      ended_ = true;
      if (!writing_) half_close_locked(lock);
      return;
    }
    std::vector<std::pair<Done, Outcome>> ready;
    {
      std::lock_guard lock(mutex_);
      auto* outcomes = in_.mutable_outcomes();
      ready.reserve(static_cast<std::size_t>(outcomes->size()));
      for (auto& o : *outcomes) {
        auto it = waiting_.find(o.ref());
        if (it == waiting_.end()) continue;
        ready.emplace_back(std::move(it->second), std::move(o));
        waiting_.erase(it);
      }
    }
    StartRead(&in_);
    for (auto& [done, outcome] : ready) done(grpc::Status::OK, std::move(outcome));
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mutex_);
    writing_ = false;
    if (!ok) ended_ = true;  // broken: the read fails too, and OnDone reports why
    if (!ended_ && !writes_.filling()->items().empty()) {
      write_locked(lock);
    } else if (closing_ || ended_) {
      half_close_locked(lock);
    }
  }

  void OnDone(const grpc::Status& status) override {
    std::unordered_map<std::uint64_t, Done> orphans;
    {
      std::lock_guard lock(mutex_);
      done_ = true;
      final_ = status;
      orphans.swap(waiting_);
    }
    done_cv_.notify_all();
    const grpc::Status why = status.ok() ? grpc::Status(grpc::StatusCode::INTERNAL,
                                                        "the stream ended without answering")
                                         : status;
    for (auto& [ref, done] : orphans) done(why, Outcome{});
  }

 private:
  // Sends what is queued when no write is in flight. Unlocks.
  void write_locked(std::unique_lock<std::mutex>& lock) {
    if (writing_ || ended_ || writes_.filling()->items().empty()) return;
    writing_ = true;
    auto* out = writes_.take();
    lock.unlock();
    StartWrite(out);
  }

  // Half-closes once (and lets OnDone come). Unlocks.
  void half_close_locked(std::unique_lock<std::mutex>& lock) {
    if (half_closed_) {
      lock.unlock();
      return;
    }
    half_closed_ = true;
    lock.unlock();
    StartWritesDone();
    RemoveHold();
  }

  std::unique_ptr<grpc::ClientContext> ctx_;
  v1::RunStreamResponse in_;

  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  std::uint64_t last_ref_ = 0;
  std::unordered_map<std::uint64_t, Done> waiting_;
  // Items not yet written fill writes_.filling(); their specs are copied onto its arena.
  ArenaWritePair<v1::RunStreamRequest> writes_;
  bool writing_ = false;
  bool closing_ = false;      // close() was called
  bool ended_ = false;        // the stream broke or the daemon ended it: no more writes
  bool half_closed_ = false;
  bool done_ = false;
  grpc::Status final_;
};

TaskRunner::TaskRunner(Client& client) : reactor_(std::make_unique<Reactor>(client)) {}

TaskRunner::~TaskRunner() { reactor_->close(); }

grpc::Status TaskRunner::run(const v1::SpawnRequest& request, Outcome& outcome) {
  struct Wait {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
  } wait;
  reactor_->start(request, [&wait, &outcome](const grpc::Status& status, Outcome answer) {
    std::lock_guard lock(wait.mutex);
    wait.status = status;
    outcome = std::move(answer);
    wait.done = true;
    wait.cv.notify_one();
  });
  std::unique_lock lock(wait.mutex);
  wait.cv.wait(lock, [&wait] { return wait.done; });
  return wait.status;
}

void TaskRunner::start(const v1::SpawnRequest& request, Done done) {
  reactor_->start(request, std::move(done));
}

grpc::Status TaskRunner::close() { return reactor_->close(); }

void TaskRunner::cancel() { reactor_->cancel(); }

std::size_t TaskRunner::in_flight() const { return reactor_->in_flight(); }

}  // namespace orch::client
