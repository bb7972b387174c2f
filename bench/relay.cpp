#include "relay.h"

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "orch/bench/floor.grpc.pb.h"
#include "support.h"

namespace bench {
namespace {

using orch::bench::Hop;

// A stream of the relay: one write in flight, the rest queued in arrival order.
class HopStream : public grpc::ServerBidiReactor<Hop, Hop> {
 public:
  // Queues `hop`; dropped once the stream is closing.
  void send(Hop hop) {
    std::unique_lock lock(mu_);
    if (closing_) return;
    if (writing_) {
      queue_.push_back(std::move(hop));
      return;
    }
    writing_ = true;
    out_ = std::move(hop);
    lock.unlock();
    StartWrite(&out_);
  }

 protected:
  // Finishes the stream once the write in flight (if any) is done.
  void close() {
    std::unique_lock lock(mu_);
    closing_ = true;
    if (writing_ || finished_) return;
    finished_ = true;
    lock.unlock();
    Finish(grpc::Status::OK);
  }

  Hop in_;

 private:
  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    if (!ok) queue_.clear();
    if (queue_.empty()) {
      writing_ = false;
      if (!closing_ || finished_) return;
      finished_ = true;
      lock.unlock();
      Finish(grpc::Status::OK);
      return;
    }
    out_ = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    StartWrite(&out_);
  }

  std::mutex mu_;
  std::deque<Hop> queue_;
  Hop out_;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

class RelayService final : public orch::bench::Relay::CallbackService {
 public:
  grpc::ServerBidiReactor<Hop, Hop>* Submit(grpc::CallbackServerContext*) override {
    return new ClientStream(*this);
  }
  grpc::ServerBidiReactor<Hop, Hop>* Serve(grpc::CallbackServerContext*) override {
    return new WorkerStream(*this);
  }

 private:
  // A client's jobs go to the worker with the stream's number in the reference's high half.
  class ClientStream final : public HopStream {
   public:
    explicit ClientStream(RelayService& relay) : relay_(relay) {
      {
        std::lock_guard lock(relay_.mu_);
        id_ = ++relay_.next_client_;
        relay_.clients_[id_] = this;
      }
      StartRead(&in_);
    }

   private:
    void OnReadDone(bool ok) override {
      if (!ok) return close();
      in_.set_ref(static_cast<std::uint64_t>(id_) << 32 | (in_.ref() & 0xffffffffu));
      {
        std::lock_guard lock(relay_.mu_);
        if (relay_.worker_ != nullptr) relay_.worker_->send(std::move(in_));
      }
      StartRead(&in_);
    }
    void OnDone() override {
      {
        std::lock_guard lock(relay_.mu_);
        relay_.clients_.erase(id_);
      }
      delete this;
    }

    RelayService& relay_;
    std::uint32_t id_ = 0;
  };

  // The worker's replies go back to the client stream named by the reference's high half.
  class WorkerStream final : public HopStream {
   public:
    explicit WorkerStream(RelayService& relay) : relay_(relay) {
      {
        std::lock_guard lock(relay_.mu_);
        relay_.worker_ = this;
      }
      StartRead(&in_);
    }

   private:
    void OnReadDone(bool ok) override {
      if (!ok) return close();
      const auto client = static_cast<std::uint32_t>(in_.ref() >> 32);
      if (client == 0) {
        send(in_);  // the worker's hello
      } else {
        in_.set_ref(in_.ref() & 0xffffffffu);
        std::lock_guard lock(relay_.mu_);
        if (auto it = relay_.clients_.find(client); it != relay_.clients_.end()) {
          it->second->send(std::move(in_));
        }
      }
      StartRead(&in_);
    }
    void OnDone() override {
      {
        std::lock_guard lock(relay_.mu_);
        if (relay_.worker_ == this) relay_.worker_ = nullptr;
      }
      delete this;
    }

    RelayService& relay_;
  };

  std::mutex mu_;
  HopStream* worker_ = nullptr;
  std::unordered_map<std::uint32_t, HopStream*> clients_;
  std::uint32_t next_client_ = 0;
};

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

void relay_server(std::uint16_t port) {
  RelayService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(loopback(port), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) throw Error("relay: cannot listen on " + loopback(port));
  server->Wait();
}

void relay_worker(std::uint16_t port, const std::string& ready) {
  auto stub = orch::bench::Relay::NewStub(
      grpc::CreateChannel(loopback(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  auto stream = stub->Serve(&ctx);
  Hop hop;
  if (!stream->Write(hop) || !stream->Read(&hop)) throw Error("relay worker: the relay did not answer");
  std::ofstream(ready) << "ready\n";
  while (stream->Read(&hop) && stream->Write(hop)) {
  }
  ctx.TryCancel();
  stream->Finish();
}

std::function<std::function<void()>()> relay_clients(const std::string& address,
                                                     const std::string& payload) {
  std::shared_ptr<orch::bench::Relay::Stub> stub = orch::bench::Relay::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  return [stub, payload]() -> std::function<void()> {
    struct Submit {
      grpc::ClientContext ctx;
      std::unique_ptr<grpc::ClientReaderWriter<Hop, Hop>> stream;
      Hop job;
      Hop reply;
      ~Submit() {
        ctx.TryCancel();
        stream->Finish();
      }
    };
    auto s = std::make_shared<Submit>();
    s->stream = stub->Submit(&s->ctx);
    s->job.set_payload(payload);
    return [s] {
      s->job.set_ref(s->job.ref() + 1);
      if (!s->stream->Write(s->job) || !s->stream->Read(&s->reply)) {
        throw Error("relay: the stream ended");
      }
      if (s->reply.ref() != s->job.ref() || s->reply.payload() != s->job.payload()) {
        throw Error("relay: a reply that is not the job's");
      }
    };
  };
}

}  // namespace bench
