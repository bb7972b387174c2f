// orchctl: the command line of orchestrd. This file only wires flags to commands.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>

#include "chan_commands.h"
#include "commands.h"
#include "completion.h"
#include "exit_codes.h"
#include "live_line.h"
#include "orch/client/live.h"
#include "orch/client/names.h"
#include "validators.h"

namespace {

constexpr const char* kMainFooter = R"(
Environment:
  ORCH_ADDR    default for --addr
  ORCH_TOKEN   default for --token (sent as "authorization: Bearer TOKEN")
  ORCH_TLS, ORCH_TLS_CA, ORCH_TLS_CERT, ORCH_TLS_KEY, ORCH_TLS_SERVER_NAME
               defaults for --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name

Output (-o):
  text   plain lines for people and grep; each command's --help shows its form.
  json   the protobuf JSON mapping (lowerCamelCase, enums by name, RFC 3339 times,
         durations like "1.500s"), one object per line, fields at default values
         included; watch prints one object per event.

On a terminal (text output): state words are coloured (--color auto; NO_COLOR=1 or
--color never turns it off, --color always forces it, pipes too), and watch, join and select
keep a live line of counts by state, done/total and elapsed time, redrawn in place. Piped or
redirected output is plain lines only.
Shell completion: orchctl completion --help.

Durations: 250ms, 2s, 1m30s, 1h (units ns us ms s m h d; "0" alone is zero).
States:    pending running succeeded failed cancelled timed_out (any case, or TASK_STATE_*).
Global flags may come before or after the command. Ctrl-C ends `watch` and `ticks` cleanly
(exit 0); during other commands it ends orchctl at once, and tasks already spawned keep running.

Exit codes:
  0  success
  1  join, select, spawn --wait: a returned task did not end SUCCEEDED
  2  usage error: bad flag, duration, label, state or spec file (nothing was sent)
  3  RPC error, on stderr as one line that starts with the gRPC code name:
       RESOURCE_EXHAUSTED: tenant alpha has 20 tasks queued (max_queued=20)

Examples:
  orchctl --addr 127.0.0.1:50051 spawn --wait sleep 2s
  orchctl ls --state running -o json)";

constexpr const char* kTaskText = R"(
Text output (a task):
  id: ID
  name: NAME                      (when set)
  state: SUCCEEDED
  labels: k1=v1 k2=v2             (when set, sorted by key)
  idempotency_key: KEY            (when set)
  created: 2024-05-01T12:00:00.250Z
  started: ...                    (when set)
  finished: ...                   (when set)
  result:                         (when terminal) one node per line, 2 spaces per level:
    select SUCCEEDED winner=1 took=1s
      [0] timeout CANCELLED took=1s
        sleep CANCELLED took=1s
      [1] sleep SUCCEEDED took=1s
  A node line: [index] (join/select/sequence children), kind, STATE, winner=N (select),
  took=DURATION (when started and finished), attempts=N (work leaves, when more than one),
  receivers=N (send), payload="..." sequence=N (a recv that succeeded), error="..." (when the
  node has one). Below an exec node: exit_code: N (or signal: N), stdout: "..." and
  stderr: "...", and last_attempt_error: "..." after a failed attempt. An http node's
  response follows its line (see `orchctl spawn http --help`).)";

constexpr const char* kSpawnFooter = R"(
Give the node to run as a sub-command (sleep DURATION, exec ... -- PROGRAM ARG..., worker
QUEUE, http METHOD URL, send CHANNEL MSG, recv CHANNEL) or as a TaskSpec file: -f FILE (JSON
or YAML, '-' reads stdin; duration fields take 250ms, 2s, 1m30s as well as "0.250s").

Output: the new task's id (json: {"id":"...","existing":false}; existing is true when the
idempotency key matched an earlier task). With --wait: waits for the task (one Run call) and prints it as
`orchctl get` does; exit 1 unless it ended SUCCEEDED.
)";

constexpr const char* kSpawnExample = R"(
Examples:
  orchctl spawn --wait --name demo --label team=core sleep 2s
  echo '{"select":{"children":[{"timeout":{"duration":"2s","child":{"sleep":{"duration":"5s"}}}},{"sleep":{"duration":"1s"}}]}}' | orchctl spawn -f -)";

constexpr const char* kSpawnExecFooter = R"(
Runs PROGRAM with its arguments on the daemon's host, without a shell, in a process group of
its own. PROGRAM must be an absolute path listed in the tenant's exec_allowlist. Put `--`
before PROGRAM so that its own flags are not read as orchctl's. The program's environment is
PATH, the --env variables, and ORCH_TASK_ID, ORCH_ATTEMPT, ORCH_FENCING_TOKEN.
Exit code 0 is SUCCEEDED; anything else FAILED. On abort or timeout the group gets SIGTERM,
then SIGKILL after the kill grace. See docs/kinds/exec.md.

Text output with --wait: the task, then under the exec node its exit_code (or signal),
stdout and stderr, each quoted on one line.

Examples:
  orchctl spawn --wait exec --env GREETING=hi -- /usr/bin/env
  orchctl spawn --wait exec --retries 2 --backoff 500ms -- /usr/local/bin/flaky-job)";
constexpr const char* kWorkerFooter = R"(
Connects to WorkerService as the tenant's worker and, for each task assigned to it, runs
PROGRAM (no shell) with the task's payload on stdin and ORCH_TASK_ID, ORCH_ATTEMPT,
ORCH_FENCING_TOKEN, ORCH_QUEUE and ORCH_ASSIGNMENT_ID in its environment. What the program
writes to stdout is the task's result; a non-zero exit or a signal fails the attempt (retried
as the task's retry policy says); its stderr goes to orchctl's stderr. At most --slots
programs run at once; heartbeats are sent while they run. A cancel from the daemon (abort,
timeout, lost select, start_to_close) sends SIGTERM to the program's process group, then
SIGKILL after --kill-grace.

Prints one line per event on stdout (connected, each assignment started and ended, cancels,
refused reports). Runs until Ctrl-C or SIGTERM (programs still running are killed; their
tasks are retried elsewhere as worker_lost) or until the daemon ends the stream (exit 3, e.g.
UNAVAILABLE when it shuts down: restart the worker, with backoff, to reconnect).

Examples:
  orchctl worker --queue thumbnails --slots 4 -- ./make-thumbnail --size 128)";
constexpr const char* kHttpFooter = R"(
A status >= 400 makes the task FAILED (reason status) unless given with --accept-status; the
response is kept either way. Text output of --wait adds, under the http node's line:
  status: 200 OK
  url: URL                      (the URL that answered, after redirects)
  body: N bytes                 (", truncated at max_response_bytes" when cut)
    each line of the body, indented
json: the TaskInfo, with the whole response (headers too) in result.http.

Examples:
  orchctl spawn --wait http GET https://example.com/
  orchctl spawn --wait http POST https://api.example.com/jobs \
      -H 'Content-Type: application/json' --data @job.json --timeout 30s)";

constexpr const char* kLsFooter = R"(
Text output: one line per task, newest first, no header; columns aligned and separated by
two or more spaces: ID  STATE  NAME  CREATED (NAME is "-" when unset).
json: one ListTasksResponse holding every task read ("nextPageToken" is set when --limit
stopped the listing before the last page).

Examples:
  orchctl ls --state running --label team=core --limit 20)";

constexpr const char* kWatchFooter = R"(
Streams until every given task is terminal, or (no ids: all of the tenant's tasks) until
Ctrl-C or SIGTERM, which end the stream and exit 0.
Text output: one line per event, flushed at once: TIME ID STATE [error="..."]
json: one TaskEvent object per line.

Examples:
  orchctl watch 01J0Z4ABCD 01J0Z4EFGH)";

constexpr const char* kJoinFooter = R"(
Prints every task in request order (text: task blocks separated by a blank line, or with
--view basic one line per task: id, state and the error of a task that did not succeed; json:
one JoinResponse). Exit 1 unless every returned task is SUCCEEDED (a task still running when
--fail-fast or --timeout ends the wait counts as not succeeded); a --timeout that expires
is DEADLINE_EXCEEDED (exit 3).
)";

constexpr const char* kJoinExample = R"(
Examples:
  orchctl join --fail-fast --abort-remaining --timeout 30s 01J0Z4ABCD 01J0Z4EFGH)";

constexpr const char* kSelectFooter = R"(
Prints "winner: INDEX" (position in the ids given, from 0) and then the winning task
(json: one SelectResponse). Exit 1 unless the winner is SUCCEEDED; a --timeout that expires
is DEADLINE_EXCEEDED (exit 3).
)";

constexpr const char* kSelectExample = R"(
Examples:
  orchctl select --abort-losers --timeout 10s 01J0Z4ABCD 01J0Z4EFGH)";

constexpr const char* kAbortFooter = R"(
Text output: one line per id given: "ID aborted" when it was cancelled now, or
"ID already terminal" when it had already ended. json: one AbortResponse.

Examples:
  orchctl abort 01J0Z4ABCD 01J0Z4EFGH)";

constexpr const char* kWhoAmIFooter = R"(
Text output:
  tenant: NAME
  limits:
    max_concurrency: 8            (one "  field: value" line per TenantLimits field;
    ...                            allowed_kinds comma-separated)
  usage:
    permits_in_use: 0             (one line per TenantUsage field)
    ...

Examples:
  orchctl --token "$ORCH_TOKEN" whoami -o json)";

constexpr const char* kTicksFooter = R"(
A remote `interval.tick().await` loop: the server streams one tick every --every, from now,
until --count ticks were sent (exit 0) or Ctrl-C / SIGTERM (exit 0). A tick is missed when
this reader is too slow; --missed-tick says what then (default skip; see docs/schedules.md):
  burst  every missed tick is sent, back to back, until caught up
  delay  the late tick is sent, and the timeline restarts one period after it
  skip   the late tick is sent, the ticks passed meanwhile are dropped (counted in missed)
Text output: one line per tick, flushed at once:
  TICK N scheduled=TIME sent=TIME missed=M
json: one Tick object per line.

Examples:
  orchctl ticks --every 500ms --count 10)";

constexpr const char* kIntervalFooter = R"(
Interval schedules: named server-side timers whose every tick spawns a task from a template
(see docs/schedules.md). Each spawned task is named after the schedule and labelled
schedule=NAME and tick=N, so `orchctl ls --label schedule=NAME` lists them.

Text output of create, get, pause and resume (one `field: value` line each):
  name: NAME
  state: ACTIVE | PAUSED | FINISHED
  period: 100ms
  missed_tick: SKIP | BURST | DELAY
  overlap: SKIP | ALLOW | BUFFER_ONE | CANCEL_PREVIOUS
  next_tick: TIME               ("-" while paused and once finished)
  ticks_fired: N
  ticks_missed: N
  ticks_skipped: N
  last_task: ID                 ("-" before the first tick)
  last_task_state: STATE        ("-" before the first tick)
ls: one line per schedule, by name, columns separated by two spaces:
  NAME  STATE  PERIOD  NEXT_TICK  TICKS_FIRED
rm: "NAME removed", then "ID aborted" per task aborted by --abort-running.
json: one ScheduleInfo (ls: one ListSchedulesResponse; rm: one DeleteScheduleResponse).

Examples:
  orchctl interval create nightly --every 24h --label team=core sleep 1m
  orchctl interval pause nightly)";

constexpr const char* kIntervalCreateFooter = R"(
Give the node each tick runs as a sub-command (sleep DURATION) or as a TaskSpec file: -f FILE
(JSON or YAML, '-' reads stdin), as for `orchctl spawn`.
  --missed-tick  when ticks come due faster than they can fire (default skip)
  --overlap      when a tick comes while an earlier tick's task still runs (default skip)

Examples:
  orchctl interval create beat --every 100ms --max-ticks 5 sleep 10ms)";

constexpr const char* kMutexFooter = R"(
Named mutexes: a lock and a small value (bytes) shared by the tenant's clients, held under a
lease (see docs/mutexes.md). Waiters are served in arrival order. A hold ends by unlock or
when its lease expires; then the old guard is refused (FAILED_PRECONDITION, exit 3) and a
value it meant to store is not stored. Pass the fencing token with every write you guard.

Text output:
  lock:    guard: GUARD             (32 hex digits; unlock and refresh need it)
           fencing_token: N         (greater than every earlier acquisition's)
           lease_expires_at: TIME
           value: "..."             (quoted; \" \\ \n \r \t escaped)
  unlock:  NAME unlocked
  refresh: lease_expires_at: TIME
  get:     name, locked (true|false), then holder, acquired_at, lease_expires_at while
           locked, then waiters, fencing_token, value, value_fencing_token,
           value_updated_at ("-" if never set): one `field: value` line each
json: one LockResponse, UnlockResponse ({}), RefreshResponse or MutexInfo (values base64).
A --wait that passes is DEADLINE_EXCEEDED; --no-wait on a held mutex is FAILED_PRECONDITION.

Examples:
  orchctl mutex lock counter --ttl 30s --wait 10s
  orchctl mutex unlock counter 5f0c2a9e41d7b3c8a6e0f1d2c3b4a5e1 --value 42)";

constexpr const char* kCompletionFooter = R"(
Prints a completion script for bash or zsh on stdout. It is written from orchctl's own
command tree, so it completes exactly the commands, flags and flag values this orchctl takes:
sub-commands (nested ones too: chan send, mutex lock, interval create), each command's flags
and the global ones, and the values of flags with a fixed set (-o text|json, --color, ...).
Install it once per user (bash needs the bash-completion package for the first form):
  mkdir -p ~/.local/share/bash-completion/completions
  orchctl completion bash > ~/.local/share/bash-completion/completions/orchctl
  mkdir -p ~/.zfunc && orchctl completion zsh > ~/.zfunc/_orchctl
    (and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath))

Examples:
  source <(orchctl completion bash)
  mkdir -p ~/.zfunc && orchctl completion zsh > ~/.zfunc/_orchctl)";

}  // namespace

int main(int argc, char** argv) {
  using orchctl::Commands;
  orchctl::GlobalArgs globals;
  std::function<int(Commands&)> action;

  CLI::App app{"orchctl: spawn, join, select, watch and abort tasks, and pass messages through\n"
                "channels, on orchestrd.",
                "orchctl"};
  app.footer(kMainFooter);
  // Every usage error reads "error: ...", like the ones found after parsing.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "error: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the command
  app.set_version_flag("--version", "orchctl 0.1.0");
  app.add_option("--addr", globals.address, "orchestrd gRPC address, host:port")
      ->envname("ORCH_ADDR")
      ->capture_default_str();
  app.add_option("--token", globals.token, "tenant bearer token")->envname("ORCH_TOKEN");
  app.add_flag("--tls", globals.tls,
               "connect with TLS, verifying the server with the system's CAs")
      ->envname("ORCH_TLS");
  app.add_option("--tls-ca", globals.tls_ca,
                 "connect with TLS, verifying the server with these CAs (PEM)")
      ->envname("ORCH_TLS_CA");
  app.add_option("--tls-cert", globals.tls_cert,
                 "client certificate (PEM) for mTLS; needs --tls-key")
      ->envname("ORCH_TLS_CERT");
  app.add_option("--tls-key", globals.tls_key, "private key (PEM) of --tls-cert")
      ->envname("ORCH_TLS_KEY");
  app.add_option("--tls-server-name", globals.tls_server_name,
                 "verify the server's certificate for this name instead of the --addr host")
      ->envname("ORCH_TLS_SERVER_NAME");
  app.add_option("-o,--output", globals.output, "output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--color", globals.color,
                 "colour state words: auto (a terminal, unless NO_COLOR is set), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();

  // spawn
  orchctl::SpawnArgs spawn_args;
  auto* spawn = app.add_subcommand("spawn", "Spawn a task; print its id, or with --wait its end");
  spawn->footer(std::string(kSpawnFooter) + "\n" + kTaskText + "\n" + kSpawnExample);
  spawn->add_flag("--wait", spawn_args.wait, "wait for the task (one Run call) and print it once it has ended");
  spawn->add_option("--name", spawn_args.name, "a name for people");
  spawn->add_option("--label", spawn_args.labels, "a label key=value (repeatable)")
      ->check(orchctl::label_check())
      ->allow_extra_args(false);
  spawn->add_option("--idempotency-key", spawn_args.idempotency_key,
                    "a second spawn with this key returns the first task");
  spawn->add_option("-f,--file", spawn_args.file, "TaskSpec file, JSON or YAML; '-' is stdin");
  spawn->require_subcommand(0, 1);
  auto* sleep = spawn->add_subcommand("sleep", "Spawn a timer: SUCCEEDED after DURATION");
  sleep->footer("\nExamples:\n  orchctl spawn --wait sleep 1m30s");
  sleep->add_option("DURATION", spawn_args.sleep_duration, "how long, e.g. 250ms, 2s, 1m30s")
      ->required()
      ->check(orchctl::duration_check());
  auto* exec = spawn->add_subcommand("exec", "Spawn a program run by the daemon (no shell)");
  exec->footer(kSpawnExecFooter);
  auto& exec_args = spawn_args.exec;
  exec->add_option("--env", exec_args.env, "set NAME=VALUE in the program's environment (repeatable)")
      ->allow_extra_args(false);
  exec->add_option("--cwd", exec_args.cwd, "working directory, absolute (default /)");
  exec->add_option("--stdin", exec_args.stdin_text, "bytes for its stdin: TEXT, @FILE, or @- (our stdin)");
  exec->add_option("--max-output-bytes", exec_args.max_output_bytes,
                   "keep at most N bytes of stdout and of stderr (default: the daemon's limit)");
  exec->add_option("--kill-grace", exec_args.kill_grace, "SIGTERM-to-SIGKILL grace on cancel")
      ->check(orchctl::duration_check());
  exec->add_option("--retries", exec_args.retries, "retry a failed run up to N times");
  exec->add_option("--backoff", exec_args.backoff, "wait before the first retry")
      ->check(orchctl::duration_check())
      ->capture_default_str();
  exec->add_option("--max-backoff", exec_args.max_backoff, "longest wait between retries")
      ->check(orchctl::duration_check())
      ->capture_default_str();
  exec->add_option("--multiplier", exec_args.multiplier, "backoff growth per retry (1 to 100)")
      ->capture_default_str();
  exec->add_option("--non-retryable", exec_args.non_retryable,
                   "a failure reason that is never retried: exit_code, signal, spawn (repeatable)")
      ->allow_extra_args(false);
  exec->add_option("PROGRAM", exec_args.argv, "absolute path of the program, then its arguments")
      ->required();
  auto* spawn_worker = spawn->add_subcommand("worker", "Spawn work for a remote worker of QUEUE");
  spawn_worker->footer(
      "\nA worker serving QUEUE (see `orchctl worker`) gets the data as its payload; the task's\n"
      "result is what the worker answers.\n\nExamples:\n"
      "  orchctl spawn --wait worker thumbnails --data @photo.json");
  spawn_worker->add_option("QUEUE", spawn_args.worker_queue, "the queue, e.g. thumbnails")->required();
  spawn_worker->add_option("--data", spawn_args.worker_data, "the payload: TEXT, or @FILE ('@-' is stdin)");
  auto* http = spawn->add_subcommand("http", "Spawn one HTTP/1.1 request (docs/kinds/http.md)");
  http->footer(kHttpFooter);
  http->add_option("METHOD", spawn_args.http.method, "GET, POST, PUT, DELETE, ...")->required();
  http->add_option("URL", spawn_args.http.url, "http:// or https:// URL")->required();
  http->add_option("-H,--header", spawn_args.http.headers,
                   "a request header 'Name: value' (repeatable)")
      ->allow_extra_args(false);
  http->add_option("--data", spawn_args.http.data, "request body: TEXT, @FILE, or @- for stdin");
  http->add_option("--timeout", spawn_args.http.timeout, "longest time for the whole request")
      ->check(orchctl::duration_check());
  http->add_option("--connect-timeout", spawn_args.http.connect_timeout,
                   "longest time to resolve, connect and shake hands")
      ->check(orchctl::duration_check());
  http->add_option("--max-response-bytes", spawn_args.http.max_response_bytes,
                   "cut the response body after N bytes (0: the daemon's default)");
  http->add_option("--accept-status", spawn_args.http.accept_status,
                   "a status >= 400 that still succeeds (repeatable)")
      ->allow_extra_args(false)
      ->check(CLI::Range(100, 599));
  http->add_flag("--follow-redirects", spawn_args.http.follow_redirects,
                 "follow 301, 302, 303, 307 and 308 (at most 5)");
  auto* send = spawn->add_subcommand(
      "send", "Spawn a send: puts MSG into the channel (waits while an mpsc channel is full)");
  send->footer("\nExamples:\n  orchctl spawn --wait send jobs 'build 42'");
  send->add_option("CHANNEL", spawn_args.channel, "the channel's name")->required();
  send->add_option("MSG", spawn_args.message, "the message")->required();
  auto* recv = spawn->add_subcommand(
      "recv", "Spawn a recv: takes one message from the channel (waits while it is empty)");
  recv->footer("\nExamples:\n  orchctl spawn --wait recv jobs");
  recv->add_option("CHANNEL", spawn_args.channel, "the channel's name")->required();
  spawn->callback([&] {
    spawn_args.exec_given = exec->parsed();
    spawn_args.sleep_given = sleep->parsed();
    spawn_args.worker_given = spawn_worker->parsed();
    spawn_args.http_given = http->parsed();
    spawn_args.http.data_given = http->count("--data") > 0;
    spawn_args.send_given = send->parsed();
    spawn_args.recv_given = recv->parsed();
    action = [&](Commands& c) { return c.spawn(spawn_args); };
  });

  // get
  std::string get_id;
  auto* get = app.add_subcommand("get", "Print one task");
  get->footer(std::string(kTaskText) +
              "\njson: one TaskInfo. Exit 0 whatever the task's state.\n\nExamples:\n"
              "  orchctl get 01J0Z4ABCD -o json");
  get->add_option("ID", get_id, "task id")->required();
  get->callback([&] { action = [&](Commands& c) { return c.get(get_id); }; });

  // ls
  orchctl::ListArgs list_args;
  auto* ls = app.add_subcommand("ls", "List the tenant's tasks, newest first");
  ls->alias("list");
  ls->footer(kLsFooter);
  ls->add_option("--state", list_args.state, "only tasks in this state")
      ->check(orchctl::state_check());
  ls->add_option("--label", list_args.labels, "only tasks with this label key=value (repeatable)")
      ->check(orchctl::label_check())
      ->allow_extra_args(false);
  ls->add_option("--limit", list_args.limit, "at most this many tasks (0: all)")
      ->capture_default_str();
  ls->callback([&] { action = [&](Commands& c) { return c.list(list_args); }; });

  // abort
  std::vector<std::string> abort_ids;
  auto* abort = app.add_subcommand("abort", "Cancel tasks and all their nodes");
  abort->footer(kAbortFooter);
  abort->add_option("ID", abort_ids, "task ids")->required();
  abort->callback([&] { action = [&](Commands& c) { return c.abort(abort_ids); }; });

  // watch
  std::vector<std::string> watch_ids;
  auto* watch = app.add_subcommand("watch", "Stream task state changes");
  watch->footer(kWatchFooter);
  watch->add_option("ID", watch_ids, "task ids (none: every task of the tenant)");
  watch->callback([&] { action = [&](Commands& c) { return c.watch(watch_ids); }; });

  // join
  orchctl::JoinArgs join_args;
  auto* join = app.add_subcommand("join", "Wait until all the given tasks have ended");
  join->footer(std::string(kJoinFooter) + "\n" + kTaskText + "\n" + kJoinExample);
  join->add_flag("--fail-fast", join_args.fail_fast,
                 "return as soon as one task ends other than SUCCEEDED");
  join->add_flag("--abort-remaining", join_args.abort_remaining,
                 "when returning early, abort the tasks still running");
  join->add_option("--timeout", join_args.timeout, "longest wait (server side)")
      ->check(orchctl::duration_check());
  join->add_option("--view", join_args.view,
                   "full: every task as a block (default); basic: one line per task, id, state "
                   "and the error of a task that did not succeed (cheaper for many tasks)")
      ->check(CLI::IsMember({"full", "basic"}));
  join->add_option("ID", join_args.ids, "task ids")->required();
  join->callback([&] { action = [&](Commands& c) { return c.join(join_args); }; });

  // select
  orchctl::SelectArgs select_args;
  auto* select = app.add_subcommand("select", "Wait until the first of the given tasks has ended");
  select->footer(std::string(kSelectFooter) + "\n" + kTaskText + "\n" + kSelectExample);
  select->add_flag("--abort-losers", select_args.abort_losers,
                   "abort every other task once the winner is known");
  select->add_option("--timeout", select_args.timeout, "longest wait (server side)")
      ->check(orchctl::duration_check());
  select->add_option("ID", select_args.ids, "task ids")->required();
  select->callback([&] { action = [&](Commands& c) { return c.select(select_args); }; });

  // whoami
  auto* whoami = app.add_subcommand("whoami", "Print the tenant, its limits and its usage");
  whoami->footer(kWhoAmIFooter);
  whoami->callback([&] { action = [&](Commands& c) { return c.who_am_i(); }; });

  // ticks
  orchctl::TicksArgs ticks_args;
  auto* ticks = app.add_subcommand("ticks", "Stream the ticks of a server-side interval timer");
  ticks->footer(kTicksFooter);
  ticks->add_option("--every", ticks_args.every, "period, e.g. 250ms, 2s")
      ->required()
      ->check(orchctl::duration_check());
  ticks->add_option("--count", ticks_args.count, "stop after N ticks (0: until Ctrl-C)")
      ->capture_default_str();
  ticks->add_option("--missed-tick", ticks_args.missed_tick, "burst, delay or skip")
      ->check(CLI::IsMember({"burst", "delay", "skip"}))
      ->capture_default_str();
  ticks->callback([&] { action = [&](Commands& c) { return c.ticks(ticks_args); }; });

  // interval
  auto* interval = app.add_subcommand("interval", "Manage interval schedules that spawn tasks");
  interval->footer(kIntervalFooter);
  interval->require_subcommand(1);

  orchctl::IntervalCreateArgs create_args;
  auto* create = interval->add_subcommand("create", "Create an interval schedule");
  create->footer(kIntervalCreateFooter);
  create->add_option("NAME", create_args.name, "schedule name, unique in the tenant")->required();
  create->add_option("--every", create_args.every, "period, e.g. 250ms, 2s")
      ->required()
      ->check(orchctl::duration_check());
  create->add_option("--missed-tick", create_args.missed_tick, "burst, delay or skip")
      ->check(CLI::IsMember({"burst", "delay", "skip"}))
      ->capture_default_str();
  create->add_option("--overlap", create_args.overlap,
                     "allow, skip, buffer-one or cancel-previous")
      ->check(CLI::IsMember({"allow", "skip", "buffer-one", "cancel-previous"}))
      ->capture_default_str();
  create->add_option("--catchup-window", create_args.catchup_window,
                     "a tick later than this does not fire (default: no window)")
      ->check(orchctl::duration_check());
  auto* delay = create->add_option("--delay", create_args.delay,
                                   "first tick after this (default: at once)")
                      ->check(orchctl::duration_check());
  create->add_option("--start-at", create_args.start_at,
                     "first tick at this RFC 3339 time, e.g. 2026-12-01T09:00:00Z")
      ->excludes(delay);
  create->add_option("--max-ticks", create_args.max_ticks,
                     "finish after N ticks spawned a task (0: no limit)")
      ->capture_default_str();
  create->add_option("--label", create_args.labels, "a label key=value for every task (repeatable)")
      ->check(orchctl::label_check())
      ->allow_extra_args(false);
  create->add_option("-f,--file", create_args.file, "TaskSpec file, JSON or YAML; '-' is stdin");
  create->require_subcommand(0, 1);
  auto* create_sleep = create->add_subcommand("sleep", "Each tick spawns a timer of DURATION");
  create_sleep->footer("\nExamples:\n  orchctl interval create beat --every 1s sleep 100ms");
  create_sleep->add_option("DURATION", create_args.sleep_duration, "how long, e.g. 250ms, 2s")
      ->required()
      ->check(orchctl::duration_check());
  create->callback([&] {
    create_args.sleep_given = create_sleep->parsed();
    action = [&](Commands& c) { return c.interval_create(create_args); };
  });

  auto* interval_ls = interval->add_subcommand("ls", "List the tenant's schedules by name");
  interval_ls->alias("list");
  interval_ls->footer("\nExamples:\n  orchctl interval ls\n  orchctl interval ls -o json");
  interval_ls->callback([&] { action = [&](Commands& c) { return c.interval_list(); }; });

  std::string interval_name;
  auto* interval_get = interval->add_subcommand("get", "Print one schedule");
  interval_get->footer("\nExamples:\n  orchctl interval get nightly");
  interval_get->add_option("NAME", interval_name, "schedule name")->required();
  interval_get->callback(
      [&] { action = [&](Commands& c) { return c.interval_get(interval_name); }; });

  auto* interval_pause = interval->add_subcommand("pause", "Stop a schedule's ticks from firing");
  interval_pause->footer("\nExamples:\n  orchctl interval pause nightly");
  interval_pause->add_option("NAME", interval_name, "schedule name")->required();
  interval_pause->callback(
      [&] { action = [&](Commands& c) { return c.interval_pause(interval_name); }; });

  auto* interval_resume = interval->add_subcommand("resume", "Let a paused schedule fire again");
  interval_resume->footer("\nExamples:\n  orchctl interval resume nightly");
  interval_resume->add_option("NAME", interval_name, "schedule name")->required();
  interval_resume->callback(
      [&] { action = [&](Commands& c) { return c.interval_resume(interval_name); }; });

  bool abort_running = false;
  auto* interval_rm = interval->add_subcommand("rm", "Delete a schedule");
  interval_rm->alias("delete");
  interval_rm->footer("\nExamples:\n  orchctl interval rm nightly --abort-running");
  interval_rm->add_option("NAME", interval_name, "schedule name")->required();
  interval_rm->add_flag("--abort-running", abort_running,
                        "also abort the schedule's tasks still running");
  interval_rm->callback([&] {
    action = [&](Commands& c) { return c.interval_remove(interval_name, abort_running); };
  });

  // mutex
  auto* mutex = app.add_subcommand("mutex", "Lock, unlock and read named mutexes");
  mutex->footer(kMutexFooter);
  mutex->require_subcommand(1);

  orchctl::MutexLockArgs lock_args;
  auto* mutex_lock =
      mutex->add_subcommand("lock", "Acquire a mutex; print the guard, token and value");
  mutex_lock->footer(
      "\nExamples:\n  orchctl mutex lock counter --ttl 30s --wait 10s\n"
      "  orchctl mutex lock deploy --no-wait --holder ci-build-42");
  mutex_lock->add_option("NAME", lock_args.name, "mutex name")->required();
  mutex_lock->add_option("--ttl", lock_args.ttl, "lease, e.g. 30s (default: the server's, 30s)")
      ->check(orchctl::duration_check());
  mutex_lock->add_option("--wait", lock_args.wait, "longest wait (default: no limit)")
      ->check(orchctl::duration_check());
  mutex_lock->add_flag("--no-wait", lock_args.no_wait, "fail at once when the mutex is held");
  mutex_lock->add_option("--holder", lock_args.holder,
                         "who holds it, shown by get (default HOST:PID)");
  mutex_lock->callback([&] { action = [&](Commands& c) { return c.mutex_lock(lock_args); }; });

  orchctl::MutexUnlockArgs unlock_args;
  auto* mutex_unlock =
      mutex->add_subcommand("unlock", "Release a mutex, optionally storing a value");
  mutex_unlock->footer(
      "\nExamples:\n  orchctl mutex unlock counter 5f0c2a9e41d7b3c8a6e0f1d2c3b4a5e1 --value 42");
  mutex_unlock->add_option("NAME", unlock_args.name, "mutex name")->required();
  mutex_unlock->add_option("GUARD", unlock_args.guard, "the guard printed by lock")->required();
  auto* unlock_value =
      mutex_unlock->add_option("--value", unlock_args.value, "store this value (may be empty)");
  mutex_unlock->callback([&, unlock_value] {
    unlock_args.value_given = unlock_value->count() > 0;
    action = [&](Commands& c) { return c.mutex_unlock(unlock_args); };
  });

  std::string mutex_name;
  auto* mutex_get =
      mutex->add_subcommand("get", "Print a mutex's value and state, without locking");
  mutex_get->footer("\nExamples:\n  orchctl mutex get counter -o json");
  mutex_get->add_option("NAME", mutex_name, "mutex name")->required();
  mutex_get->callback([&] { action = [&](Commands& c) { return c.mutex_get(mutex_name); }; });

  orchctl::MutexRefreshArgs refresh_args;
  auto* mutex_refresh = mutex->add_subcommand("refresh", "Extend the lease of a held mutex");
  mutex_refresh->footer(
      "\nExamples:\n  orchctl mutex refresh counter 5f0c2a9e41d7b3c8a6e0f1d2c3b4a5e1 --ttl 1m");
  mutex_refresh->add_option("NAME", refresh_args.name, "mutex name")->required();
  mutex_refresh->add_option("GUARD", refresh_args.guard, "the guard printed by lock")->required();
  mutex_refresh->add_option("--ttl", refresh_args.ttl, "new lease from now (default: the lock's)")
      ->check(orchctl::duration_check());
  mutex_refresh->callback(
      [&] { action = [&](Commands& c) { return c.mutex_refresh(refresh_args); }; });
  // chan
  orchctl::add_chan_commands(app, globals, action);
  // worker
  orchctl::WorkerArgs worker_args;
  auto* worker = app.add_subcommand("worker", "Serve queues: run PROGRAM for each task assigned");
  worker->footer(kWorkerFooter);
  worker->add_option("--queue", worker_args.queues, "a queue to serve (repeatable)")
      ->required()
      ->allow_extra_args(false);
  worker->add_option("--slots", worker_args.slots, "tasks run at once")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  worker->add_option("--name", worker_args.name, "shown in the daemon's logs (default: HOST:PID)");
  worker->add_option("--kill-grace", worker_args.kill_grace,
                     "on cancel, SIGTERM then SIGKILL after this")
      ->check(orchctl::duration_check())
      ->capture_default_str();
  worker->add_option("PROGRAM", worker_args.command, "the program and its arguments (after --)")
      ->required();
  worker->callback([&] { action = [&](Commands& c) { return c.worker(worker_args); }; });

  // completion
  std::string completion_shell;
  auto* completion =
      app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
  completion->footer(kCompletionFooter);
  completion->add_option("SHELL", completion_shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback([&] {
    action = [&](Commands&) {
      std::cout << orchctl::completion_script(app, completion_shell);
      return int{orchctl::kExitOk};
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; every real parse error is a usage error.
    return app.exit(e) == 0 ? orchctl::kExitOk : orchctl::kExitUsage;
  }
  globals.terminal = orchctl::stdout_is_terminal();
  globals.color_enabled = orch::client::want_color(globals.color, globals.terminal,
                                                   std::getenv("NO_COLOR"), std::getenv("TERM"));
  if (!action) return orchctl::kExitUsage;  // unreachable: a sub-command is required

  try {
    Commands commands(globals, std::cout);
    return action(commands);
  } catch (const orchctl::UsageError& e) {
    std::cerr << "error: " << e.what() << '\n';
    return orchctl::kExitUsage;
  } catch (const orchctl::RpcError& e) {
    std::cerr << orch::client::format_status(e.status()) << '\n';
    return orchctl::kExitRpc;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return orchctl::kExitRpc;
  }
}
