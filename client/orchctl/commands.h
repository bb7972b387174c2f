#pragma once
/// orchctl's commands: each one sends its RPCs, prints the result and returns the exit code.
/// They throw UsageError or RpcError (exit_codes.h); main() prints those.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "orch/client/client.h"
#include "orch/v1/schedules.pb.h"

namespace orchctl {

/// Flags that every command takes.
struct GlobalArgs {
  std::string address = "127.0.0.1:50051";
  std::string token;
  std::string output = "text";  // text | json
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
  HttpSpawnArgs http;          // `spawn http METHOD URL`
  bool http_given = false;
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
  std::uint64_t max_ticks = 0;       // --max-ticks N; 0: no limit
  std::vector<std::string> labels;
  std::string file;                  // -f; "-" is stdin
  std::string sleep_duration;        // `interval create NAME sleep DURATION`
  bool sleep_given = false;
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

 private:
  orch::client::Client& client();
  bool json() const { return globals_.output == "json"; }
  void print_task(const orch::v1::TaskInfo& task);
  void print_schedule(const orch::v1::ScheduleInfo& info);

  GlobalArgs globals_;
  std::ostream& out_;
  std::unique_ptr<orch::client::Client> client_;
};

}  // namespace orchctl
