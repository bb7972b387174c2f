// The processes the benchmark driver starts besides the servers: one worker per system (takes
// each job and completes it at once with the job's payload), the channel producers, and the
// gRPC floor servers (the relay's are in relay.cpp). Each is `orch_bench role KIND --flag value
// ...`, bounds its own lifetime (--max-seconds) and is stopped by the driver by its pid.

#include "roles.h"

#include <hiredis.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "orch/bench/floor.grpc.pb.h"
#include "orch/client/client.h"
#include "orch/common/arena_message.h"
#include "peers.h"
#include "relay.h"
#include "support.h"

namespace bench {
namespace {

using Flags = std::map<std::string, std::string>;

Flags parse_flags(const std::vector<std::string>& args, std::size_t from) {
  Flags flags;
  for (std::size_t i = from; i + 1 < args.size(); i += 2) {
    if (args[i].rfind("--", 0) != 0) throw Error("role: expected a --flag, got " + args[i]);
    flags[args[i].substr(2)] = args[i + 1];
  }
  return flags;
}

const std::string& need(const Flags& flags, const std::string& key) {
  const auto it = flags.find(key);
  if (it == flags.end()) throw Error("role: --" + key + " is required");
  return it->second;
}

std::uint16_t port_of(const Flags& flags) {
  return static_cast<std::uint16_t>(std::stoul(need(flags, "port")));
}

void touch(const Flags& flags) {
  const auto it = flags.find("ready");
  if (it != flags.end()) std::ofstream(it->second) << "ready\n";
}

// Runs `body(i)` on `n` threads and joins them; the first exception ends the process.
template <class Body>
void on_threads(unsigned n, Body body) {
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([&body, i] {
      try {
        body(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "worker thread %u: %s\n", i, e.what());
        std::fflush(stderr);
        std::_Exit(1);
      }
    });
  }
  for (auto& t : threads) t.join();
}

// Jobs of the peers that carry their reply address in the body: "REPLY|PAYLOAD".
std::pair<std::string, std::string> split_job(const std::string& body) {
  const auto bar = body.find('|');
  if (bar == std::string::npos) throw Error("job without a reply address");
  return {body.substr(0, bar), body.substr(bar + 1)};
}

// ----- workers ------------------------------------------------------------------------------

// The orchestrd worker: one Connect stream driven by gRPC's callbacks. Each batch of
// assignments is answered at once; results that become ready while a write is in flight leave
// together in the next Completions message, as the peers' workers batch their replies.
class OrchWorker final
    : public grpc::ClientBidiReactor<orch::v1::WorkerMessage, orch::v1::ServerMessage> {
 public:
  OrchWorker(orch::client::Client& client, std::uint32_t slots) : ctx_(client.context()) {
    client.workers().async()->Connect(ctx_.get(), this);
    auto* hello = writes_.filling()->mutable_hello();
    hello->set_worker_name("bench");
    hello->add_queues("bench");
    hello->set_slots(slots);
    writing_ = true;
    StartWrite(writes_.take());
    StartRead(in_.get());
    StartCall();
  }

  // Blocks until the Welcome (true) or the stream's end (false).
  bool wait_welcome(std::chrono::seconds& interval) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return welcomed_ || done_; });
    interval = interval_;
    return welcomed_;
  }
  // Blocks until the stream ends.
  void wait_done() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
  }
  // A heartbeat goes out with the next write unless results do.
  void heartbeat() {
    std::unique_lock lock(mutex_);
    beat_due_ = true;
    write_locked(lock);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      const std::lock_guard lock(mutex_);
      over_ = true;  // no write may start now: OnDone follows the last one
      return;
    }
    if (in_->has_welcome()) {
      const std::lock_guard lock(mutex_);
      welcomed_ = true;
      interval_ = std::chrono::seconds(in_->welcome().heartbeat_interval().seconds());
      cv_.notify_all();
    } else if (in_->has_assignments()) {
      std::unique_lock lock(mutex_);
      auto* completions = writes_.filling()->mutable_completions();
      for (auto& a : *in_->mutable_assignments()->mutable_assignments()) {
        auto* r = completions->add_results();
        r->set_assignment_id(std::move(*a.mutable_assignment_id()));
        r->set_task_id(std::move(*a.mutable_task_id()));
        r->set_attempt(a.attempt());
        r->set_fencing_token(a.fencing_token());
        r->set_output(std::move(*a.mutable_payload()));
      }
      write_locked(lock);
    }
    in_.renew();
    StartRead(in_.get());
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mutex_);
    writing_ = false;
    if (ok) write_locked(lock);
  }

  void OnDone(const grpc::Status&) override {
    const std::lock_guard lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  // Starts a write of what is queued (or a due heartbeat) unless one is in flight. Unlocks.
  void write_locked(std::unique_lock<std::mutex>& lock) {
    if (writing_ || over_) return;
    if (writes_.filling()->kind_case() == orch::v1::WorkerMessage::KIND_NOT_SET) {
      if (!beat_due_) return;
      writes_.filling()->mutable_heartbeat();
    }
    beat_due_ = false;
    writing_ = true;
    auto* out = writes_.take();
    lock.unlock();
    StartWrite(out);
  }

  std::unique_ptr<grpc::ClientContext> ctx_;
  // Messages on arenas renewed per use (orch/common/arena_message.h).
  orch::ArenaMessage<orch::v1::ServerMessage> in_;
  std::mutex mutex_;
  std::condition_variable cv_;
  orch::ArenaWritePair<orch::v1::WorkerMessage> writes_;
  bool writing_ = false;
  bool beat_due_ = false;
  bool over_ = false;
  bool welcomed_ = false;
  bool done_ = false;
  std::chrono::seconds interval_{10};
};

void worker_orchestrd(const Flags& flags) {
  orch::client::Client client(orch::client::ClientOptions{need(flags, "address"), ""});
  OrchWorker worker(client, static_cast<std::uint32_t>(std::stoul(need(flags, "conns"))));
  std::chrono::seconds interval{};
  if (!worker.wait_welcome(interval)) throw Error("worker: no Welcome");
  std::thread([&] {
    // Heartbeats twice per interval for as long as the process lives (bounded by --max-seconds).
    for (;;) {
      std::this_thread::sleep_for(std::max<std::chrono::milliseconds>(interval / 2, Ms(100)));
      worker.heartbeat();
    }
  }).detach();
  touch(flags);
  worker.wait_done();
  std::_Exit(0);
}

void worker_redis(const Flags& flags) {
  const auto port = port_of(flags);
  const unsigned conns = static_cast<unsigned>(std::stoul(need(flags, "conns")));
  std::atomic<unsigned> connected{0};
  on_threads(conns, [&](unsigned) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (c == nullptr || c->err) throw Error("redis connect failed");
    if (++connected == conns) touch(flags);
    for (;;) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "BRPOP bench:jobs 0"));
      if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        throw Error("redis BRPOP failed");
      }
      const auto [reply_key, payload] = split_job(std::string(r->element[1]->str, r->element[1]->len));
      freeReplyObject(r);
      r = static_cast<redisReply*>(redisCommand(c, "LPUSH %b %b", reply_key.data(), reply_key.size(),
                                                payload.data(), payload.size()));
      if (r == nullptr || r->type != REDIS_REPLY_INTEGER) throw Error("redis LPUSH failed");
      freeReplyObject(r);
    }
  });
}

void worker_beanstalkd(const Flags& flags) {
  const auto port = port_of(flags);
  const unsigned conns = static_cast<unsigned>(std::stoul(need(flags, "conns")));
  std::atomic<unsigned> connected{0};
  on_threads(conns, [&](unsigned) {
    Beanstalk b(port, Ms(0));
    b.watch("jobs");
    b.ignore("default");
    if (++connected == conns) touch(flags);
    std::string used = "default";
    for (;;) {
      b.conn().write_all("reserve\r\n");
      const auto job = b.read_reserved();
      const auto [tube, payload] = split_job(job.body);
      // delete, use (when the reply tube changes) and put in one write, then their replies.
      std::string batch = "delete " + std::to_string(job.id) + "\r\n";
      const bool switch_tube = tube != used;
      if (switch_tube) batch += "use " + tube + "\r\n";
      batch += "put 0 0 60 " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
      b.conn().write_all(batch);
      if (b.conn().read_line() != "DELETED") throw Error("beanstalkd delete failed");
      if (switch_tube && b.conn().read_line().rfind("USING", 0) != 0) throw Error("use failed");
      if (b.conn().read_line().rfind("INSERTED", 0) != 0) throw Error("beanstalkd put failed");
      used = tube;
    }
  });
}

void worker_gearmand(const Flags& flags) {
  const auto port = port_of(flags);
  const unsigned conns = static_cast<unsigned>(std::stoul(need(flags, "conns")));
  std::atomic<unsigned> connected{0};
  on_threads(conns, [&](unsigned) {
    Gearman g(port, Ms(0));
    g.send(Gearman::kCanDo, {"bench"});
    g.send(Gearman::kEchoReq, {"x"});
    while (g.read().type != Gearman::kEchoRes) {
    }
    if (++connected == conns) touch(flags);
    g.send(Gearman::kGrabJob, {});
    for (;;) {
      const auto p = g.read();
      if (p.type == Gearman::kNoJob) {
        g.send(Gearman::kPreSleep, {});
        while (g.read().type != Gearman::kNoop) {
        }
        g.send(Gearman::kGrabJob, {});
      } else if (p.type == Gearman::kJobAssign) {
        // handle \0 function \0 payload
        const auto a = p.data.find('\0');
        const auto b = p.data.find('\0', a + 1);
        const std::string handle = p.data.substr(0, a);
        const std::string payload = p.data.substr(b + 1);
        g.conn().write_all(Gearman::encode(Gearman::kWorkComplete, {handle, payload}) +
                           Gearman::encode(Gearman::kGrabJob, {}));
      }
      // NOOP while awake: ignored.
    }
  });
}

void worker_nats(const Flags& flags) {
  Nats n(port_of(flags), Ms(0));
  n.subscribe("bench.jobs", "workers", 1);
  n.flush();
  touch(flags);
  std::string out;
  for (;;) {
    const auto msg = n.next();
    out += Nats::pub(msg.reply, "", msg.payload);
    // Flush once nothing more is buffered: replies to a burst go out in one write.
    if (!n.conn().has_buffered()) {
      n.conn().write_all(out);
      out.clear();
    }
  }
}

// ----- channel producers --------------------------------------------------------------------

void producer(const std::string& system, const Flags& flags) {
  const std::uint64_t count = std::stoull(need(flags, "count"));
  const std::uint64_t batch = std::stoull(need(flags, "batch"));
  const std::string payload(16, 'p');
  if (system == "orchestrd") {
    orch::client::Client client(orch::client::ClientOptions{need(flags, "address"), ""});
    for (std::uint64_t sent = 0; sent < count;) {
      orch::v1::SendRequest req;
      req.set_name("bench");
      const auto n = std::min(batch, count - sent);
      for (std::uint64_t i = 0; i < n; ++i) req.add_payloads(payload);
      orch::v1::SendResponse resp;
      auto ctx = client.context(Ms(30000));
      const auto status = client.channels().Send(ctx.get(), req, &resp);
      if (!status.ok()) throw Error("Send: " + status.error_message());
      sent += resp.accepted();
    }
  } else if (system == "nats") {
    Nats n(port_of(flags), Ms(30000));
    std::string out;
    for (std::uint64_t sent = 0; sent < count;) {
      out.clear();
      const auto k = std::min(batch, count - sent);
      for (std::uint64_t i = 0; i < k; ++i) out += Nats::pub("bench.ch", "", payload);
      n.conn().write_all(out);
      sent += k;
    }
    n.flush();
  } else if (system == "redis") {
    redisContext* c = redisConnect("127.0.0.1", port_of(flags));
    if (c == nullptr || c->err) throw Error("redis connect failed");
    for (std::uint64_t sent = 0; sent < count;) {
      const auto k = std::min(batch, count - sent);
      std::vector<const char*> argv{"LPUSH", "bench:ch"};
      std::vector<std::size_t> lens{5, 8};
      for (std::uint64_t i = 0; i < k; ++i) {
        argv.push_back(payload.data());
        lens.push_back(payload.size());
      }
      auto* r = static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
      if (r == nullptr || r->type != REDIS_REPLY_INTEGER) throw Error("redis LPUSH failed");
      freeReplyObject(r);
      sent += k;
    }
  } else {
    throw Error("producer: unknown system " + system);
  }
}

// ----- floor gRPC server --------------------------------------------------------------------

class FloorService final : public orch::bench::Floor::CallbackService {
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* ctx, const orch::bench::Empty*,
                                 orch::bench::Empty*) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

void floor_server(const Flags& flags) {
  FloorService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + need(flags, "port"), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) throw Error("floor: cannot listen");
  touch(flags);
  server->Wait();
}

}  // namespace

int run_role(const std::vector<std::string>& args) {
  // args: role KIND [SYSTEM] --flag value ...
  if (args.size() < 2) throw Error("role: which?");
  const std::string& kind = args[1];
  const bool has_system = kind == "worker" || kind == "producer";
  const std::string system = has_system && args.size() > 2 ? args[2] : "";
  const Flags flags = parse_flags(args, has_system ? 3 : 2);
  const auto max = flags.find("max-seconds");
  exit_after(max == flags.end() ? 600.0 : std::stod(max->second));
  if (kind == "worker") {
    if (system == "orchestrd") worker_orchestrd(flags);
    else if (system == "redis") worker_redis(flags);
    else if (system == "beanstalkd") worker_beanstalkd(flags);
    else if (system == "gearmand") worker_gearmand(flags);
    else if (system == "nats") worker_nats(flags);
    else if (system == "grpc-relay") relay_worker(port_of(flags), need(flags, "ready"));
    else throw Error("worker: unknown system " + system);
  } else if (kind == "producer") {
    producer(system, flags);
  } else if (kind == "floor") {
    floor_server(flags);
  } else if (kind == "relay") {
    relay_server(port_of(flags));
  } else {
    throw Error("role: unknown kind " + kind);
  }
  return 0;
}

}  // namespace bench
