#include "commands.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "exit_codes.h"
#include "interrupt.h"
#include "live_line.h"
#include "orch/client/format.h"
#include "orch/client/names.h"
#include "orch/client/spec_file.h"
#include "orch/client/specs.h"
#include "orch/common/duration.h"
#include "orch/v1/schedules.grpc.pb.h"

namespace orchctl {
namespace {

namespace v1 = orch::v1;
using orch::client::to_json;

// The server's maximum page size.
constexpr unsigned kMaxPageSize = 1000;

void check(const grpc::Status& status) {
  if (!status.ok()) throw RpcError(status);
}

orch::Duration duration_arg(const std::string& text, const std::string& flag) {
  const auto d = orch::parse_duration(text);
  if (!d)
    throw UsageError(flag + ": invalid duration \"" + text + "\" (use e.g. 250ms, 2s, 1m30s)");
  return *d;
}

// The bytes a FLAG takes: TEXT as it is, @FILE a file's bytes, @- orchctl's own stdin.
std::string bytes_arg(const std::string& text, const char* flag) {
  if (!text.starts_with('@')) return text;
  const std::string path = text.substr(1);
  std::ostringstream bytes;
  if (path == "-") {
    bytes << std::cin.rdbuf();
    return bytes.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UsageError(std::string(flag) + ": " + path + ": cannot open: " + std::strerror(errno));
  bytes << file.rdbuf();
  if (file.bad()) {
    throw UsageError(std::string(flag) + ": " + path + ": cannot read: " + std::strerror(errno));
  }
  return bytes.str();
}

// Reads repeated --label key=value flags; a key given twice is an error.
void add_labels(const std::vector<std::string>& labels,
                google::protobuf::Map<std::string, std::string>& out) {
  for (const auto& text : labels) {
    const auto label = orch::client::parse_label(text);
    if (!label) throw UsageError("--label: invalid label \"" + text + "\" (use key=value)");
    if (!out.insert({label->first, label->second}).second) {
      throw UsageError("--label: key \"" + label->first + "\" given twice");
    }
  }
}

bool succeeded(const v1::TaskInfo& task) { return task.state() == v1::TASK_STATE_SUCCEEDED; }

v1::MissedTickBehavior missed_tick_arg(const std::string& text) {
  if (text == "burst") return v1::MISSED_TICK_BEHAVIOR_BURST;
  if (text == "delay") return v1::MISSED_TICK_BEHAVIOR_DELAY;
  if (text == "skip") return v1::MISSED_TICK_BEHAVIOR_SKIP;
  throw UsageError("--missed-tick: invalid value \"" + text + "\" (use burst, delay or skip)");
}

v1::OverlapPolicy overlap_arg(const std::string& text) {
  if (text == "allow") return v1::OVERLAP_POLICY_ALLOW;
  if (text == "skip") return v1::OVERLAP_POLICY_SKIP;
  if (text == "buffer-one") return v1::OVERLAP_POLICY_BUFFER_ONE;
  if (text == "cancel-previous") return v1::OVERLAP_POLICY_CANCEL_PREVIOUS;
  throw UsageError("--overlap: invalid value \"" + text +
                   "\" (use allow, skip, buffer-one or cancel-previous)");
}

// An enum value's name without its prefix: "SCHEDULE_STATE_ACTIVE" -> "ACTIVE".
std::string short_name(const std::string& full, const std::string& prefix) {
  return full.rfind(prefix, 0) == 0 ? full.substr(prefix.size()) : full;
}

std::string period_text(const v1::ScheduleInfo& info) {
  return orch::format_duration(orch::client::from_proto(info.period()));
}

// `interval get` / `interval create` text output: one `field: value` line per field.
std::string format_schedule(const v1::ScheduleInfo& info) {
  std::string text;
  text += "name: " + info.name() + '\n';
  text += "state: " + short_name(v1::ScheduleState_Name(info.state()), "SCHEDULE_STATE_") + '\n';
  text += "period: " + period_text(info) + '\n';
  text += "missed_tick: " +
          short_name(v1::MissedTickBehavior_Name(info.missed_tick_behavior()),
                     "MISSED_TICK_BEHAVIOR_") +
          '\n';
  text += "overlap: " +
          short_name(v1::OverlapPolicy_Name(info.overlap_policy()), "OVERLAP_POLICY_") + '\n';
  text += "next_tick: " + orch::client::format_timestamp(info.next_tick_at()) + '\n';
  text += "ticks_fired: " + std::to_string(info.ticks_fired()) + '\n';
  text += "ticks_missed: " + std::to_string(info.ticks_missed()) + '\n';
  text += "ticks_skipped: " + std::to_string(info.ticks_skipped()) + '\n';
  text += "last_task: " + (info.last_task_id().empty() ? std::string("-") : info.last_task_id()) +
          '\n';
  text += "last_task_state: " +
          (info.last_task_id().empty()
               ? std::string("-")
               : std::string(orch::client::task_state_name(info.last_task_state()))) +
          '\n';
  return text;
}

// `spawn exec`: the node, plus its retry policy when --retries asks for one.
v1::TaskSpec exec_spec(const SpawnExecArgs& args) {
  if (args.argv.empty()) throw UsageError("exec: say what to run: -- PROGRAM ARG...");
  if (!args.argv.front().starts_with('/')) {
    throw UsageError("exec: PROGRAM must be an absolute path (\"" + args.argv.front() +
                     "\"): the daemon runs it without a shell or PATH lookup");
  }
  orch::client::ExecOptions options;
  for (const auto& text : args.env) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--env: invalid variable \"" + text + "\" (use NAME=VALUE)");
    }
    const std::string name = text.substr(0, eq);
    const bool repeated = std::any_of(options.env.begin(), options.env.end(),
                                      [&](const auto& var) { return var.first == name; });
    if (repeated) throw UsageError("--env: " + name + " given twice");
    options.env.emplace_back(name, text.substr(eq + 1));
  }
  options.cwd = args.cwd;
  options.stdin_data = bytes_arg(args.stdin_text, "--stdin");
  options.max_output_bytes = args.max_output_bytes;
  if (!args.kill_grace.empty()) options.kill_grace = duration_arg(args.kill_grace, "--kill-grace");
  v1::TaskSpec spec = orch::client::exec(args.argv, options);
  if (args.retries > 0) {
    spec = orch::client::with_retry(
        std::move(spec),
        orch::client::retry_policy(args.retries + 1, duration_arg(args.backoff, "--backoff"),
                                   duration_arg(args.max_backoff, "--max-backoff"),
                                   args.multiplier, args.non_retryable));
  }
  return spec;
}


// `spawn http METHOD URL [-H 'K: V']... [--data ...] [--timeout D] ...`
v1::TaskSpec http_spec(const HttpSpawnArgs& args) {
  v1::TaskSpec spec = orch::client::http(args.method, args.url);
  auto& http = *spec.mutable_http();
  for (const auto& text : args.headers) {
    const auto colon = text.find(':');
    const std::string name = text.substr(0, colon);
    if (colon == std::string::npos || name.empty() ||
        name.find_first_of(" \t") != std::string::npos) {
      throw UsageError("-H: invalid header \"" + text + "\" (use 'Name: value')");
    }
    std::string value = text.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    if (!http.mutable_headers()->insert({name, value}).second) {
      throw UsageError("-H: header \"" + name + "\" given twice");
    }
  }
  if (args.data_given) http.set_body(bytes_arg(args.data, "--data"));
  if (!args.timeout.empty()) {
    *http.mutable_timeout() = orch::client::to_proto(duration_arg(args.timeout, "--timeout"));
  }
  if (!args.connect_timeout.empty()) {
    *http.mutable_connect_timeout() =
        orch::client::to_proto(duration_arg(args.connect_timeout, "--connect-timeout"));
  }
  http.set_max_response_bytes(args.max_response_bytes);
  for (const unsigned status : args.accept_status) http.add_accept_status(status);
  http.set_follow_redirects(args.follow_redirects);
  return spec;
}

}  // namespace

orch::client::ClientOptions client_options(const GlobalArgs& globals) {
  orch::client::ClientOptions options{globals.address, globals.token};
  if (!globals.tls && globals.tls_ca.empty() && globals.tls_cert.empty() &&
      globals.tls_key.empty() && globals.tls_server_name.empty()) {
    return options;
  }
  if (globals.tls_cert.empty() != globals.tls_key.empty()) {
    throw UsageError(globals.tls_cert.empty() ? "--tls-key needs --tls-cert"
                                              : "--tls-cert needs --tls-key");
  }
  const auto read = [](const char* flag, const std::string& path) -> std::string {
    if (path.empty()) return {};
    try {
      return orch::client::read_pem_file(path);
    } catch (const std::runtime_error& e) {
      throw UsageError(std::string(flag) + ": " + e.what());
    }
  };
  options.tls = orch::client::ClientTls{read("--tls-ca", globals.tls_ca),
                                        read("--tls-cert", globals.tls_cert),
                                        read("--tls-key", globals.tls_key),
                                        globals.tls_server_name};
  return options;
}

Commands::Commands(const GlobalArgs& globals, std::ostream& out) : globals_(globals), out_(out) {}

orch::client::Client& Commands::client() {
  if (!client_) {
    client_ = std::make_unique<orch::client::Client>(client_options(globals_));
  }
  return *client_;
}

void Commands::print_task(const v1::TaskInfo& task) {
  if (json()) {
    out_ << to_json(task) << '\n';
  } else {
    out_ << orch::client::format_task(task, style());
  }
  out_.flush();
}

grpc::Status Commands::wait_with_live_line(
    const google::protobuf::RepeatedPtrField<std::string>& ids,
    const std::function<grpc::Status()>& wait) {
  v1::WatchRequest request;
  for (const auto& id : std::set<std::string>(ids.begin(), ids.end())) request.add_ids(id);
  LiveLine live(out_, style(), static_cast<std::size_t>(request.ids_size()));
  auto ctx = client().context();
  // The watch only feeds the line: its end, whatever the status, changes nothing else.
  std::thread watcher([&] {
    auto reader = client().watch(*ctx, request);
    v1::TaskEvent event;
    while (reader->Read(&event)) live.update(event.id(), event.state());
    reader->Finish();
  });
  struct StopWatch {
    grpc::ClientContext& ctx;
    std::thread& watcher;
    ~StopWatch() {
      ctx.TryCancel();
      watcher.join();
    }
  } stop{*ctx, watcher};
  const grpc::Status status = wait();
  live.clear();
  return status;
}

int Commands::spawn(const SpawnArgs& args) {
  v1::SpawnRequest request;
  // Everything local is checked before anything is sent.
  const int nodes = int{args.sleep_given} + int{args.exec_given} + int{args.worker_given} +
                    int{args.http_given} + int{args.send_given} + int{args.recv_given};
  if (!args.file.empty() && nodes > 0) {
    throw UsageError(
        "spawn: give either -f FILE or a node (sleep, exec, worker, http, send, recv), not "
        "both");
  }
  if (!args.file.empty()) {
    auto spec = orch::client::read_spec_file(args.file, std::cin);
    if (!spec) throw UsageError(spec.error);
    *request.mutable_spec() = std::move(*spec.value);
  } else if (args.sleep_given) {
    *request.mutable_spec() = orch::client::sleep(duration_arg(args.sleep_duration, "DURATION"));
  } else if (args.exec_given) {
    *request.mutable_spec() = exec_spec(args.exec);
  } else if (args.worker_given) {
    *request.mutable_spec() =
        orch::client::worker(args.worker_queue, bytes_arg(args.worker_data, "--data"));
  } else if (args.http_given) {
    *request.mutable_spec() = http_spec(args.http);
  } else if (args.send_given) {
    *request.mutable_spec() = orch::client::send(args.channel, args.message);
  } else if (args.recv_given) {
    *request.mutable_spec() = orch::client::recv(args.channel);
  } else {
    throw UsageError(
        "spawn: say what to run: `sleep DURATION`, `exec -- PROGRAM ARG...`, `worker QUEUE`, "
        "`http METHOD URL`, `send CHANNEL MSG`, `recv CHANNEL` or -f FILE");
  }
  request.set_name(args.name);
  add_labels(args.labels, *request.mutable_labels());
  request.set_idempotency_key(args.idempotency_key);

  if (!args.wait) {
    v1::SpawnResponse spawned;
    check(client().spawn(request, spawned));
    if (json()) {
      out_ << to_json(spawned) << '\n';
    } else {
      out_ << spawned.id() << '\n';
    }
    out_.flush();
    return kExitOk;
  }

  // One round trip: Run spawns the task and answers when it is terminal.
  v1::RunRequest run;
  *run.mutable_task() = std::move(request);
  v1::RunResponse ran;
  check(client().run(run, ran));
  print_task(ran.task());
  return succeeded(ran.task()) ? kExitOk : kExitTaskNotSucceeded;
}

int Commands::get(const std::string& id) {
  v1::GetTaskRequest request;
  request.set_id(id);
  v1::TaskInfo task;
  check(client().get(request, task));
  print_task(task);
  return kExitOk;
}

int Commands::list(const ListArgs& args) {
  v1::ListTasksRequest request;
  if (!args.state.empty()) {
    const auto state = orch::client::parse_task_state(args.state);
    if (!state) throw UsageError("--state: invalid state \"" + args.state + "\"");
    request.set_state(*state);
  }
  add_labels(args.labels, *request.mutable_labels());

  // Follow next_page_token until the last page or until `limit` tasks are in hand.
  v1::ListTasksResponse all;
  while (true) {
    const unsigned have = static_cast<unsigned>(all.tasks_size());
    const unsigned want =
        args.limit == 0 ? kMaxPageSize : std::min(args.limit - have, kMaxPageSize);
    request.set_page_size(want);
    v1::ListTasksResponse page;
    check(client().list(request, page));
    for (auto& task : *page.mutable_tasks()) {
      if (args.limit != 0 && static_cast<unsigned>(all.tasks_size()) >= args.limit) break;
      *all.add_tasks() = std::move(task);
    }
    all.set_next_page_token(page.next_page_token());
    const bool full = args.limit != 0 && static_cast<unsigned>(all.tasks_size()) >= args.limit;
    if (page.next_page_token().empty() || full) break;
    request.set_page_token(page.next_page_token());
  }

  if (json()) {
    out_ << to_json(all) << '\n';
  } else {
    out_ << orch::client::format_task_table(all.tasks(), style());
  }
  out_.flush();
  return kExitOk;
}

int Commands::abort(const std::vector<std::string>& ids) {
  v1::AbortRequest request;
  for (const auto& id : ids) request.add_ids(id);
  v1::AbortResponse response;
  check(client().abort(request, response));
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    const auto& aborted = response.aborted();
    for (const auto& id : ids) {
      const bool was_running = std::find(aborted.begin(), aborted.end(), id) != aborted.end();
      out_ << id << (was_running ? " aborted" : " already terminal") << '\n';
    }
  }
  out_.flush();
  return kExitOk;
}

int Commands::watch(const std::vector<std::string>& ids) {
  v1::WatchRequest request;
  for (const auto& id : ids) request.add_ids(id);
  auto ctx = client().context();
  CancelOnInterrupt interrupt(*ctx);
  auto reader = client().watch(*ctx, request);
  // On a terminal the events scroll above a live line of counts (orch/client/live.h).
  std::optional<LiveLine> live;
  if (live_view()) {
    live.emplace(out_, style(), std::set<std::string>(ids.begin(), ids.end()).size());
  }
  v1::TaskEvent event;
  while (reader->Read(&event)) {
    if (live) {
      live->update(event.id(), event.state());
      live->print(orch::client::format_event(event, style()));
      continue;
    }
    out_ << (json() ? to_json(event) : orch::client::format_event(event, style())) << '\n';
    out_.flush();
  }
  const grpc::Status status = reader->Finish();
  // Ctrl-C is how a watch of every task ends: not an error.
  const bool ended_well =
      status.ok() ||
      (interrupt.interrupted() && status.error_code() == grpc::StatusCode::CANCELLED);
  if (live) ended_well ? live->finish() : live->clear();
  if (ended_well) return kExitOk;
  check(status);
  return kExitOk;
}

int Commands::join(const JoinArgs& args) {
  v1::JoinRequest request;
  for (const auto& id : args.ids) request.add_ids(id);
  request.set_fail_fast(args.fail_fast);
  request.set_abort_remaining(args.abort_remaining);
  if (!args.timeout.empty()) {
    *request.mutable_timeout() = orch::client::to_proto(duration_arg(args.timeout, "--timeout"));
  }
  const bool basic = args.view == "basic";
  request.set_view(basic ? v1::TASK_VIEW_BASIC : v1::TASK_VIEW_FULL);
  v1::JoinResponse response;
  const auto join = [&] { return client().join(request, response); };
  check(live_view() ? wait_with_live_line(request.ids(), join) : join());
  if (json()) {
    out_ << to_json(response) << '\n';
  } else if (basic) {
    // One line per task: id, state and, when it did not succeed, the error.
    for (const auto& task : response.tasks()) {
      out_ << task.id() << ' ' << orch::client::state_word(task.state(), style());
      if (!task.result().error().empty()) out_ << " error=" << orch::client::quote(task.result().error());
      out_ << '\n';
    }
  } else {
    for (int i = 0; i < response.tasks_size(); ++i) {
      if (i > 0) out_ << '\n';
      out_ << orch::client::format_task(response.tasks(i), style());
    }
  }
  out_.flush();
  const bool all_succeeded =
      std::all_of(response.tasks().begin(), response.tasks().end(), succeeded);
  return all_succeeded ? kExitOk : kExitTaskNotSucceeded;
}

int Commands::select(const SelectArgs& args) {
  v1::SelectRequest request;
  for (const auto& id : args.ids) request.add_ids(id);
  request.set_abort_losers(args.abort_losers);
  if (!args.timeout.empty()) {
    *request.mutable_timeout() = orch::client::to_proto(duration_arg(args.timeout, "--timeout"));
  }
  v1::SelectResponse response;
  const auto select = [&] { return client().select(request, response); };
  check(live_view() ? wait_with_live_line(request.ids(), select) : select());
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    out_ << "winner: " << response.winner() << '\n'
         << orch::client::format_task(response.task(), style());
  }
  out_.flush();
  return succeeded(response.task()) ? kExitOk : kExitTaskNotSucceeded;
}

int Commands::who_am_i() {
  v1::WhoAmIResponse response;
  check(client().who_am_i(response));
  out_ << (json() ? to_json(response) + "\n" : orch::client::format_who_am_i(response));
  out_.flush();
  return kExitOk;
}

int Commands::ticks(const TicksArgs& args) {
  v1::TicksRequest request;
  const auto every = duration_arg(args.every, "--every");
  if (every == orch::Duration::zero()) throw UsageError("--every: must be positive");
  *request.mutable_period() = orch::client::to_proto(every);
  request.set_count(args.count);
  if (args.missed_tick == "burst") {
    request.set_missed_tick_behavior(v1::MISSED_TICK_BEHAVIOR_BURST);
  } else if (args.missed_tick == "delay") {
    request.set_missed_tick_behavior(v1::MISSED_TICK_BEHAVIOR_DELAY);
  } else if (args.missed_tick == "skip") {
    request.set_missed_tick_behavior(v1::MISSED_TICK_BEHAVIOR_SKIP);
  } else {
    throw UsageError("--missed-tick: invalid value \"" + args.missed_tick + "\" (use burst, delay or skip)");
  }

  auto& stub = client().schedules();
  auto ctx = client().context();
  CancelOnInterrupt interrupt(*ctx);
  auto reader = stub.Ticks(ctx.get(), request);
  v1::Tick tick;
  while (reader->Read(&tick)) {
    if (json()) {
      out_ << to_json(tick) << '\n';
    } else {
      out_ << "TICK " << tick.tick() << " scheduled=" << orch::client::format_timestamp(tick.scheduled_at())
           << " sent=" << orch::client::format_timestamp(tick.sent_at()) << " missed=" << tick.missed() << '\n';
    }
    out_.flush();
  }
  const grpc::Status status = reader->Finish();
  // Ctrl-C is how an endless ticks stream ends: not an error.
  if (interrupt.interrupted() && status.error_code() == grpc::StatusCode::CANCELLED) return kExitOk;
  check(status);
  return kExitOk;
}

}  // namespace orchctl

namespace orchctl {

void Commands::print_schedule(const v1::ScheduleInfo& info) {
  out_ << (json() ? to_json(info) + "\n" : format_schedule(info));
  out_.flush();
}

int Commands::interval_create(const IntervalCreateArgs& args) {
  v1::CreateIntervalRequest request;
  // Everything local is checked before anything is sent.
  if (!args.file.empty() && args.sleep_given) {
    throw UsageError("interval create: give either -f FILE or a node (sleep DURATION), not both");
  }
  if (!args.file.empty()) {
    auto spec = orch::client::read_spec_file(args.file, std::cin);
    if (!spec) throw UsageError(spec.error);
    *request.mutable_template_() = std::move(*spec.value);
  } else if (args.sleep_given) {
    *request.mutable_template_() =
        orch::client::sleep(duration_arg(args.sleep_duration, "DURATION"));
  } else {
    throw UsageError("interval create: say what each tick runs: `sleep DURATION` or -f FILE");
  }
  request.set_name(args.name);
  const auto every = duration_arg(args.every, "--every");
  if (every == orch::Duration::zero()) throw UsageError("--every: must be positive");
  *request.mutable_period() = orch::client::to_proto(every);
  request.set_missed_tick_behavior(missed_tick_arg(args.missed_tick));
  request.set_overlap_policy(overlap_arg(args.overlap));
  if (!args.catchup_window.empty()) {
    *request.mutable_catchup_window() =
        orch::client::to_proto(duration_arg(args.catchup_window, "--catchup-window"));
  }
  if (!args.delay.empty()) {
    *request.mutable_delay() = orch::client::to_proto(duration_arg(args.delay, "--delay"));
  }
  if (!args.start_at.empty() &&
      !google::protobuf::util::TimeUtil::FromString(args.start_at, request.mutable_start_at())) {
    throw UsageError("--start-at: \"" + args.start_at +
                     "\" is not an RFC 3339 time (e.g. 2026-12-01T09:00:00Z or "
                     "2026-12-01T10:00:00+01:00)");
  }
  request.set_max_ticks(args.max_ticks);
  add_labels(args.labels, *request.mutable_task_labels());

  auto& stub = client().schedules();
  auto ctx = client().context();
  v1::ScheduleInfo info;
  check(stub.CreateInterval(ctx.get(), request, &info));
  print_schedule(info);
  return kExitOk;
}

int Commands::interval_list() {
  auto& stub = client().schedules();
  v1::ListSchedulesRequest request;
  request.set_page_size(kMaxPageSize);
  // Follow next_page_token to the last page.
  v1::ListSchedulesResponse all;
  while (true) {
    auto ctx = client().context();
    v1::ListSchedulesResponse page;
    check(stub.List(ctx.get(), request, &page));
    for (auto& info : *page.mutable_schedules()) *all.add_schedules() = std::move(info);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }

  if (json()) {
    out_ << to_json(all) << '\n';
  } else {
    for (const auto& info : all.schedules()) {
      out_ << info.name() << "  "
           << short_name(v1::ScheduleState_Name(info.state()), "SCHEDULE_STATE_") << "  "
           << period_text(info) << "  " << orch::client::format_timestamp(info.next_tick_at())
           << "  " << info.ticks_fired() << '\n';
    }
  }
  out_.flush();
  return kExitOk;
}

int Commands::interval_get(const std::string& name) {
  auto& stub = client().schedules();
  auto ctx = client().context();
  v1::GetScheduleRequest request;
  request.set_name(name);
  v1::ScheduleInfo info;
  check(stub.Get(ctx.get(), request, &info));
  print_schedule(info);
  return kExitOk;
}

int Commands::interval_pause(const std::string& name) {
  auto& stub = client().schedules();
  auto ctx = client().context();
  v1::PauseScheduleRequest request;
  request.set_name(name);
  v1::ScheduleInfo info;
  check(stub.Pause(ctx.get(), request, &info));
  print_schedule(info);
  return kExitOk;
}

int Commands::interval_resume(const std::string& name) {
  auto& stub = client().schedules();
  auto ctx = client().context();
  v1::ResumeScheduleRequest request;
  request.set_name(name);
  v1::ScheduleInfo info;
  check(stub.Resume(ctx.get(), request, &info));
  print_schedule(info);
  return kExitOk;
}

int Commands::interval_remove(const std::string& name, bool abort_running) {
  auto& stub = client().schedules();
  auto ctx = client().context();
  v1::DeleteScheduleRequest request;
  request.set_name(name);
  request.set_abort_running(abort_running);
  v1::DeleteScheduleResponse response;
  check(stub.Delete(ctx.get(), request, &response));
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    out_ << name << " removed" << '\n';
    for (const auto& id : response.aborted()) out_ << id << " aborted" << '\n';
  }
  out_.flush();
  return kExitOk;
}

}  // namespace orchctl
