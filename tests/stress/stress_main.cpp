// orch_stress: load and fault test of orchestrd. Many clients spawn, join, watch, subscribe and
// lock while their calls are cut short, workers are SIGKILLed and, in a second phase, the daemon
// gets SIGTERM; then every acknowledgement is checked against what was observed. See
// tests/stress/README.md for what is checked and how to run it.
//
//   orch_stress [--seconds S] [--clients N] [--seed X]     (env: STRESS_SECONDS, STRESS_CLIENTS,
//                                                            STRESS_SEED)
//
// Exit code 0 when nothing was lost or leaked, 1 otherwise, 2 on bad arguments.
#include <fcntl.h>
#include <grpc/grpc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "ledgers.h"
#include "orch/common/grpc_codes.h"
#include "orch/client/client.h"
#include "orch/client/specs.h"
#include "subprocess.h"
#include "task_calls.h"
#include "test_support.h"

namespace orch::stress {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// A sanitizer build keeps freed memory in quarantine (ASan) or beside its shadow (TSan), so the
// daemon's RSS grows with the work whether or not it leaks; LeakSanitizer checks the daemon for
// leaks at its exit instead, which the daemon's exit code reports.
constexpr bool kRssBoundHolds = false;
#else
constexpr bool kRssBoundHolds = true;
#endif

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using orch::test::DaemonProcess;

constexpr const char* kTenant = "stress";
constexpr const char* kToken = "stress-secret";
constexpr const char* kQueue = "stress-q";
constexpr unsigned kMutexes = 3;
constexpr auto kLong = std::chrono::milliseconds(60'000);  // bound of every "normal" call
constexpr auto kLeaseTtl = 5s;                             // mutex leases
constexpr auto kAckDeadline = 1s;                          // at-least-once redelivery
// The program each orchctl worker runs per assignment: answers its payload.
const std::vector<std::string> kWorkerProgram = {"/bin/sh", "-c", "sleep 0.05; exec cat"};

// ---------------------------------------------------------------------------------------------
// Options, counters, randomness, /proc
// ---------------------------------------------------------------------------------------------

struct Options {
  double seconds = 60;
  unsigned clients = 16;
  std::uint64_t seed = 0;
};

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  o.seed = static_cast<std::uint64_t>(Steady::now().time_since_epoch().count());
  if (const char* v = std::getenv("STRESS_SECONDS")) o.seconds = std::atof(v);
  if (const char* v = std::getenv("STRESS_CLIENTS"))
    o.clients = static_cast<unsigned>(std::atoi(v));
  if (const char* v = std::getenv("STRESS_SEED")) o.seed = std::strtoull(v, nullptr, 10);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seconds" && has_value) {
      o.seconds = std::atof(argv[++i]);
    } else if (arg == "--clients" && has_value) {
      o.clients = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (arg == "--seed" && has_value) {
      o.seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::cerr << "usage: orch_stress [--seconds S] [--clients N] [--seed X]\n";
      return std::nullopt;
    }
  }
  if (o.seconds < 2 || o.seconds > 3600 || o.clients < 1 || o.clients > 512) {
    std::cerr << "orch_stress: --seconds must be 2 to 3600 and --clients 1 to 512\n";
    return std::nullopt;
  }
  return o;
}

using Counter = std::atomic<std::uint64_t>;

struct Stats {
  Counter rpcs{0};             // unary calls and streams opened
  Counter stream_messages{0};  // messages read from or written to streams
  Counter spawned{0};
  // Faults, by kind.
  Counter cancel_join{0}, cancel_watch{0}, cancel_subscribe{0}, cancel_recv{0}, cancel_send{0},
      cancel_lock{0}, cancel_connect{0}, worker_session_deadline{0}, kill_orchctl_stream{0},
      kill_worker{0}, abort_task{0}, sigterm{0};
  // Things that happened and are allowed.
  Counter late_acks{0}, mutex_holds{0}, mutex_lease_lost{0}, mutex_wait_timeouts{0}, send_full{0},
      watch_overflow{0}, refused_results{0};
};

std::uint64_t faults_total(const Stats& s) {
  return s.cancel_join + s.cancel_watch + s.cancel_subscribe + s.cancel_recv + s.cancel_send +
         s.cancel_lock + s.cancel_connect + s.worker_session_deadline + s.kill_orchctl_stream +
         s.kill_worker + s.abort_task + s.sigterm;
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(gen_) < p; }
  std::chrono::milliseconds ms(int lo, int hi) {
    return std::chrono::milliseconds(uniform(lo, hi));
  }

 private:
  std::mt19937_64 gen_;
};

struct ProcSample {
  long rss_kb = -1;
  long hwm_kb = -1;  // peak RSS since the process started
  long threads = -1;
  long fds = -1;
};

ProcSample sample(pid_t pid) {
  ProcSample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    auto value = [&line] { return std::atol(line.c_str() + line.find(':') + 1); };
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = value();
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_kb = value();
    if (line.rfind("Threads:", 0) == 0) s.threads = value();
  }
  std::error_code ec;
  long fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) s.fds = fds;
  return s;
}

bool is_terminal(v1::TaskState s) {
  return s == v1::TASK_STATE_SUCCEEDED || s == v1::TASK_STATE_FAILED ||
         s == v1::TASK_STATE_CANCELLED || s == v1::TASK_STATE_TIMED_OUT;
}

std::string describe(const grpc::Status& s) { return orch::test::describe(s); }

/// A client with its own TCP connection (gRPC shares connections between channels with equal
/// arguments unless told otherwise), so that closing it is a real disconnect.
/// `small_window`: a fixed 64 KiB stream window, so that a reader that pauses holds up its own
/// stream on the daemon's side soon (a broadcast subscriber then lags).
std::unique_ptr<oc::Client> make_client(const std::string& address, bool small_window = false) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (small_window) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  }
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<oc::Client>(channel, oc::ClientOptions{address, kToken});
}

/// Contexts of streams blocked in Read, so that the run's end can cancel them from outside.
class OpenStreams {
 public:
  void add(grpc::ClientContext* ctx) {
    std::lock_guard lock(mutex_);
    open_.insert(ctx);
  }
  void remove(grpc::ClientContext* ctx) {
    std::lock_guard lock(mutex_);
    open_.erase(ctx);
  }
  std::size_t cancel_all() {
    std::lock_guard lock(mutex_);
    for (auto* ctx : open_) ctx->TryCancel();
    return open_.size();
  }

 private:
  std::mutex mutex_;
  std::set<grpc::ClientContext*> open_;
};

// ---------------------------------------------------------------------------------------------
// Phase 1: load with faults (a) and (b)
// ---------------------------------------------------------------------------------------------

struct MutexCheck {
  std::mutex mutex;
  std::set<std::string> holders;     // guards believed held now
  std::set<std::string> overlapped;  // guards that were held while another was granted
  std::uint64_t last_token = 0;
};

struct Shared {
  explicit Shared(Options o) : options(o) {}
  Options options;
  std::string address;
  std::string log_dir;
  Stats stats;
  Findings findings;
  PipeLedger pipe{findings};
  TaskLedger tasks{findings, &pipe};
  MpscLedger alo{"alo", true, findings};
  MpscLedger amo{"amo", false, findings};
  WatchLedger watch_values{findings};
  std::array<MutexCheck, kMutexes> mutexes;
  OpenStreams streams;

  std::atomic<bool> stop_load{false};     // clients stop; faults stop
  std::atomic<bool> stop_workers{false};  // workers leave (after every task is resolved)
  std::atomic<bool> stop_watchers{false};

  std::mutex results_mutex;
  std::uint64_t bcast_received = 0;
  std::uint64_t bcast_lagged = 0;
  std::vector<std::uint64_t> bcast_finals;  // complete_up_to of streams that ended `closed`
  std::vector<std::uint64_t> watch_finals;  // last version of streams that ended `closed`
  std::vector<std::string> watch_final_values;
  std::uint64_t broadcast_streams = 0;
};

void unexpected(Shared& s, const std::string& what, const grpc::Status& status) {
  s.findings.add("rpc_error", what + ": " + describe(status));
}

class LoadClient {
 public:
  LoadClient(Shared& s, unsigned index)
      : s_(s),
        client_(make_client(s.address)),
        rng_(s.options.seed * 7919 + index),
        tag_("c" + std::to_string(index)) {}

  void run() {
    // Weighted menu of operations.
    const std::vector<std::pair<int, void (LoadClient::*)()>> menu = {
        {20, &LoadClient::spawn_join}, {8, &LoadClient::batch_watch},   {4, &LoadClient::select},
        {4, &LoadClient::abort},       {10, &LoadClient::worker_tasks}, {8, &LoadClient::pipe},
        {8, &LoadClient::alo_send},    {8, &LoadClient::amo_send},      {5, &LoadClient::amo_recv},
        {5, &LoadClient::bcast_send},  {4, &LoadClient::watch_send},    {8, &LoadClient::mutex},
        {4, &LoadClient::reads},
    };
    int total = 0;
    for (const auto& [w, op] : menu) total += w;
    std::uint64_t ops = 0;
    while (!s_.stop_load) {
      int pick = rng_.uniform(1, total);
      for (const auto& [w, op] : menu) {
        if ((pick -= w) <= 0) {
          (this->*op)();
          break;
        }
      }
      if (++ops % 8 == 0) resolve_some();
    }
    resolve_all();
  }

 private:
  // An unexpected status; a transport failure says how far this client's connection got.
  void fail(const std::string& what, const grpc::Status& status) {
    std::string detail = tag_ + ": " + what;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      detail += " [channel state " + std::to_string(client_->channel()->GetState(false)) +
                " after " + std::to_string(++unavailable_) + " such errors and " +
                std::to_string(s_.stats.rpcs.load()) + " RPCs of the run]";
    }
    unexpected(s_, detail, status);
  }

  std::string next_payload(const char* prefix) {
    return std::string(prefix) + "/" + tag_ + "/" + std::to_string(++counter_);
  }

  bool spawn(const v1::TaskSpec& spec, Expect expect, const std::string& payload, std::string& id,
             const std::string& idempotency_key = {}) {
    v1::SpawnRequest request;
    *request.mutable_spec() = spec;
    request.set_name("stress");
    (*request.mutable_labels())["run"] = "stress";
    request.set_idempotency_key(idempotency_key);
    v1::SpawnResponse response;
    ++s_.stats.rpcs;
    auto status = client_->spawn(request, response, kLong);
    if (!status.ok()) {
      fail("Spawn", status);
      return false;
    }
    ++s_.stats.spawned;
    id = response.id();
    s_.tasks.acked(id, expect, payload);
    if (!idempotency_key.empty()) {
      v1::SpawnResponse again;
      ++s_.stats.rpcs;
      status = client_->spawn(request, again, kLong);
      if (!status.ok()) {
        fail("Spawn (same idempotency key)", status);
      } else if (!again.existing() || again.id() != id) {
        s_.findings.add("idempotency", "key " + idempotency_key + " answered " + again.id() +
                                           " (existing=" + (again.existing() ? "true" : "false") +
                                           "), first " + id);
      }
    }
    return true;
  }

  // Joins `ids`; sometimes gives up after a few milliseconds (the call's client goes away).
  void join(const std::vector<std::string>& ids, double cancel_chance = 0.15) {
    v1::JoinRequest request;
    for (const auto& id : ids) request.add_ids(id);
    v1::JoinResponse response;
    const bool cancel = rng_.chance(cancel_chance);
    ++s_.stats.rpcs;
    auto status = client_->join(request, response, cancel ? rng_.ms(1, 30) : kLong);
    if (status.ok()) {
      for (const auto& t : response.tasks()) {
        if (!is_terminal(t.state())) {
          s_.findings.add("join_not_terminal",
                          "Join answered task " + t.id() + " in state " + state_name(t.state()));
        }
        s_.tasks.observe(t);
      }
      return;
    }
    if (cancel && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ++s_.stats.cancel_join;
    } else {
      fail("Join", status);
    }
    pending_.insert(pending_.end(), ids.begin(), ids.end());
  }

  v1::TaskSpec sleep_tree() {
    switch (rng_.uniform(0, 4)) {
      case 0:
        return oc::sleep(rng_.ms(0, 30));
      case 1:
        return oc::join({oc::sleep(rng_.ms(0, 20)), oc::sleep(rng_.ms(0, 20))});
      case 2:
        return oc::select({oc::sleep(2ms), oc::sleep(2s)});
      case 3:
        return oc::sequence({oc::sleep(rng_.ms(0, 10)), oc::sleep(rng_.ms(0, 10))});
      default:
        return oc::timeout(10s, oc::sleep(rng_.ms(0, 20)));
    }
  }

  void spawn_join() {
    std::string id;
    const std::string key = rng_.chance(0.1) ? next_payload("key") : std::string();
    if (spawn(sleep_tree(), Expect::kSucceeded, {}, id, key)) join({id});
  }

  void batch_watch() {
    v1::SpawnBatchRequest request;
    for (int i = 0; i < 3; ++i) {
      auto* t = request.add_tasks();
      *t->mutable_spec() = oc::sleep(rng_.ms(0, 50));
      (*t->mutable_labels())["run"] = "stress";
    }
    v1::SpawnBatchResponse response;
    ++s_.stats.rpcs;
    auto status = client_->spawn_batch(request, response, kLong);
    if (!status.ok()) return fail("SpawnBatch", status);
    std::vector<std::string> ids(response.ids().begin(), response.ids().end());
    for (const auto& id : ids) s_.tasks.acked(id, Expect::kSucceeded);
    s_.stats.spawned += ids.size();

    auto ctx = client_->context(kLong);
    v1::WatchRequest watch;
    for (const auto& id : ids) watch.add_ids(id);
    ++s_.stats.rpcs;
    auto reader = client_->watch(*ctx, watch);
    const bool cancel = rng_.chance(0.2);
    std::set<std::string> terminal;
    v1::TaskEvent event;
    bool cancelled = false;
    while (reader->Read(&event)) {
      ++s_.stats.stream_messages;
      if (cancelled) continue;  // what was already on its way
      s_.tasks.observe(event.task());
      if (is_terminal(event.state())) terminal.insert(event.id());
      if (cancel) {
        ctx->TryCancel();  // the watcher goes away mid-stream
        cancelled = true;
        ++s_.stats.cancel_watch;
      }
    }
    auto finished = reader->Finish();
    if (!cancelled) {
      if (!finished.ok()) {
        fail("Watch", finished);
      } else if (terminal.size() != ids.size()) {
        s_.findings.add("watch_ended_early",
                        "a Watch of " + std::to_string(ids.size()) + " tasks ended OK after " +
                            std::to_string(terminal.size()) + " terminal events");
      }
    }
    for (const auto& id : ids) {
      if (!terminal.contains(id)) pending_.push_back(id);
    }
  }

  void select() {
    std::string fast, slow;
    if (!spawn(oc::sleep(2ms), Expect::kSucceeded, {}, fast)) return;
    if (!spawn(oc::sleep(60s), Expect::kCancelled, {}, slow)) return;
    v1::SelectRequest request;
    request.add_ids(fast);
    request.add_ids(slow);
    request.set_abort_losers(true);
    v1::SelectResponse response;
    ++s_.stats.rpcs;
    auto status = client_->select(request, response, kLong);
    if (status.ok()) {
      if (response.winner() != 0) {
        s_.findings.add("select_winner", "a 2ms sleep lost a select to a 60s sleep");
      }
      s_.tasks.observe(response.task());
    } else {
      fail("Select", status);
      abort_ids({slow});
    }
    pending_.push_back(fast);
    pending_.push_back(slow);
  }

  void abort_ids(const std::vector<std::string>& ids) {
    v1::AbortRequest request;
    for (const auto& id : ids) request.add_ids(id);
    v1::AbortResponse response;
    ++s_.stats.rpcs;
    auto status = client_->abort(request, response, kLong);
    if (!status.ok()) fail("Abort", status);
  }

  void abort() {
    std::string id;
    if (!spawn(oc::sleep(60s), Expect::kCancelled, {}, id)) return;
    if (rng_.chance(0.5)) std::this_thread::sleep_for(rng_.ms(0, 20));
    abort_ids({id});
    ++s_.stats.abort_task;
    join({id});
  }

  void worker_tasks() {
    v1::SpawnBatchRequest request;
    std::vector<std::string> payloads;
    const int n = rng_.uniform(1, 3);
    for (int i = 0; i < n; ++i) {
      payloads.push_back(next_payload("job"));
      auto spec = oc::worker(kQueue, payloads.back());
      *spec.mutable_worker()->mutable_start_to_close() = oc::to_proto(10s);
      spec = oc::with_retry(spec, oc::retry_policy(100, 10ms, 200ms));
      auto* t = request.add_tasks();
      *t->mutable_spec() = spec;
      (*t->mutable_labels())["run"] = "stress";
    }
    v1::SpawnBatchResponse response;
    ++s_.stats.rpcs;
    auto status = client_->spawn_batch(request, response, kLong);
    if (!status.ok()) return fail("SpawnBatch (worker)", status);
    std::vector<std::string> ids(response.ids().begin(), response.ids().end());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      s_.tasks.acked(ids[i], Expect::kWorkerEcho, payloads[i]);
    }
    s_.stats.spawned += ids.size();
    join(ids, 0.1);
  }

  void pipe() {
    std::string id;
    if (rng_.chance(0.5)) {
      const std::string payload = next_payload("pipe");
      if (spawn(oc::send("pipe", payload), Expect::kPipeSend, payload, id)) join({id}, 0.1);
    } else {
      if (spawn(oc::timeout(300ms, oc::recv("pipe")), Expect::kPipeRecv, {}, id)) {
        if (rng_.chance(0.1)) {
          abort_ids({id});  // an aborted recv takes nothing with it
          ++s_.stats.abort_task;
        }
        join({id}, 0.1);
      }
    }
  }

  void mpsc_send(const char* channel, MpscLedger& ledger) {
    v1::SendRequest request;
    request.set_name(channel);
    std::vector<std::string> payloads;
    const int n = rng_.uniform(1, 5);
    for (int i = 0; i < n; ++i) {
      payloads.push_back(next_payload(channel));
      request.add_payloads(payloads.back());
    }
    *request.mutable_timeout() = oc::to_proto(5s);
    const bool cancel = rng_.chance(0.1);
    auto ctx = client_->context(cancel ? rng_.ms(1, 20) : kLong);
    v1::SendResponse response;
    ++s_.stats.rpcs;
    auto status = client_->channels().Send(ctx.get(), request, &response);
    if (status.ok()) {
      ledger.sent(payloads, response.accepted(), response.first_sequence());
    } else if (cancel && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ledger.sent_unknown(payloads);
      ++s_.stats.cancel_send;
    } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ++s_.stats.send_full;  // the channel stayed full for 5s: nothing was sent
    } else {
      fail(std::string("Send ") + channel, status);
    }
  }
  void alo_send() { mpsc_send("alo", s_.alo); }
  void amo_send() { mpsc_send("amo", s_.amo); }

  void amo_recv() {
    v1::RecvRequest request;
    request.set_name("amo");
    const int max = rng_.uniform(1, 4);
    request.set_max_messages(static_cast<std::uint32_t>(max));
    request.set_mode(v1::DELIVERY_MODE_AT_MOST_ONCE);
    *request.mutable_timeout() = oc::to_proto(200ms);
    const bool cancel = rng_.chance(0.15);
    auto ctx = client_->context(cancel ? rng_.ms(1, 30) : kLong);
    v1::RecvResponse response;
    ++s_.stats.rpcs;
    auto status = client_->channels().Recv(ctx.get(), request, &response);
    if (status.ok()) {
      for (const auto& m : response.messages()) s_.amo.delivered(m);
    } else if (cancel && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      // The answer may have left just as this client gave up: at-most-once loses it.
      s_.amo.may_have_lost(static_cast<std::uint64_t>(max));
      ++s_.stats.cancel_recv;
    } else if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      fail("Recv amo", status);
    }
  }

  void bcast_send() {
    v1::SendRequest request;
    request.set_name("bcast");
    const int n = rng_.uniform(1, 8);
    // 4 KiB each, so that a paused subscriber's window fills after a few messages.
    for (int i = 0; i < n; ++i)
      request.add_payloads(next_payload("bcast") + std::string(4096, '.'));
    v1::SendResponse response;
    auto ctx = client_->context(kLong);
    ++s_.stats.rpcs;
    auto status = client_->channels().Send(ctx.get(), request, &response);
    if (!status.ok()) return fail("Send bcast", status);
    if (response.accepted() != static_cast<std::uint32_t>(n)) {
      s_.findings.add("broadcast_send", "a broadcast Send took " +
                                            std::to_string(response.accepted()) + " of " +
                                            std::to_string(n));
    }
  }

  void watch_send() {
    v1::SendRequest request;
    request.set_name("wch");
    const std::string value = next_payload("w");
    request.add_payloads(value);
    v1::SendResponse response;
    auto ctx = client_->context(kLong);
    ++s_.stats.rpcs;
    auto status = client_->channels().Send(ctx.get(), request, &response);
    if (!status.ok()) return fail("Send wch", status);
    s_.watch_values.sent(response.version(), value);
  }

  void mutex() {
    const unsigned k = static_cast<unsigned>(rng_.uniform(0, kMutexes - 1));
    const std::string name = "m-" + std::to_string(k);
    MutexCheck& check = s_.mutexes[k];
    v1::LockRequest request;
    request.set_name(name);
    *request.mutable_lease_ttl() = oc::to_proto(kLeaseTtl);
    *request.mutable_wait_timeout() = oc::to_proto(10s);
    request.set_holder(tag_);
    const bool cancel = rng_.chance(0.15);
    auto ctx = client_->context(cancel ? rng_.ms(1, 20) : kLong);
    v1::LockResponse lock;
    ++s_.stats.rpcs;
    auto status = client_->mutexes().Lock(ctx.get(), request, &lock);
    if (!status.ok()) {
      if (cancel && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        ++s_.stats.cancel_lock;
      } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        ++s_.stats.mutex_wait_timeouts;
      } else {
        fail("Lock", status);
      }
      return;
    }
    ++s_.stats.mutex_holds;
    {
      std::lock_guard guard(check.mutex);
      if (!check.holders.empty()) {
        check.overlapped.insert(check.holders.begin(), check.holders.end());
        check.overlapped.insert(lock.guard());
      } else if (lock.fencing_token() <= check.last_token) {
        s_.findings.add("fencing_token", name + ": token " + std::to_string(lock.fencing_token()) +
                                             " after " + std::to_string(check.last_token));
      }
      check.last_token = std::max(check.last_token, lock.fencing_token());
      check.holders.insert(lock.guard());
    }
    std::this_thread::sleep_for(rng_.ms(0, 3));
    bool overlapped = false;
    {
      std::lock_guard guard(check.mutex);
      check.holders.erase(lock.guard());
      overlapped = check.overlapped.erase(lock.guard()) > 0;
    }
    v1::UnlockRequest unlock;
    unlock.set_name(name);
    unlock.set_guard(lock.guard());
    v1::UnlockResponse unlocked;
    auto uctx = client_->context(kLong);
    ++s_.stats.rpcs;
    status = client_->mutexes().Unlock(uctx.get(), unlock, &unlocked);
    if (status.ok()) {
      if (overlapped) {
        s_.findings.add("mutual_exclusion", name + ": guard " + lock.guard() +
                                                " was valid while another Lock was granted");
      }
    } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      ++s_.stats.mutex_lease_lost;  // held past its lease (a stalled client): allowed
    } else {
      fail("Unlock", status);
    }
  }

  void reads() {
    switch (rng_.uniform(0, 2)) {
      case 0: {
        v1::WhoAmIResponse who;
        ++s_.stats.rpcs;
        auto status = client_->who_am_i(who, kLong);
        if (!status.ok()) fail("WhoAmI", status);
        break;
      }
      case 1: {
        v1::ListTasksRequest request;
        request.set_page_size(10);
        v1::ListTasksResponse response;
        ++s_.stats.rpcs;
        auto status = client_->list(request, response, kLong);
        if (!status.ok()) fail("List", status);
        for (const auto& t : response.tasks()) s_.tasks.observe(t);
        break;
      }
      default:
        resolve_some();
    }
  }

  // Reads pending tasks; drops the terminal ones.
  void resolve_some() {
    std::vector<std::string> still;
    for (const auto& id : pending_) {
      v1::GetTaskRequest request;
      request.set_id(id);
      v1::TaskInfo task;
      ++s_.stats.rpcs;
      auto status = client_->get(request, task, kLong);
      if (status.ok() && is_terminal(task.state())) {
        s_.tasks.observe(task);
      } else if (status.ok()) {
        still.push_back(id);
      } else if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
        fail("Get", status);
        still.push_back(id);
      }
      // NOT_FOUND: past retention; the final check says whether anyone saw it end.
    }
    pending_ = std::move(still);
  }

  void resolve_all() {
    // Terminal tasks first, by Get: one that ended more than the retention period ago is
    // NOT_FOUND now, which would fail a whole Join of its chunk. What is left is still running.
    resolve_some();
    for (std::size_t i = 0; i < pending_.size(); i += 50) {
      std::vector<std::string> chunk(
          pending_.begin() + static_cast<std::ptrdiff_t>(i),
          pending_.begin() + static_cast<std::ptrdiff_t>(std::min(pending_.size(), i + 50)));
      join(chunk, 0.0);
    }
    pending_.clear();
  }

  Shared& s_;
  std::unique_ptr<oc::Client> client_;
  Rng rng_;
  std::string tag_;
  std::uint64_t counter_ = 0;
  std::uint64_t unavailable_ = 0;
  std::vector<std::string> pending_;  // acked tasks whose end this client has not seen yet
};

// Tenant-wide Watch. A steady one never gives up (every task end passes by it); a flaky one
// goes away after a random number of events.
void task_watcher(Shared& s, bool flaky, unsigned index) {
  auto client = make_client(s.address);
  Rng rng(s.options.seed * 31 + index);
  while (!s.stop_watchers) {
    auto ctx = client->context();
    s.streams.add(ctx.get());
    ++s.stats.rpcs;
    auto reader = client->watch(*ctx, v1::WatchRequest());
    const int limit = flaky ? rng.uniform(20, 400) : -1;
    int events = 0;
    bool cancelled = false;
    v1::TaskEvent event;
    while (reader->Read(&event)) {
      ++s.stats.stream_messages;
      if (cancelled) continue;
      s.tasks.observe(event.task());
      if (++events == limit && !s.stop_load) {
        ctx->TryCancel();
        cancelled = true;
        ++s.stats.cancel_watch;
      }
    }
    auto status = reader->Finish();
    s.streams.remove(ctx.get());
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++s.stats.watch_overflow;  // fell 10,000 events behind: documented, reconnect
    } else if (!cancelled && !s.stop_watchers && !status.ok()) {
      unexpected(s, "Watch (all tasks)", status);
      std::this_thread::sleep_for(100ms);
    }
  }
}

// A consumer of the at-least-once channel: acknowledges what it gets, and now and then goes
// away holding a message it has not acknowledged (it comes back after the ack deadline).
void alo_consumer(Shared& s, unsigned index) {
  auto client = make_client(s.address);
  Rng rng(s.options.seed * 131 + index);
  for (;;) {
    auto ctx = client->context();
    s.streams.add(ctx.get());
    v1::SubscribeRequest request;
    request.set_name("alo");
    request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
    *request.mutable_ack_deadline() = oc::to_proto(kAckDeadline);
    request.set_max_unacked(4);
    ++s.stats.rpcs;
    auto reader = client->channels().Subscribe(ctx.get(), request);
    bool closed = false;
    bool crashed = false;
    v1::ChannelEvent event;
    while (reader->Read(&event)) {
      ++s.stats.stream_messages;
      if (crashed) continue;
      if (event.has_closed()) closed = true;
      if (!event.has_message()) continue;
      s.alo.delivered(event.message());
      if (!s.stop_load && rng.chance(0.03)) {
        ctx->TryCancel();  // gone before acknowledging
        crashed = true;
        ++s.stats.cancel_subscribe;
        continue;
      }
      v1::AckRequest ack;
      ack.set_name("alo");
      ack.set_delivery_id(event.message().delivery_id());
      v1::AckResponse acked;
      auto actx = client->context(kLong);
      ++s.stats.rpcs;
      auto status = client->channels().Ack(actx.get(), ack, &acked);
      if (status.ok()) {
        s.alo.acked(event.message().payload());
      } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        ++s.stats.late_acks;  // past the deadline: it is or will be delivered again
      } else {
        unexpected(s, "Ack", status);
      }
    }
    auto status = reader->Finish();
    s.streams.remove(ctx.get());
    if (closed) return;
    if (!crashed && !status.ok()) {
      if (s.stop_watchers) return;  // cancelled from outside at the end of the run
      unexpected(s, "Subscribe alo", status);
      std::this_thread::sleep_for(100ms);
    }
  }
}

void amo_consumer(Shared& s) {
  auto client = make_client(s.address);
  for (;;) {
    v1::RecvRequest request;
    request.set_name("amo");
    request.set_max_messages(8);
    request.set_mode(v1::DELIVERY_MODE_AT_MOST_ONCE);
    *request.mutable_timeout() = oc::to_proto(500ms);
    v1::RecvResponse response;
    auto ctx = client->context(kLong);
    ++s.stats.rpcs;
    auto status = client->channels().Recv(ctx.get(), request, &response);
    if (status.ok()) {
      for (const auto& m : response.messages()) s.amo.delivered(m);
      if (response.closed()) return;
    } else if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      unexpected(s, "Recv amo (consumer)", status);
      if (s.stop_watchers) return;
      std::this_thread::sleep_for(100ms);
    }
  }
}

// Subscriber 1 has a small stream window and pauses now and then: it lags.
void bcast_subscriber(Shared& s, unsigned index) {
  auto client = make_client(s.address, index == 1);
  Rng rng(s.options.seed * 257 + index);
  for (;;) {
    auto ctx = client->context();
    s.streams.add(ctx.get());
    v1::SubscribeRequest request;
    request.set_name("bcast");
    ++s.stats.rpcs;
    auto reader = client->channels().Subscribe(ctx.get(), request);
    BroadcastCheck check;
    bool closed = false;
    bool cancelled = false;
    v1::ChannelEvent event;
    while (reader->Read(&event)) {
      ++s.stats.stream_messages;
      if (cancelled) continue;
      if (event.has_lagged()) check.lagged(event.lagged().skipped());
      if (event.has_closed()) closed = true;
      if (!event.has_message()) continue;
      std::string problem;
      if (!check.message(event.message().sequence(), problem)) {
        s.findings.add("broadcast_gap", "subscriber " + std::to_string(index) + ": " + problem);
      }
      if (!s.stop_load && rng.chance(0.01)) {
        ctx->TryCancel();
        cancelled = true;
        ++s.stats.cancel_subscribe;
      }
      if (index == 1 && !s.stop_load && rng.chance(0.01)) std::this_thread::sleep_for(1500ms);
    }
    auto status = reader->Finish();
    s.streams.remove(ctx.get());
    {
      std::lock_guard lock(s.results_mutex);
      s.bcast_received += check.received();
      s.bcast_lagged += check.lagged_total();
      ++s.broadcast_streams;
      if (closed && check.received() > 0) s.bcast_finals.push_back(check.complete_up_to());
    }
    if (closed) return;
    if (!cancelled && !status.ok()) {
      if (s.stop_watchers) return;
      unexpected(s, "Subscribe bcast", status);
      std::this_thread::sleep_for(100ms);
    }
  }
}

void watch_subscriber(Shared& s, unsigned index) {
  auto client = make_client(s.address);
  Rng rng(s.options.seed * 541 + index);
  for (;;) {
    auto ctx = client->context();
    s.streams.add(ctx.get());
    v1::SubscribeRequest request;
    request.set_name("wch");
    ++s.stats.rpcs;
    auto reader = client->channels().Subscribe(ctx.get(), request);
    std::uint64_t last = 0;
    std::string last_value;
    bool closed = false;
    bool cancelled = false;
    v1::ChannelEvent event;
    while (reader->Read(&event)) {
      ++s.stats.stream_messages;
      if (cancelled) continue;
      if (event.has_closed()) closed = true;
      if (!event.has_value()) continue;
      const auto version = event.value().version();
      if (version <= last) {
        s.findings.add("watch_went_back",
                       "version " + std::to_string(version) + " after " + std::to_string(last));
      }
      last = version;
      last_value = event.value().value();
      s.watch_values.seen(version, last_value);
      if (!s.stop_load && rng.chance(0.05)) {
        ctx->TryCancel();
        cancelled = true;
        ++s.stats.cancel_subscribe;
      }
    }
    auto status = reader->Finish();
    s.streams.remove(ctx.get());
    if (closed) {
      std::lock_guard lock(s.results_mutex);
      s.watch_finals.push_back(last);
      s.watch_final_values.push_back(last_value);
      return;
    }
    if (!cancelled && !status.ok()) {
      if (s.stop_watchers) return;
      unexpected(s, "Subscribe wch", status);
      std::this_thread::sleep_for(100ms);
    }
  }
}

// A worker written against WorkerService directly: answers each payload. Each session lives a
// random 1-4 s (its client deadline) and sometimes goes away right after taking an assignment.
void inproc_worker(Shared& s, unsigned index) {
  auto client = make_client(s.address);
  Rng rng(s.options.seed * 1009 + index);
  while (!s.stop_workers) {
    auto ctx = client->context(rng.ms(1000, 4000));
    ++s.stats.rpcs;
    auto stream = client->workers().Connect(ctx.get());
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_name("inproc-" + std::to_string(index));
    hello.mutable_hello()->add_queues(kQueue);
    hello.mutable_hello()->set_slots(2);
    stream->Write(hello);
    bool cancelled = false;
    v1::ServerMessage message;
    while (stream->Read(&message)) {
      ++s.stats.stream_messages;
      if (message.has_result_refused()) ++s.stats.refused_results;
      if (!message.has_assignments() || cancelled) continue;
      for (const auto& a : message.assignments().assignments()) {
        if (!s.stop_load && rng.chance(0.05)) {
          ctx->TryCancel();  // gone holding the assignment
          cancelled = true;
          ++s.stats.cancel_connect;
          break;
        }
        v1::WorkerMessage reply;
        auto* r = reply.mutable_completions()->add_results();
        r->set_assignment_id(a.assignment_id());
        r->set_task_id(a.task_id());
        r->set_attempt(a.attempt());
        r->set_fencing_token(a.fencing_token());
        r->set_output(a.payload());
        ++s.stats.stream_messages;
        if (!stream->Write(reply)) break;
      }
    }
    auto status = stream->Finish();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ++s.stats.worker_session_deadline;
    } else if (!cancelled && !status.ok()) {
      unexpected(s, "Connect", status);
      std::this_thread::sleep_for(100ms);
    }
  }
}

// Child processes: orchctl workers (SIGKILLed now and then) and orchctl streams killed
// mid-stream (an abrupt TCP close). Runs on one thread, which forks and reaps all of them (a
// child's PR_SET_PDEATHSIG follows the thread that forked it).
class Children {
 public:
  Children(const Shared& s, std::string log_path)
      : orchctl_{s.address, kToken}, log_path_(std::move(log_path)) {}
  ~Children() {
    for (auto& [pid, until] : streams_) kill_and_reap(pid, SIGKILL);
    for (pid_t pid : workers_) kill_and_reap(pid, SIGKILL);
  }

  pid_t start(const std::vector<std::string>& args) {
    const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    std::vector<std::string> argv = {orch::test::kOrchctl};
    const auto rest = orchctl_.argv(args);
    argv.insert(argv.end(), rest.begin(), rest.end());
    const pid_t pid = orch::test::spawn_child(argv, -1, -1, log);
    if (log >= 0) ::close(log);
    return pid;
  }
  static std::vector<std::string> worker_args() {
    std::vector<std::string> args = {"worker", "--queue", kQueue, "--slots", "3", "--"};
    args.insert(args.end(), kWorkerProgram.begin(), kWorkerProgram.end());
    return args;
  }
  pid_t start_worker() {
    const pid_t pid = start(worker_args());
    workers_.push_back(pid);
    return pid;
  }
  /// Exit code of a reaped child (128+N for signal N); -1 if it did not end within `wait`.
  static int kill_and_reap(pid_t pid, int sig, std::chrono::milliseconds wait = 10s) {
    ::kill(pid, sig);
    return reap(pid, wait, sig != SIGKILL);
  }
  static int reap(pid_t pid, std::chrono::milliseconds wait, bool then_kill = true) {
    const auto deadline = Steady::now() + wait;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) return orch::test::exit_code_of(status);
      if (r < 0) return -1;
      if (Steady::now() >= deadline) {
        if (!then_kill) return -1;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(5ms);  // polling a child's exit, bounded above
    }
  }

  std::vector<pid_t> workers_;
  std::vector<std::pair<pid_t, Steady::time_point>> streams_;  // killed at the time given

 private:
  orch::test::Orchctl orchctl_;
  std::string log_path_;
};

void fault_thread(Shared& s) {
  Children children(s, s.log_dir + "/children.log");
  Rng rng(s.options.seed * 4099);
  for (int i = 0; i < 2; ++i) children.start_worker();
  auto next_worker_kill = Steady::now() + rng.ms(500, 1500);
  auto next_stream = Steady::now() + rng.ms(200, 800);
  const std::vector<std::vector<std::string>> stream_commands = {
      {"chan", "sub", "alo", "--ack-deadline", "1s", "--max-unacked", "4"},
      {"chan", "sub", "bcast"},
      {"watch"},
  };
  while (!s.stop_load) {
    const auto now = Steady::now();
    if (now >= next_worker_kill) {
      auto& pid = children.workers_[static_cast<std::size_t>(rng.uniform(0, 1))];
      Children::kill_and_reap(pid, SIGKILL);
      ++s.stats.kill_worker;
      pid = children.start(Children::worker_args());
      next_worker_kill = now + rng.ms(500, 2000);
    }
    if (now >= next_stream) {
      const auto& args = stream_commands[static_cast<std::size_t>(rng.uniform(0, 2))];
      children.streams_.emplace_back(children.start(args), now + rng.ms(200, 1500));
      next_stream = now + rng.ms(300, 1000);
    }
    auto& streams = children.streams_;
    for (auto it = streams.begin(); it != streams.end();) {
      if (now >= it->second) {
        Children::kill_and_reap(it->first, SIGKILL);
        ++s.stats.kill_orchctl_stream;
        it = streams.erase(it);
      } else {
        ++it;
      }
    }
    std::this_thread::sleep_for(20ms);  // the fault schedule's tick
  }
  for (auto& [pid, until] : children.streams_) {
    Children::kill_and_reap(pid, SIGKILL);
    ++s.stats.kill_orchctl_stream;
  }
  children.streams_.clear();
  // Workers stay until every client has seen its tasks end, then leave with SIGTERM.
  while (!s.stop_workers) std::this_thread::sleep_for(50ms);
  for (pid_t pid : children.workers_) Children::kill_and_reap(pid, SIGTERM);
  children.workers_.clear();
}

// ---------------------------------------------------------------------------------------------
// Helpers of the checks
// ---------------------------------------------------------------------------------------------

bool create_channel(oc::Client& client, const std::string& name, v1::ChannelKind kind,
                    std::uint32_t capacity, const std::string& initial = {}) {
  v1::CreateChannelRequest request;
  request.set_name(name);
  request.set_kind(kind);
  request.set_capacity(capacity);
  request.set_initial_value(initial);
  v1::ChannelInfo info;
  auto ctx = client.context(kLong);
  auto status = client.channels().Create(ctx.get(), request, &info);
  if (!status.ok()) std::cerr << "Create " << name << ": " << describe(status) << "\n";
  return status.ok();
}

std::optional<v1::ChannelInfo> channel_info(oc::Client& client, const std::string& name) {
  v1::GetChannelRequest request;
  request.set_name(name);
  v1::ChannelInfo info;
  auto ctx = client.context(kLong);
  if (!client.channels().Get(ctx.get(), request, &info).ok()) return std::nullopt;
  return info;
}

void close_channel(Shared& s, oc::Client& client, const std::string& name) {
  v1::CloseChannelRequest request;
  request.set_name(name);
  v1::ChannelInfo info;
  auto ctx = client.context(kLong);
  auto status = client.channels().Close(ctx.get(), request, &info);
  if (!status.ok()) unexpected(s, "Close " + name, status);
}

struct Threads {
  struct One {
    std::string name;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<One> all;
  template <typename F>
  void start(std::string name, F f) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    all.push_back(One{std::move(name), std::thread([f = std::move(f), done]() mutable {
                        f();
                        *done = true;
                      }),
                      done});
  }
  /// Joins those whose name starts with `prefix`; the names of those still running after
  /// `limit` (left detached: the run fails).
  std::vector<std::string> join(const std::string& prefix, std::chrono::seconds limit) {
    std::vector<std::string> stuck;
    const auto deadline = Steady::now() + limit;
    for (auto& one : all) {
      if (one.name.rfind(prefix, 0) != 0 || !one.thread.joinable()) continue;
      while (!*one.done && Steady::now() < deadline) std::this_thread::sleep_for(20ms);
      if (*one.done) {
        one.thread.join();
      } else {
        stuck.push_back(one.name);
        one.thread.detach();
      }
    }
    return stuck;
  }
};

double mib(long kb) { return static_cast<double>(kb) / 1024.0; }

/// Findings that mean something acknowledged was lost.
std::size_t losses(const Findings& f) {
  return f.count("lost_task") + f.count("lost_message") + f.count("broadcast_gap") +
         f.count("watch_not_latest");
}

std::string fixed(double v, int precision = 1) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(precision);
  out << v;
  return out.str();
}

orch::test::TestConfig stress_config(const std::string& retention, const std::string& grace) {
  orch::test::TestConfig config;
  config.tenants = {orch::test::TestTenant{
      .name = kTenant, .token = kToken, .max_concurrency = 16, .max_queued = 100'000}};
  config.retention = retention;
  config.shutdown_grace = grace;
  config.threads = 2;
  config.log_level = "info";
  return config;
}

/// Keeps the daemon's directory (log, children's log) when the run found something.
void keep_log(const DaemonProcess& daemon, const std::string& label, bool failed) {
  if (!failed) return;
  const std::string dest = std::filesystem::temp_directory_path().string() + "/orch-stress-" +
                           label + "-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::copy(daemon.dir(), dest, std::filesystem::copy_options::recursive, ec);
  std::cout << "  daemon log kept in " << dest << "\n";
}

/// SIGTERM; if the daemon still runs after 15 s, its threads' stacks (gdb, when installed) go
/// to gdb-stacks.txt in its directory before it is killed. Returns the exit code.
int stop_or_diagnose(DaemonProcess& daemon) {
  daemon.signal(SIGTERM);
  if (auto code = daemon.wait_exit(15s)) return *code;
  const std::string out = daemon.dir() + "/gdb-stacks.txt";
  auto gdb = orch::test::run_command(
      {"/bin/sh", "-c",
       "command -v gdb >/dev/null && gdb -p " + std::to_string(daemon.pid()) +
           " -batch -ex 'thread apply all bt' > " + out + " 2>&1"},
      {}, 60s);
  std::cout << "  orchestrd ignored SIGTERM for 15 s; stacks in " << out << "\n";
  return daemon.stop(15s);
}

// ---------------------------------------------------------------------------------------------
// Phase 1
// ---------------------------------------------------------------------------------------------

bool phase1(const Options& options, double load_seconds, std::ostream& out) {
  const auto retention =
      std::chrono::seconds(std::clamp(static_cast<int>(load_seconds / 4), 5, 30));
  DaemonProcess daemon(stress_config(std::to_string(retention.count()) + "s", "2s"));
  Shared s(options);
  s.address = daemon.grpc_address();
  s.log_dir = daemon.dir();
  auto main_client = make_client(s.address);

  v1::WhoAmIResponse who;
  if (!main_client->who_am_i(who, kLong).ok()) {
    out << "cannot reach the daemon\n";
    return false;
  }
  bool created = create_channel(*main_client, "alo", v1::CHANNEL_KIND_MPSC, 64) &&
                 create_channel(*main_client, "amo", v1::CHANNEL_KIND_MPSC, 64) &&
                 create_channel(*main_client, "pipe", v1::CHANNEL_KIND_MPSC, 1000) &&
                 create_channel(*main_client, "bcast", v1::CHANNEL_KIND_BROADCAST, 32) &&
                 create_channel(*main_client, "wch", v1::CHANNEL_KIND_WATCH, 0, "w0");
  if (!created) return false;
  s.watch_values.sent(1, "w0");
  std::this_thread::sleep_for(300ms);
  const ProcSample before = sample(daemon.pid());

  Threads threads;
  threads.start("faults", [&s] { fault_thread(s); });
  threads.start("watcher-steady", [&s] { task_watcher(s, false, 0); });
  threads.start("watcher-flaky", [&s] { task_watcher(s, true, 1); });
  for (unsigned i = 0; i < 2; ++i) {
    threads.start("consumer-alo-" + std::to_string(i), [&s, i] { alo_consumer(s, i); });
    threads.start("consumer-amo-" + std::to_string(i), [&s] { amo_consumer(s); });
    threads.start("consumer-bcast-" + std::to_string(i), [&s, i] { bcast_subscriber(s, i); });
    threads.start("consumer-wch-" + std::to_string(i), [&s, i] { watch_subscriber(s, i); });
    threads.start("worker-" + std::to_string(i), [&s, i] { inproc_worker(s, i); });
  }
  for (unsigned i = 0; i < options.clients; ++i) {
    threads.start("client-" + std::to_string(i), [&s, i] { LoadClient(s, i).run(); });
  }

  const auto load_end =
      Steady::now() + std::chrono::milliseconds(static_cast<long>(load_seconds * 1000));
  ProcSample peak = before;
  while (Steady::now() < load_end) {
    std::this_thread::sleep_for(250ms);
    const ProcSample now = sample(daemon.pid());
    peak.rss_kb = std::max(peak.rss_kb, now.rss_kb);
    peak.fds = std::max(peak.fds, now.fds);
    peak.threads = std::max(peak.threads, now.threads);
  }
  const ProcSample at_load_end = sample(daemon.pid());

  // Stop the load: clients finish their current call and see every task of theirs end.
  s.stop_load = true;
  std::vector<std::string> stuck = threads.join("client-", 180s);
  s.stop_workers = true;
  auto more = threads.join("worker-", 30s);
  stuck.insert(stuck.end(), more.begin(), more.end());
  more = threads.join("faults", 60s);
  stuck.insert(stuck.end(), more.begin(), more.end());

  // Channels: close them; consumers read what is left (at-least-once redeliveries included)
  // and end on `closed`.
  std::optional<v1::ChannelInfo> bcast_info = channel_info(*main_client, "bcast");
  std::optional<v1::ChannelInfo> wch_info = channel_info(*main_client, "wch");
  for (const char* name : {"alo", "amo", "bcast", "wch", "pipe"})
    close_channel(s, *main_client, name);
  more = threads.join("consumer-", 60s);
  stuck.insert(stuck.end(), more.begin(), more.end());
  s.stop_watchers = true;
  s.streams.cancel_all();
  more = threads.join("watcher-", 30s);
  stuck.insert(stuck.end(), more.begin(), more.end());
  for (const auto& name : stuck) s.findings.add("stuck", name + " did not finish");

  // What is left in the pipe belongs to no recv task: read it out.
  for (;;) {
    v1::RecvRequest request;
    request.set_name("pipe");
    request.set_max_messages(1000);
    *request.mutable_timeout() = oc::to_proto(5s);
    v1::RecvResponse response;
    auto ctx = main_client->context(kLong);
    auto status = main_client->channels().Recv(ctx.get(), request, &response);
    if (!status.ok()) {
      unexpected(s, "Recv pipe (drain)", status);
      break;
    }
    for (const auto& m : response.messages()) s.pipe.received(m.payload(), "drain");
    if (response.closed()) break;
  }

  // Every acknowledged task: seen terminal by someone, or read now.
  for (const auto& id : s.tasks.unobserved()) {
    v1::GetTaskRequest request;
    request.set_id(id);
    v1::TaskInfo task;
    auto status = main_client->get(request, task, kLong);
    if (status.ok()) s.tasks.observe(task);
  }
  const auto tasks = s.tasks.resolve(false);
  const auto pipe = s.pipe.check();
  const auto alo = s.alo.check();
  const auto amo = s.amo.check();
  const auto watch_reads = s.watch_values.check();
  {
    std::lock_guard lock(s.results_mutex);
    const std::uint64_t final_seq = bcast_info ? bcast_info->messages_sent() : 0;
    for (auto f : s.bcast_finals) {
      if (f != final_seq) {
        s.findings.add("broadcast_gap", "a subscriber ended `closed` complete up to sequence " +
                                            std::to_string(f) + ", the channel sent " +
                                            std::to_string(final_seq));
      }
    }
    const std::uint64_t final_version = wch_info ? wch_info->version() : 0;
    for (std::size_t i = 0; i < s.watch_finals.size(); ++i) {
      if (s.watch_finals[i] != final_version) {
        s.findings.add("watch_not_latest", "a watch reader ended `closed` on version " +
                                               std::to_string(s.watch_finals[i]) + ", latest " +
                                               std::to_string(final_version));
      }
    }
  }

  // Permits and tasks: nothing in use once everything has ended.
  for (const char* name : {"alo", "amo", "pipe", "bcast", "wch"}) {
    v1::DeleteChannelRequest request;
    request.set_name(name);
    v1::DeleteChannelResponse response;
    auto ctx = main_client->context(kLong);
    auto status = main_client->channels().Delete(ctx.get(), request, &response);
    if (!status.ok()) unexpected(s, std::string("Delete ") + name, status);
  }
  // Held mutexes whose Lock answer was lost end at their lease.
  const auto lease_end = Steady::now() + kLeaseTtl + 5s;
  std::vector<std::string> held;
  for (;;) {
    held.clear();
    for (unsigned k = 0; k < kMutexes; ++k) {
      v1::GetMutexRequest request;
      request.set_name("m-" + std::to_string(k));
      v1::MutexInfo info;
      auto ctx = main_client->context(kLong);
      auto status = main_client->mutexes().Get(ctx.get(), request, &info);
      if (status.ok() && (info.locked() || info.waiters() != 0)) held.push_back(request.name());
    }
    if (held.empty() || Steady::now() >= lease_end) break;
    std::this_thread::sleep_for(200ms);
  }
  for (const auto& name : held) {
    s.findings.add("mutex_leaked", name + " is still locked (or waited for) after its lease");
  }
  // Results stay for the retention period; past it, nothing of the run remains.
  const auto retention_end = Steady::now() + retention + 15s;
  v1::TenantUsage usage;
  for (;;) {
    v1::ListTasksRequest list;  // reading tasks drops those past retention
    list.set_page_size(1);
    v1::ListTasksResponse listed;
    main_client->list(list, listed, kLong);
    v1::WhoAmIResponse me;
    if (main_client->who_am_i(me, kLong).ok()) usage = me.usage();
    if ((usage.stored_tasks() == 0 && usage.live_tasks() == 0) || Steady::now() >= retention_end) {
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  const std::uint64_t permits_leaked = usage.permits_in_use() + usage.permits_waiting();
  if (permits_leaked != 0) {
    s.findings.add(
        "permits_leaked",
        "WhoAmI after the run: permits_in_use=" + std::to_string(usage.permits_in_use()) +
            " permits_waiting=" + std::to_string(usage.permits_waiting()));
  }
  if (usage.live_tasks() != 0 || usage.stored_tasks() != 0 || usage.channels() != 0) {
    s.findings.add("state_leaked", "WhoAmI after the run and its retention: live_tasks=" +
                                       std::to_string(usage.live_tasks()) +
                                       " stored_tasks=" + std::to_string(usage.stored_tasks()) +
                                       " channels=" + std::to_string(usage.channels()));
  }

  // Memory and descriptors: every client connection is closed now.
  main_client.reset();
  std::this_thread::sleep_for(2s);
  const ProcSample after = sample(daemon.pid());
  const long rss_growth_kb = after.rss_kb - before.rss_kb;
  // Generous: allocator arenas and gRPC's thread pool keep some memory; a leak of a few
  // hundred bytes per task or message over this run is far above it.
  const long rss_bound_kb = 64 * 1024;
  if (kRssBoundHolds && rss_growth_kb > rss_bound_kb) {
    s.findings.add("rss_leak", "VmRSS " + fixed(mib(before.rss_kb)) + " MiB before, " +
                                   fixed(mib(after.rss_kb)) + " MiB after (bound +" +
                                   fixed(mib(rss_bound_kb)) + " MiB)");
  }
  const long fd_bound = 4;
  if (after.fds > before.fds + fd_bound) {
    s.findings.add("fd_leak", std::to_string(before.fds) + " fds before, " +
                                  std::to_string(after.fds) + " after (bound +" +
                                  std::to_string(fd_bound) + ")");
  }
  const int exit_code = stop_or_diagnose(daemon);
  if (exit_code != 0) {
    s.findings.add("daemon_exit", "orchestrd exited with " + std::to_string(exit_code) +
                                      " on SIGTERM after the run");
  }

  const auto& st = s.stats;
  out << "phase 1: load with faults (a) client disconnects, (b) worker SIGKILLs\n"
      << "  load: " << fixed(load_seconds) << " s, " << options.clients << " load clients + 10 "
      << "stream/worker clients + orchctl children, seed " << options.seed << "\n"
      << "  RPCs: " << st.rpcs << " calls/streams opened, " << st.stream_messages
      << " stream messages, " << st.spawned << " tasks spawned\n"
      << "  faults: " << faults_total(st) << " = join cancelled " << st.cancel_join
      << ", watch cancelled " << st.cancel_watch << ", subscribe cancelled " << st.cancel_subscribe
      << ", recv cancelled " << st.cancel_recv << ", send cancelled " << st.cancel_send
      << ", lock cancelled " << st.cancel_lock << ", worker stream cancelled " << st.cancel_connect
      << ", worker stream deadline " << st.worker_session_deadline << ", orchctl stream SIGKILLed "
      << st.kill_orchctl_stream << ", orchctl worker SIGKILLed " << st.kill_worker
      << ", tasks aborted " << st.abort_task << "\n"
      << "  tasks: " << s.tasks.acked_count() << " acknowledged, " << tasks.terminal
      << " seen terminal (";
  bool first = true;
  for (const auto& [state, n] : tasks.states) {
    out << (first ? "" : ", ") << state << " " << n;
    first = false;
  }
  out << "), lost " << tasks.lost << "\n"
      << "  mpsc at-least-once: " << alo.accepted << " accepted (+" << alo.unknown
      << " whose Send was cancelled), " << alo.deliveries << " deliveries, " << alo.redeliveries
      << " redeliveries, " << alo.acks << " acks (" << st.late_acks << " late), missing "
      << alo.missing << ", acked twice " << alo.duplicates << "\n"
      << "  mpsc at-most-once: " << amo.accepted << " accepted, " << amo.deliveries
      << " deliveries, delivered twice " << amo.duplicates << ", missing " << amo.missing
      << " (allowed by cancelled receivers: " << amo.allowed_loss << ")\n"
      << "  task send/recv nodes: " << pipe.sent << " sent, " << pipe.received
      << " received, missing " << pipe.missing << ", twice " << pipe.duplicates << "\n";
  {
    std::lock_guard lock(s.results_mutex);
    out << "  broadcast: " << (bcast_info ? bcast_info->messages_sent() : 0) << " sent, "
        << s.broadcast_streams << " subscriptions, " << s.bcast_received << " received, "
        << s.bcast_lagged << " counted as lagged, " << s.bcast_finals.size()
        << " subscribers complete to the end\n"
        << "  watch: " << (wch_info ? wch_info->version() : 0) << " versions, " << watch_reads
        << " values read and matched, " << s.watch_finals.size()
        << " readers ended on the latest\n";
  }
  out << "  mutexes: " << st.mutex_holds << " holds, " << st.mutex_lease_lost
      << " leases lost by slow holders, " << st.mutex_wait_timeouts << " wait timeouts\n"
      << "  permits leaked: " << permits_leaked << " (WhoAmI: in_use " << usage.permits_in_use()
      << ", waiting " << usage.permits_waiting() << ", live " << usage.live_tasks() << ", stored "
      << usage.stored_tasks() << ", channels " << usage.channels() << ")\n"
      << "  RSS: before " << fixed(mib(before.rss_kb)) << " MiB, peak "
      << fixed(mib(at_load_end.hwm_kb)) << " MiB, after " << fixed(mib(after.rss_kb)) << " MiB"
      << (kRssBoundHolds ? "" : " (not bounded in a sanitizer build)") << "\n"
      << "  fds: before " << before.fds << ", peak " << peak.fds << ", after " << after.fds
      << "; threads: before " << before.threads << ", peak " << peak.threads << ", after "
      << after.threads << "\n";
  out << "  losses found: " << losses(s.findings) << ", permits leaked: " << permits_leaked
      << ", other problems: " << s.findings.total() - losses(s.findings) << "\n";
  const bool ok = s.findings.total() == 0;
  if (!ok) out << "  FOUND:\n" << s.findings.describe();
  out << "  phase 1: " << (ok ? "OK" : "FAILED") << "\n";
  keep_log(daemon, "phase1", !ok);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Phase 2: SIGTERM in the middle of load
// ---------------------------------------------------------------------------------------------

struct Phase2 {
  explicit Phase2(Options o) : s(o) {}
  Shared s;
  std::atomic<std::int64_t> sigterm_at{0};  // steady ns when SIGTERM was sent; 0 before
  std::atomic<std::uint64_t> refused_unavailable{0};
  std::atomic<std::uint64_t> refused_cancelled{0};
  std::mutex mutex;
  std::map<std::string, std::uint64_t> stream_ends;  // "what: CODE" -> count
  void stream_end(const std::string& what, const grpc::Status& status) {
    std::lock_guard lock(mutex);
    ++stream_ends[what + " " + metrics_code(status)];
  }
  static std::string metrics_code(const grpc::Status& status) {
    return std::string(grpc_code_name(status.error_code()));
  }
  bool after_sigterm() const { return sigterm_at.load() != 0; }
};

void shutdown_client(Phase2& p, unsigned index) {
  Shared& s = p.s;
  auto client = make_client(s.address);
  Rng rng(s.options.seed * 65537 + index);
  std::uint64_t n = 0;
  for (;;) {
    v1::SpawnBatchRequest request;
    std::vector<Expect> expects;
    const int kind = rng.uniform(0, 2);
    const int count = kind == 2 ? 2 : 1;
    for (int i = 0; i < count; ++i) {
      auto* t = request.add_tasks();
      if (kind == 1) {
        auto spec = oc::worker(kQueue, "sd/" + std::to_string(index) + "/" + std::to_string(++n));
        *t->mutable_spec() = oc::with_retry(spec, oc::retry_policy(100, 10ms, 200ms));
      } else {
        *t->mutable_spec() = oc::sleep(rng.ms(0, 3000));
      }
    }
    v1::SpawnBatchResponse response;
    ++s.stats.rpcs;
    auto status = client->spawn_batch(request, response, kLong);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && p.after_sigterm()) {
        ++p.refused_unavailable;
      } else if (status.error_code() == grpc::StatusCode::CANCELLED && p.after_sigterm()) {
        // A call that reaches gRPC while its server shuts down (the last second) is cancelled
        // by gRPC itself: nothing was acknowledged, so nothing is lost.
        ++p.refused_cancelled;
      } else {
        unexpected(s, "SpawnBatch (before or during shutdown)", status);
      }
      return;
    }
    std::vector<std::string> ids(response.ids().begin(), response.ids().end());
    for (const auto& id : ids) s.tasks.acked(id, Expect::kShutdown);
    s.stats.spawned += ids.size();
    const bool after = p.after_sigterm();
    if (rng.chance(0.5)) {
      v1::JoinRequest join;
      for (const auto& id : ids) join.add_ids(id);
      v1::JoinResponse joined;
      ++s.stats.rpcs;
      status = client->join(join, joined, kLong);
      if (status.ok()) {
        for (const auto& t : joined.tasks()) {
          if (!is_terminal(t.state())) {
            s.findings.add("join_not_terminal",
                           "Join answered " + t.id() + " " + state_name(t.state()));
          }
          s.tasks.observe(t);
        }
      }
      p.stream_end("Join", status);
    } else {
      auto ctx = client->context(kLong);
      v1::WatchRequest watch;
      for (const auto& id : ids) watch.add_ids(id);
      ++s.stats.rpcs;
      auto reader = client->watch(*ctx, watch);
      std::set<std::string> terminal;
      v1::TaskEvent event;
      while (reader->Read(&event)) {
        ++s.stats.stream_messages;
        s.tasks.observe(event.task());
        if (is_terminal(event.state())) terminal.insert(event.id());
      }
      status = reader->Finish();
      if (status.ok() && terminal.size() != ids.size()) {
        s.findings.add("watch_ended_early", "a Watch ended OK with " +
                                                std::to_string(terminal.size()) + " of " +
                                                std::to_string(ids.size()) + " tasks terminal");
      }
      p.stream_end("Watch(ids)", status);
    }
    if (!status.ok()) {
      for (const auto& id : ids) {
        s.tasks.call_failed(id, status.error_code(), status.error_message(), after);
      }
      if (p.after_sigterm()) return;
    }
  }
}

bool phase2(const Options& options, double load_seconds, std::ostream& out) {
  const std::string grace = "1s";
  DaemonProcess daemon(stress_config("10m", grace));
  Phase2 p(options);
  Shared& s = p.s;
  s.address = daemon.grpc_address();
  s.log_dir = daemon.dir();
  auto main_client = make_client(s.address);
  create_channel(*main_client, "bcast", v1::CHANNEL_KIND_BROADCAST, 32);
  create_channel(*main_client, "alo", v1::CHANNEL_KIND_MPSC, 64);

  Threads threads;
  // Workers: two orchctl workers and one in-process; none is killed here.
  std::vector<pid_t> workers;
  Children children(s, s.log_dir + "/children.log");
  for (int i = 0; i < 2; ++i) workers.push_back(children.start_worker());
  children.workers_.clear();  // reaped below, by hand
  threads.start("worker", [&p] {
    auto client = make_client(p.s.address);
    auto ctx = client->context(kLong);
    auto stream = client->workers().Connect(ctx.get());
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_name("inproc-sd");
    hello.mutable_hello()->add_queues(kQueue);
    hello.mutable_hello()->set_slots(2);
    stream->Write(hello);
    v1::ServerMessage message;
    while (stream->Read(&message)) {
      for (const auto& a : message.assignments().assignments()) {
        v1::WorkerMessage reply;
        auto* r = reply.mutable_completions()->add_results();
        r->set_assignment_id(a.assignment_id());
        r->set_task_id(a.task_id());
        r->set_attempt(a.attempt());
        r->set_fencing_token(a.fencing_token());
        r->set_output(a.payload());
        stream->Write(reply);
      }
    }
    p.stream_end("Connect(worker)", stream->Finish());
  });
  // A tenant-wide watch: it must end OK once every task has ended.
  threads.start("watch-all", [&p] {
    auto client = make_client(p.s.address);
    auto ctx = client->context(kLong);
    auto reader = client->watch(*ctx, v1::WatchRequest());
    v1::TaskEvent event;
    while (reader->Read(&event)) p.s.tasks.observe(event.task());
    p.stream_end("Watch(all)", reader->Finish());
  });
  // Streams and waits that hold no task: what do they see?
  threads.start("subscribe", [&p] {
    auto client = make_client(p.s.address);
    auto ctx = client->context(kLong);
    v1::SubscribeRequest request;
    request.set_name("bcast");
    auto reader = client->channels().Subscribe(ctx.get(), request);
    v1::ChannelEvent event;
    while (reader->Read(&event)) {
    }
    p.stream_end("Subscribe(broadcast)", reader->Finish());
  });
  threads.start("subscribe-alo", [&p] {
    auto client = make_client(p.s.address);
    auto ctx = client->context(kLong);
    v1::SubscribeRequest request;
    request.set_name("alo");
    request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
    auto reader = client->channels().Subscribe(ctx.get(), request);
    v1::ChannelEvent event;
    while (reader->Read(&event)) {
    }
    p.stream_end("Subscribe(mpsc)", reader->Finish());
  });
  {
    v1::LockRequest request;
    request.set_name("held");
    *request.mutable_lease_ttl() = oc::to_proto(60s);
    v1::LockResponse lock;
    auto ctx = main_client->context(kLong);
    main_client->mutexes().Lock(ctx.get(), request, &lock);
  }
  threads.start("lock-waiter", [&p] {
    auto client = make_client(p.s.address);
    v1::LockRequest request;
    request.set_name("held");
    *request.mutable_lease_ttl() = oc::to_proto(60s);
    *request.mutable_wait_timeout() = oc::to_proto(50s);
    v1::LockResponse lock;
    auto ctx = client->context(kLong);
    p.stream_end("Lock(waiting)", client->mutexes().Lock(ctx.get(), request, &lock));
  });
  for (unsigned i = 0; i < options.clients; ++i) {
    threads.start("client-" + std::to_string(i), [&p, i] { shutdown_client(p, i); });
  }

  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(load_seconds * 1000)));
  const auto acked_before = s.tasks.acked_count();
  p.sigterm_at = Steady::now().time_since_epoch().count();
  const auto sigterm_time = Steady::now();
  daemon.signal(SIGTERM);
  ++s.stats.sigterm;
  const auto code = daemon.wait_exit(60s);
  const double exit_seconds = std::chrono::duration<double>(Steady::now() - sigterm_time).count();
  if (!code) {
    s.findings.add("daemon_exit", "orchestrd still ran 60s after SIGTERM");
    daemon.stop(5s);
  } else if (*code != 0) {
    s.findings.add("daemon_exit", "orchestrd exited with " + std::to_string(*code) + " on SIGTERM");
  }
  auto stuck = threads.join("", 120s);
  for (const auto& name : stuck) s.findings.add("stuck", name + " did not finish");
  std::map<std::string, int> worker_exits;
  for (pid_t pid : workers) {
    const int c = Children::reap(pid, 30s);
    ++worker_exits[std::to_string(c)];
    if (c != 3) {
      s.findings.add("worker_exit", "orchctl worker exited " + std::to_string(c) +
                                        " (want 3: the daemon ended the stream)");
    }
  }
  const auto tasks = s.tasks.resolve(true);
  {
    std::lock_guard lock(p.mutex);
    for (const auto& [what, n] : p.stream_ends) {
      const bool ok_end = what == "Watch(all) OK" || what == "Lock(waiting) UNAVAILABLE" ||
                          what == "Connect(worker) UNAVAILABLE" || what.ends_with(" OK") ||
                          what.rfind("Subscribe", 0) == 0 ||
                          ((what.rfind("Join", 0) == 0 || what.rfind("Watch(ids)", 0) == 0) &&
                           what.ends_with("UNAVAILABLE"));
      if (!ok_end) s.findings.add("shutdown_stream_end", what + " x" + std::to_string(n));
    }
  }

  out << "phase 2: fault (c) SIGTERM in the middle of load (shutdown_grace " << grace << ")\n"
      << "  load: " << fixed(load_seconds) << " s, " << options.clients
      << " clients spawning sleeps of 0-3 s and worker tasks, each followed by a Join or Watch\n"
      << "  tasks: " << s.tasks.acked_count() << " acknowledged (" << acked_before
      << " before SIGTERM), " << tasks.terminal << " seen terminal (";
  bool first = true;
  for (const auto& [state, n] : tasks.states) {
    out << (first ? "" : ", ") << state << " " << n;
    first = false;
  }
  out << "), " << tasks.unavailable_after_sigterm
      << " answered UNAVAILABLE to a call begun after SIGTERM, lost " << tasks.lost << "\n"
      << "  spawns refused after SIGTERM: UNAVAILABLE " << p.refused_unavailable
      << ", CANCELLED by gRPC's server shutdown " << p.refused_cancelled << "\n"
      << "  orchestrd exit: " << (code ? std::to_string(*code) : "none") << " after "
      << fixed(exit_seconds, 2) << " s; orchctl workers exited:";
  for (const auto& [c, n] : worker_exits) out << " " << c << " x" << n;
  out << "\n  how calls open at SIGTERM ended:";
  {
    std::lock_guard lock(p.mutex);
    for (const auto& [what, n] : p.stream_ends) out << "\n    " << what << " x" << n;
  }
  out << "\n  RPCs: " << s.stats.rpcs << "\n"
      << "  losses found: " << losses(s.findings)
      << ", other problems: " << s.findings.total() - losses(s.findings) << "\n";
  const bool ok = s.findings.total() == 0;
  if (!ok) out << "  FOUND:\n" << s.findings.describe();
  out << "  phase 2: " << (ok ? "OK" : "FAILED") << "\n";
  keep_log(daemon, "phase2", !ok);
  return ok;
}

}  // namespace
}  // namespace orch::stress

int main(int argc, char** argv) {
  using namespace orch::stress;
  ::signal(SIGPIPE, SIG_IGN);
  // gRPC stays initialised for the whole run: between the phases every channel is gone, and
  // gRPC's shutdown and a new initialisation would otherwise race.
  grpc_init();
  auto options = parse_options(argc, argv);
  if (!options) return 2;
  const double load1 = options->seconds * 0.75;
  const double load2 = std::max(2.0, options->seconds * 0.25);
  std::cout << "orch_stress: " << options->seconds << " s of load, " << options->clients
            << " clients, seed " << options->seed << " (rerun with --seed to repeat the choices)\n"
            << std::flush;
  const auto started = Steady::now();
  bool ok = false;
  bool ok2 = false;
  try {
    ok = phase1(*options, load1, std::cout);
    std::cout << std::flush;
    ok2 = phase2(*options, load2, std::cout);
  } catch (const std::exception& e) {
    std::cout << "orch_stress: " << e.what() << "\n";
    return 1;
  }
  grpc_shutdown();
  std::cout << "orch_stress: " << (ok && ok2 ? "OK" : "FAILED") << " in "
            << fixed(std::chrono::duration<double>(Steady::now() - started).count()) << " s\n";
  return ok && ok2 ? 0 : 1;
}
