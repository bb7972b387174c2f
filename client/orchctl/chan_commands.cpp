#include "chan_commands.h"

#include <iostream>

#include "exit_codes.h"
#include "interrupt.h"
#include "orch/client/channel_format.h"
#include "orch/client/format.h"
#include "orch/client/specs.h"
#include "orch/common/duration.h"
#include "validators.h"

namespace orchctl {
namespace {

namespace v1 = orch::v1;
using orch::client::to_json;

constexpr std::uint32_t kDefaultCapacity = 100;
constexpr std::uint32_t kMaxPageSize = 1000;
constexpr std::uint32_t kMaxRecvBatch = 1000;

void check(const grpc::Status& status) {
  if (!status.ok()) throw RpcError(status);
}

orch::Duration duration_arg(const std::string& text, const std::string& flag) {
  const auto d = orch::parse_duration(text);
  if (!d) {
    throw UsageError(flag + ": invalid duration \"" + text + "\" (use e.g. 250ms, 2s, 1m30s)");
  }
  return *d;
}

v1::ChannelKind kind_arg(const std::string& text) {
  if (text == "mpsc") return v1::CHANNEL_KIND_MPSC;
  if (text == "broadcast") return v1::CHANNEL_KIND_BROADCAST;
  if (text == "watch") return v1::CHANNEL_KIND_WATCH;
  throw UsageError("--kind: invalid kind \"" + text + "\" (use mpsc, broadcast or watch)");
}

constexpr const char* kChanFooter = R"(
Named channels of the tenant (see docs/channels.md), Tokio's sync channels as a service:
  mpsc       bounded queue; each message goes to one receiver; send waits while it is full
  broadcast  every subscriber sees every message; a slow one is told what it lost (lagged)
  watch      one value with a version; readers see the latest

Text output:
  create, get, close: one `field: value` line per field (name, kind, capacity, depth,
    in_flight, senders, receivers, subscribers, state, version (watch), messages_sent,
    created)
  ls:    NAME  KIND  CAPACITY  DEPTH  SUBSCRIBERS  STATE   (one line per channel, by name)
  send:  accepted=N first_sequence=S subscribers=K version=V
         (subscribers: broadcast only; version: watch only; 0 otherwise)
  recv and sub, one line per message or event, payloads quoted:
    message seq=S delivery=C [id=DELIVERY_ID] "PAYLOAD"
    value version=V "VALUE"
    lagged skipped=N
    closed
  rm:    NAME removed (N messages discarded)
  ack:   ID acked
json: the response objects (ChannelInfo, ListChannelsResponse, SendResponse, RecvResponse per
Recv call, ChannelEvent per event, DeleteChannelResponse), one per line.

Examples:
  orchctl chan create jobs --capacity 2
  orchctl chan send jobs hello world --timeout 5s
  orchctl chan recv jobs -n 2)";

constexpr const char* kRecvFooter = R"(
Receives -n messages (default 1; 0: until the channel is closed) from an mpsc channel, or the
value of a watch channel (newer than --after-version). Each wait is bounded by --timeout
(DEADLINE_EXCEEDED, exit 3, with nothing taken).
With --ack-deadline the delivery is at-least-once: each message shows its delivery id and
comes back (delivery count + 1) unless acknowledged within the deadline, by --ack (after it is
printed) or by `orchctl chan ack NAME ID`.
Exit 0 when -n messages were printed, or when the channel was closed with -n 0; exit 1 when
the channel was closed before -n messages came ("closed" is printed).

Examples:
  orchctl chan recv jobs -n 10 --timeout 30s --ack-deadline 1m --ack)";

constexpr const char* kSubFooter = R"(
Streams a channel's events, one line each, flushed at once: broadcast messages sent from now
on (and `lagged skipped=N` when this reader fell behind), a watch channel's value now and each
newer one, or (mpsc) messages taken as a competing receiver. Ends with `closed` (exit 0), after
--count events, or on Ctrl-C / SIGTERM (exit 0).

Examples:
  orchctl chan sub news --count 5)";

}  // namespace

ChanCommands::ChanCommands(const GlobalArgs& globals, std::ostream& out)
    : globals_(globals),
      out_(out),
      client_(client_options(globals)) {}

void ChanCommands::print_info(const v1::ChannelInfo& info) {
  out_ << (json() ? to_json(info) + "\n" : orch::client::format_channel(info));
  out_.flush();
}

int ChanCommands::create(const ChanCreateArgs& args) {
  v1::CreateChannelRequest request;
  request.set_name(args.name);
  request.set_kind(kind_arg(args.kind));
  const bool watch = request.kind() == v1::CHANNEL_KIND_WATCH;
  request.set_capacity(args.capacity.value_or(watch ? 0 : kDefaultCapacity));
  if (!args.value.empty() && !watch) {
    throw UsageError("--value: only a watch channel has an initial value");
  }
  request.set_initial_value(args.value);
  request.set_if_not_exists(args.if_not_exists);
  auto ctx = client_.context();
  v1::ChannelInfo info;
  check(client_.channels().Create(ctx.get(), request, &info));
  print_info(info);
  return kExitOk;
}

int ChanCommands::send(const ChanSendArgs& args) {
  v1::SendRequest request;
  request.set_name(args.name);
  for (const auto& message : args.messages) request.add_payloads(message);
  if (!args.timeout.empty()) {
    *request.mutable_timeout() = orch::client::to_proto(duration_arg(args.timeout, "--timeout"));
  }
  request.set_no_wait(args.no_wait);
  auto ctx = client_.context();
  v1::SendResponse response;
  check(client_.channels().Send(ctx.get(), request, &response));
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    out_ << "accepted=" << response.accepted() << " first_sequence=" << response.first_sequence()
         << " subscribers=" << response.subscribers() << " version=" << response.version() << '\n';
  }
  out_.flush();
  // A batch that was only partly accepted (the timeout passed) did not fully succeed.
  return response.accepted() == static_cast<std::uint32_t>(args.messages.size())
             ? kExitOk
             : kExitTaskNotSucceeded;
}

void ChanCommands::ack_one(const std::string& name, const std::string& id) {
  v1::AckRequest request;
  request.set_name(name);
  request.set_delivery_id(id);
  auto ctx = client_.context();
  v1::AckResponse response;
  check(client_.channels().Ack(ctx.get(), request, &response));
}

int ChanCommands::recv(const ChanRecvArgs& args) {
  v1::RecvRequest request;
  request.set_name(args.name);
  if (!args.timeout.empty()) {
    *request.mutable_timeout() = orch::client::to_proto(duration_arg(args.timeout, "--timeout"));
  }
  if (!args.ack_deadline.empty()) {
    request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
    *request.mutable_ack_deadline() =
        orch::client::to_proto(duration_arg(args.ack_deadline, "--ack-deadline"));
  } else if (args.ack) {
    throw UsageError("--ack: only with --ack-deadline (at-least-once delivery)");
  }
  request.set_no_wait(args.no_wait);
  request.set_after_version(args.after_version);

  std::uint64_t printed = 0;
  for (;;) {
    const std::uint64_t left = args.count == 0 ? kMaxRecvBatch : args.count - printed;
    request.set_max_messages(
        static_cast<std::uint32_t>(std::min<std::uint64_t>(left, kMaxRecvBatch)));
    auto ctx = client_.context();
    v1::RecvResponse response;
    check(client_.channels().Recv(ctx.get(), request, &response));
    if (json()) out_ << to_json(response) << '\n';
    for (const auto& message : response.messages()) {
      if (!json()) out_ << orch::client::format_channel_message(message) << '\n';
      out_.flush();
      if (args.ack) ack_one(args.name, message.delivery_id());
      ++printed;
    }
    if (response.has_value()) {
      // A watch channel answers with its value: one read is the whole command.
      if (!json()) out_ << orch::client::format_watch_value(response.value()) << '\n';
      if (response.closed() && !json()) out_ << "closed\n";
      out_.flush();
      return kExitOk;
    }
    if (response.closed()) {
      if (!json()) out_ << "closed\n";
      out_.flush();
      return args.count == 0 ? kExitOk : kExitTaskNotSucceeded;
    }
    out_.flush();
    if (args.no_wait && response.messages().empty()) return kExitOk;
    if (args.count != 0 && printed >= args.count) return kExitOk;
  }
}

int ChanCommands::ack(const std::string& name, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    ack_one(name, id);
    if (!json()) out_ << id << " acked\n";
  }
  if (json()) out_ << "{}\n";
  out_.flush();
  return kExitOk;
}

int ChanCommands::sub(const ChanSubArgs& args) {
  v1::SubscribeRequest request;
  request.set_name(args.name);
  if (!args.ack_deadline.empty()) {
    request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
    *request.mutable_ack_deadline() =
        orch::client::to_proto(duration_arg(args.ack_deadline, "--ack-deadline"));
    request.set_max_unacked(args.max_unacked);
  } else if (args.ack) {
    throw UsageError("--ack: only with --ack-deadline (at-least-once delivery)");
  }
  auto ctx = client_.context();
  CancelOnInterrupt interrupt(*ctx);
  auto reader = client_.channels().Subscribe(ctx.get(), request);
  v1::ChannelEvent event;
  std::uint64_t seen = 0;
  while (reader->Read(&event)) {
    out_ << (json() ? to_json(event) : orch::client::format_channel_event(event)) << '\n';
    out_.flush();
    if (args.ack && event.has_message()) ack_one(args.name, event.message().delivery_id());
    if (args.count != 0 && ++seen >= args.count) {
      ctx->TryCancel();
      reader->Finish();
      return kExitOk;
    }
  }
  const grpc::Status status = reader->Finish();
  if (interrupt.interrupted() && status.error_code() == grpc::StatusCode::CANCELLED) return kExitOk;
  check(status);
  return kExitOk;
}

int ChanCommands::close(const std::string& name) {
  v1::CloseChannelRequest request;
  request.set_name(name);
  auto ctx = client_.context();
  v1::ChannelInfo info;
  check(client_.channels().Close(ctx.get(), request, &info));
  print_info(info);
  return kExitOk;
}

int ChanCommands::remove(const std::string& name) {
  v1::DeleteChannelRequest request;
  request.set_name(name);
  auto ctx = client_.context();
  v1::DeleteChannelResponse response;
  check(client_.channels().Delete(ctx.get(), request, &response));
  if (json()) {
    out_ << to_json(response) << '\n';
  } else {
    out_ << name << " removed (" << response.discarded() << " messages discarded)\n";
  }
  out_.flush();
  return kExitOk;
}

int ChanCommands::list(const std::string& kind) {
  v1::ListChannelsRequest request;
  if (!kind.empty()) request.set_kind(kind_arg(kind));
  request.set_page_size(kMaxPageSize);
  // Follow next_page_token to the last page.
  v1::ListChannelsResponse all;
  while (true) {
    auto ctx = client_.context();
    v1::ListChannelsResponse page;
    check(client_.channels().List(ctx.get(), request, &page));
    for (auto& info : *page.mutable_channels()) *all.add_channels() = std::move(info);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  out_ << (json() ? to_json(all) + "\n" : orch::client::format_channel_table(all.channels()));
  out_.flush();
  return kExitOk;
}

int ChanCommands::get(const std::string& name) {
  v1::GetChannelRequest request;
  request.set_name(name);
  auto ctx = client_.context();
  v1::ChannelInfo info;
  check(client_.channels().Get(ctx.get(), request, &info));
  print_info(info);
  return kExitOk;
}

void add_chan_commands(CLI::App& app, const GlobalArgs& globals,
                       std::function<int(Commands&)>& action) {
  auto* chan = app.add_subcommand("chan", "Named channels: mpsc, broadcast and watch");
  chan->alias("channel");
  chan->footer(kChanFooter);
  chan->require_subcommand(1);
  // Arguments live as long as the app (CLI11 keeps the callbacks there too).
  struct Args {
    ChanCreateArgs create;
    ChanSendArgs send;
    ChanRecvArgs recv;
    ChanSubArgs sub;
    std::string name;
    std::string kind;
    std::vector<std::string> ids;
  };
  auto args = std::make_shared<Args>();
  const auto run = [&globals, &action](std::function<int(ChanCommands&)> command) {
    action = [&globals, command](Commands&) {
      ChanCommands chan_commands(globals, std::cout);
      return command(chan_commands);
    };
  };

  auto* create = chan->add_subcommand("create", "Create a channel");
  create->footer(
      "\nExamples:\n  orchctl chan create jobs --capacity 10\n"
      "  orchctl chan create config --kind watch --value v1 --if-not-exists");
  create->add_option("NAME", args->create.name, "channel name, unique in the tenant")->required();
  create->add_option("--kind", args->create.kind, "mpsc, broadcast or watch")
      ->check(CLI::IsMember({"mpsc", "broadcast", "watch"}))
      ->capture_default_str();
  create->add_option("--capacity", args->create.capacity,
                     "mpsc: messages queued or in flight; broadcast: messages kept "
                     "(default 100; watch: 0)");
  create->add_option("--value", args->create.value, "watch: the initial value");
  create->add_flag("--if-not-exists", args->create.if_not_exists,
                   "return an existing channel of the same kind and capacity");
  create->callback(
      [args, run] { run([args](ChanCommands& c) { return c.create(args->create); }); });

  auto* send = chan->add_subcommand("send", "Send messages, in order (mpsc: waits while full)");
  send->add_option("NAME", args->send.name, "channel name")->required();
  send->add_option("MSG", args->send.messages, "messages (one payload each)")->required();
  send->add_option("--timeout", args->send.timeout, "mpsc: longest wait for room")
      ->check(duration_check());
  send->add_flag("--no-wait", args->send.no_wait, "mpsc: send what fits now, never wait");
  send->footer(
      "\nExit 1 when the timeout passed after only some of the messages were accepted\n"
      "(accepted=N says how many, from the first); DEADLINE_EXCEEDED (exit 3) when none was.\n"
      "\nExamples:\n  orchctl chan send jobs hello world --timeout 5s\n"
      "  orchctl chan send jobs 'one more' --no-wait");
  send->callback([args, run] { run([args](ChanCommands& c) { return c.send(args->send); }); });

  auto* recv = chan->add_subcommand("recv", "Receive messages (mpsc) or the value (watch)");
  recv->footer(kRecvFooter);
  recv->add_option("NAME", args->recv.name, "channel name")->required();
  recv->add_option("-n", args->recv.count, "messages to receive (0: until closed)")
      ->capture_default_str();
  recv->add_option("--timeout", args->recv.timeout, "longest wait for each message")
      ->check(duration_check());
  recv->add_option("--ack-deadline", args->recv.ack_deadline,
                   "at-least-once: redeliver unless acknowledged within this")
      ->check(duration_check());
  recv->add_flag("--ack", args->recv.ack, "acknowledge each message once printed");
  recv->add_flag("--no-wait", args->recv.no_wait, "take what is there now, never wait");
  recv->add_option("--after-version", args->recv.after_version,
                   "watch: wait for a version newer than this");
  recv->callback([args, run] { run([args](ChanCommands& c) { return c.recv(args->recv); }); });

  auto* ack = chan->add_subcommand("ack", "Acknowledge at-least-once deliveries");
  ack->footer("\nExamples:\n  orchctl chan ack jobs 7-2 8-1");
  ack->add_option("NAME", args->name, "channel name")->required();
  ack->add_option("ID", args->ids, "delivery ids (from recv or sub)")->required();
  ack->callback(
      [args, run] { run([args](ChanCommands& c) { return c.ack(args->name, args->ids); }); });

  auto* sub = chan->add_subcommand("sub", "Stream a channel's events");
  sub->alias("subscribe");
  sub->footer(kSubFooter);
  sub->add_option("NAME", args->sub.name, "channel name")->required();
  sub->add_option("--count", args->sub.count, "stop after N events (0: until closed)")
      ->capture_default_str();
  sub->add_option("--ack-deadline", args->sub.ack_deadline,
                  "mpsc at-least-once: redeliver unless acknowledged within this")
      ->check(duration_check());
  sub->add_flag("--ack", args->sub.ack, "acknowledge each message once printed");
  sub->add_option("--max-unacked", args->sub.max_unacked,
                  "at-least-once: take no more while this many are unacknowledged");
  sub->callback([args, run] { run([args](ChanCommands& c) { return c.sub(args->sub); }); });

  auto* close = chan->add_subcommand("close", "Close a channel: no more sends, the rest drains");
  close->footer("\nExamples:\n  orchctl chan close jobs");
  close->add_option("NAME", args->name, "channel name")->required();
  close->callback([args, run] { run([args](ChanCommands& c) { return c.close(args->name); }); });

  auto* rm = chan->add_subcommand("rm", "Delete a channel and what it holds");
  rm->alias("delete");
  rm->footer("\nExamples:\n  orchctl chan rm jobs");
  rm->add_option("NAME", args->name, "channel name")->required();
  rm->callback([args, run] { run([args](ChanCommands& c) { return c.remove(args->name); }); });

  auto* ls = chan->add_subcommand("ls", "List the tenant's channels by name");
  ls->alias("list");
  ls->footer("\nExamples:\n  orchctl chan ls\n  orchctl chan ls --kind watch -o json");
  ls->add_option("--kind", args->kind, "only channels of this kind")
      ->check(CLI::IsMember({"mpsc", "broadcast", "watch"}));
  ls->callback([args, run] { run([args](ChanCommands& c) { return c.list(args->kind); }); });

  auto* get = chan->add_subcommand("get", "Print one channel");
  get->footer("\nExamples:\n  orchctl chan get jobs");
  get->add_option("NAME", args->name, "channel name")->required();
  get->callback([args, run] { run([args](ChanCommands& c) { return c.get(args->name); }); });
}

}  // namespace orchctl
