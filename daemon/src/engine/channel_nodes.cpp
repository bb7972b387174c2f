#include "channel_nodes.h"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <variant>

#include "orch/channels/channel_registry.h"
#include "orch/engine/engine.h"
#include "task_record.h"

namespace orch::engine {
namespace {

namespace asio = boost::asio;

asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

NodeResult finish(NodeResult r, State state, std::string error = {}) {
  r.state = state;
  r.error = std::move(error);
  r.finished = Clock::now();
  return r;
}

// What both leaves start with: the result, the task marked running (no permit is taken), the
// channel op and the registry. Returns an error text when the node cannot run at all.
std::string prepare(const Node& node, RunContext& ctx, NodeResult& r,
                    const ChannelOpSpec*& op, channels::ChannelRegistry*& registry) {
  r.kind = node.kind;
  r.started = Clock::now();
  ctx.engine.mark_running(ctx.record);
  op = std::get_if<ChannelOpSpec>(&node.work);
  registry = ctx.engine.channels();
  if (op == nullptr) return "internal error: " + std::string(kind_name(node.kind)) + " node without a channel";
  if (registry == nullptr) return "channels are not available in this engine";
  return {};
}

}  // namespace

asio::awaitable<NodeResult> run_send(const Node& node, RunContext& ctx) {
  NodeResult r;
  const ChannelOpSpec* op = nullptr;
  channels::ChannelRegistry* registry = nullptr;
  if (std::string error = prepare(node, ctx, r, op, registry); !error.empty()) {
    co_return finish(std::move(r), State::kFailed, std::move(error));
  }
  // The kind says what `receivers` means (a channel deleted from here on fails the send below).
  auto info = registry->get(ctx.record.tenant.settings.name, op->channel);
  if (!info) co_return finish(std::move(r), State::kFailed, info.error().message);
  const bool broadcast = info->kind == channels::ChannelKind::kBroadcast;
  // Waits while an MPSC channel is full; cancellation takes the send back whole. (The
  // awaitable is a named local: no temporaries with destructors inside a co_await.)
  auto send = registry->send(ctx.record.tenant.settings.name, op->channel, {op->payload},
                             channels::SendOptions{});
  Result<channels::SendOutcome> sent = co_await std::move(send);
  if (!sent) {
    if (sent.error().code == ErrorCode::kCancelled) co_return finish(std::move(r), State::kCancelled);
    co_return finish(std::move(r), State::kFailed, sent.error().message);
  }
  // The message is in the channel: the send happened, whatever cancellation came after it.
  SendOutput output;
  // BROADCAST: the subscribers it reached; MPSC (one receiver) and WATCH: 1.
  output.receivers = broadcast ? sent->subscribers : 1;
  r.output = output;
  co_return finish(std::move(r), State::kSucceeded);
}

asio::awaitable<NodeResult> run_recv(const Node& node, RunContext& ctx) {
  NodeResult r;
  const ChannelOpSpec* op = nullptr;
  channels::ChannelRegistry* registry = nullptr;
  if (std::string error = prepare(node, ctx, r, op, registry); !error.empty()) {
    co_return finish(std::move(r), State::kFailed, std::move(error));
  }
  // One message, at most once: it leaves the channel when committed below.
  auto recv = registry->recv(ctx.record.tenant.settings.name, op->channel, channels::RecvOptions{});
  Result<channels::Received> got = co_await std::move(recv);
  if (!got) {
    if (got.error().code == ErrorCode::kCancelled) co_return finish(std::move(r), State::kCancelled);
    co_return finish(std::move(r), State::kFailed, got.error().message);
  }

  // The message is held for this node but not committed; until the commit below, dropping
  // `got` (a cancelled or lost recv) gives it back to the front of the queue.
  //
  // A parent select or timeout learns that this node finished, and cancels its siblings, in the
  // same step as the node's last line runs — but only if this coroutine was suspended at least
  // once: Asio posts the completion of a coroutine that never suspended. A message already
  // queued is handed over without suspending, so yield once here. Then the check below and the
  // commit run with no gap in which a sibling recv could also commit: a sibling that already
  // holds a message sees its cancellation when it resumes and gives the message back.
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(executor, asio::use_awaitable);
  if (co_await cancelled()) co_return finish(std::move(r), State::kCancelled);

  channels::Received& received = *got;
  RecvOutput output;
  if (!received.messages.empty()) {
    output.payload = received.messages.front().payload;
    output.sequence = received.messages.front().sequence;
  } else if (received.value) {
    // WATCH: the current value and its version.
    output.payload = received.value->value;
    output.sequence = received.value->version;
  } else {
    co_return finish(std::move(r), State::kFailed, "channel " + op->channel + " is closed");
  }
  received.commit();
  r.output = std::move(output);
  co_return finish(std::move(r), State::kSucceeded);
}

}  // namespace orch::engine
