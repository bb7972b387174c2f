#pragma once
/// orchctl's commands: each one sends its RPCs, prints the result and returns the exit code.
/// They throw UsageError or RpcError (exit_codes.h); main() prints those.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "orch/client/client.h"
#include "orch/client/format.h"
#include "orch/v1/schedules.pb.h"

namespace orchctl {

/// Flags that every command takes.
struct GlobalArgs {
  std::string address = "127.0.0.1:50051";
  std::string token;
  std::string output = "text";  // text | json
  std::string color = "auto";   // --color auto | always | never
  // Decided in main() after parsing (orch/client/live.h): colour the state words; draw the
  // live line of watch, join and select (stdout is a terminal).
  bool color_enabled = false;
  bool terminal = false;
  bool tls = false;              // --tls: TLS with the system's CAs
  std::string tls_ca;            // --tls-ca FILE
  std::string tls_cert;          // --tls-cert FILE (mTLS)
  std::string tls_key;           // --tls-key FILE (mTLS)
  std::string tls_server_name;   // --tls-server-name NAME
};

/// The client options the global flags ask for: TLS when --tls or any --tls-* flag is given,
/// with the PEM files read. Throws UsageError naming the flag when a file cannot be read or
/// only one of --tls-cert and --tls-key is given.
orch::client::ClientOptions client_options(const GlobalArgs& globals);

/// `spawn exec` (and its retry flags).
struct SpawnExecArgs {
  std::vector<std::string> env;  // --env NAME=VALUE, repeatable
  std::string cwd;               // --cwd DIR
  std::string stdin_text;        // --stdin @FILE|TEXT ('@-': orchctl's own stdin)
  std::uint64_t max_output_bytes = 0;
  std::string kill_grace;        // --kill-grace DURATION
  std::uint32_t retries = 0;     // --retries N: up to N more attempts after the first
  std::string backoff = "1s";    // --backoff DURATION: before the first retry
  std::string max_backoff = "60s";
  double multiplier = 2.0;
  std::vector<std::string> non_retryable;  // --non-retryable REASON, repeatable
  std::vector<std::string> argv;           // PROGRAM ARG...
};

/// `spawn http METHOD URL ...`
struct HttpSpawnArgs {
  std::string method;
  std::string url;
  std::vector<std::string> headers;      // -H 'Name: value'
  std::string data;                      // --data TEXT, @FILE, or @- for stdin
  bool data_given = false;
  std::string timeout;                   // --timeout DURATION
  std::string connect_timeout;           // --connect-timeout DURATION
  std::uint64_t max_response_bytes = 0;  // --max-response-bytes N
  std::vector<unsigned> accept_status;   // --accept-status N (repeatable)
  bool follow_redirects = false;         // --follow-redirects
};

struct SpawnArgs {
  bool wait = false;
  std::string name;
  std::vector<std::string> labels;
  std::string idempotency_key;
  std::string file;            // -f; "-" is stdin
  std::string sleep_duration;  // `spawn sleep DURATION`
  bool sleep_given = false;
  SpawnExecArgs exec;          // `spawn exec ... -- PROGRAM ARG...`
  bool exec_given = false;
  std::string worker_queue;    // `spawn worker QUEUE [--data @FILE|TEXT]`
  std::string worker_data;
  bool worker_given = false;
  HttpSpawnArgs http;          // `spawn http METHOD URL`
  bool http_given = false;
  std::string channel;  // `spawn send CHANNEL MSG` / `spawn recv CHANNEL`
  std::string message;  // `spawn send CHANNEL MSG`
  bool send_given = false;
  bool recv_given = false;
};

/// `orchctl worker --queue Q [--slots N] -- PROGRAM ARG...`
struct WorkerArgs {
  std::vector<std::string> queues;
  std::uint32_t slots = 1;
  std::string name;                  // default: HOST:PID
  std::vector<std::string> command;  // PROGRAM ARG...
  std::string kill_grace = "2s";     // SIGTERM to SIGKILL on cancel
};

struct ListArgs {
  std::string state;
  std::vector<std::string> labels;
  unsigned limit = 100;  // 0: every page
};

struct JoinArgs {
  bool fail_fast = false;
  bool abort_remaining = false;
  std::string timeout;
  std::string view = "full";  // "full" or "basic" (JoinRequest.view)
  std::vector<std::string> ids;
};

struct SelectArgs {
  bool abort_losers = false;
  std::string timeout;
  std::vector<std::string> ids;
};

struct TicksArgs {
  std::string every;                 // --every DURATION (required)
  std::uint64_t count = 0;           // --count N; 0: until Ctrl-C
  std::string missed_tick = "skip";  // --missed-tick burst|delay|skip
};

struct IntervalCreateArgs {
  std::string name;
  std::string every;                 // --every DURATION (required)
  std::string missed_tick = "skip";  // --missed-tick burst|delay|skip
  std::string overlap = "skip";      // --overlap allow|skip|buffer-one|cancel-previous
  std::string catchup_window;        // --catchup-window DURATION; empty: none
  std::string delay;                 // --delay DURATION; empty: first tick at once
  std::string start_at;              // --start-at RFC 3339 time; empty: see delay
  std::uint64_t max_ticks = 0;       // --max-ticks N; 0: no limit
  std::vector<std::string> labels;
  std::string file;                  // -f; "-" is stdin
  std::string sleep_duration;        // `interval create NAME sleep DURATION`
  bool sleep_given = false;
};

struct MutexLockArgs {
  std::string name;
  std::string ttl;     // --ttl DURATION; empty: the server's default lease (30s)
  std::string wait;    // --wait DURATION; empty: wait without limit
  bool no_wait = false;
  std::string holder;  // --holder TEXT; empty: HOST:PID of this orchctl
};

struct MutexUnlockArgs {
  std::string name;
  std::string guard;
  std::string value;  // --value V
  bool value_given = false;
};

struct MutexRefreshArgs {
  std::string name;
  std::string guard;
  std::string ttl;  // --ttl DURATION; empty: the lease of the Lock
};

class Commands {
 public:
  /// Prints results to `out` (flushed after each record).
  Commands(const GlobalArgs& globals, std::ostream& out);

  int spawn(const SpawnArgs& args);
  int get(const std::string& id);
  int list(const ListArgs& args);
  int abort(const std::vector<std::string>& ids);
  int watch(const std::vector<std::string>& ids);
  int join(const JoinArgs& args);
  int select(const SelectArgs& args);
  int who_am_i();
  int ticks(const TicksArgs& args);
  int interval_create(const IntervalCreateArgs& args);
  int interval_list();
  int interval_get(const std::string& name);
  int interval_pause(const std::string& name);
  int interval_resume(const std::string& name);
  int interval_remove(const std::string& name, bool abort_running);
  // Named mutexes (mutex_commands.cpp).
  int mutex_lock(const MutexLockArgs& args);
  int mutex_unlock(const MutexUnlockArgs& args);
  int mutex_get(const std::string& name);
  int mutex_refresh(const MutexRefreshArgs& args);
  int worker(const WorkerArgs& args);  // worker_command.cpp

 private:
  orch::client::Client& client();
  bool json() const { return globals_.output == "json"; }
  orch::client::TextStyle style() const { return {globals_.color_enabled}; }
  // The live line is for people: text output on a terminal.
  bool live_view() const { return globals_.terminal && !json(); }
  // Runs `wait` (a Join or Select of `ids`) while a live line, fed by a Watch of the same
  // ids on another thread, shows their states; erases the line before returning.
  grpc::Status wait_with_live_line(const google::protobuf::RepeatedPtrField<std::string>& ids,
                                   const std::function<grpc::Status()>& wait);
  void print_task(const orch::v1::TaskInfo& task);
  void print_schedule(const orch::v1::ScheduleInfo& info);

  GlobalArgs globals_;
  std::ostream& out_;
  std::unique_ptr<orch::client::Client> client_;
};

}  // namespace orchctl
