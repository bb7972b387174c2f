#include "commands.h"

#include <algorithm>
#include <iostream>
#include <map>

#include "exit_codes.h"
#include "interrupt.h"
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

}  // namespace

Commands::Commands(const GlobalArgs& globals, std::ostream& out) : globals_(globals), out_(out) {}

orch::client::Client& Commands::client() {
  if (!client_) {
    client_ = std::make_unique<orch::client::Client>(
        orch::client::ClientOptions{globals_.address, globals_.token});
  }
  return *client_;
}

void Commands::print_task(const v1::TaskInfo& task) {
  if (json()) {
    out_ << to_json(task) << '\n';
  } else {
    out_ << orch::client::format_task(task);
  }
  out_.flush();
}

int Commands::spawn(const SpawnArgs& args) {
  v1::SpawnRequest request;
  // Everything local is checked before anything is sent.
  if (!args.file.empty() && args.sleep_given) {
    throw UsageError("spawn: give either -f FILE or a node (sleep DURATION), not both");
  }
  if (!args.file.empty()) {
    auto spec = orch::client::read_spec_file(args.file, std::cin);
    if (!spec) throw UsageError(spec.error);
    *request.mutable_spec() = std::move(*spec.value);
  } else if (args.sleep_given) {
    *request.mutable_spec() = orch::client::sleep(duration_arg(args.sleep_duration, "DURATION"));
  } else {
    throw UsageError("spawn: say what to run: `sleep DURATION` or -f FILE");
  }
  request.set_name(args.name);
  add_labels(args.labels, *request.mutable_labels());
  request.set_idempotency_key(args.idempotency_key);

  v1::SpawnResponse spawned;
  check(client().spawn(request, spawned));
  if (!args.wait) {
    if (json()) {
      out_ << to_json(spawned) << '\n';
    } else {
      out_ << spawned.id() << '\n';
    }
    out_.flush();
    return kExitOk;
  }

  v1::JoinRequest join;
  join.add_ids(spawned.id());
  v1::JoinResponse joined;
  check(client().join(join, joined));
  if (joined.tasks_size() != 1) {
    throw RpcError(
        grpc::Status(grpc::StatusCode::INTERNAL,
                     "Join returned " + std::to_string(joined.tasks_size()) + " tasks for 1 id"));
  }
  print_task(joined.tasks(0));
  return succeeded(joined.tasks(0)) ? kExitOk : kExitTaskNotSucceeded;
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
    out_ << orch::client::format_task_table(all.tasks());
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
  v1::TaskEvent event;
  while (reader->Read(&event)) {
    out_ << (json() ? to_json(event) : orch::client::format_event(event)) << '\n';
    out_.flush();
  }
  const grpc::Status status = reader->Finish();
  // Ctrl-C is how a watch of every task ends: not an error.
  if (interrupt.interrupted() && status.error_code() == grpc::StatusCode::CANCELLED) {
    return kExitOk;
  }
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
  v1::JoinResponse response;
  check(client().join(request, response));
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    for (int i = 0; i < response.tasks_size(); ++i) {
      if (i > 0) out_ << '\n';
      out_ << orch::client::format_task(response.tasks(i));
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
  check(client().select(request, response));
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    out_ << "winner: " << response.winner() << '\n' << orch::client::format_task(response.task());
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

  // The client library has no ScheduleService stub yet: make one on its channel.
  auto stub = v1::ScheduleService::NewStub(client().channel());
  auto ctx = client().context();
  CancelOnInterrupt interrupt(*ctx);
  auto reader = stub->Ticks(ctx.get(), request);
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
