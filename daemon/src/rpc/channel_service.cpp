// ChannelService: proto in, the channels core, proto out. Nothing here knows how a channel
// queues, waits or redelivers.
#include "channel_service.h"

#include <boost/asio/this_coro.hpp>

#include "orch/channels/channel_registry.h"
#include "orch/rpc/channel_convert.h"
#include "orch/rpc/status.h"

namespace orch::rpc {
namespace {

using SubscribeStream = StreamCall<v1::SubscribeRequest, v1::ChannelEvent>;

constexpr std::uint32_t kDefaultPageSize = 100;
constexpr std::uint32_t kMaxPageSize = 1000;

grpc::Status invalid(const std::string& message) {
  return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument, message));
}

grpc::Status unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "channels are not served by this daemon");
}

void outcome_to_proto(const channels::SendOutcome& outcome, v1::SendResponse& response) {
  response.set_accepted(outcome.accepted);
  response.set_first_sequence(outcome.first_sequence);
  response.set_subscribers(outcome.subscribers);
  response.set_version(outcome.version);
}

// Leaves the messages of a Recv answer with the call: committed once the answer reached the
// client, given back to the channel (front of the queue, or out of flight) when it did not.
class CommitWhenDelivered final : public DoneHook {
 public:
  explicit CommitWhenDelivered(channels::Received received) : received_(std::move(received)) {}
  void done(bool delivered) override {
    if (delivered) received_.commit();
  }

 private:
  channels::Received received_;
};

grpc::Status create(CallContext call, const v1::CreateChannelRequest& request,
                    v1::ChannelInfo& response) {
  if (!call.channels) return unavailable();
  auto spec = channel_spec_from_proto(request);
  if (!spec) return to_status(spec.error());
  auto info = call.channels->create(call.tenant.name, *spec);
  if (!info) return to_status(info.error());
  info_to_proto(*info, response);
  return grpc::Status::OK;
}

asio::awaitable<grpc::Status> send(CallContext call, const v1::SendRequest& request,
                                   v1::SendResponse& response) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (!call.channels) co_return unavailable();
  auto options = send_options_from_proto(request, call.limits);
  if (!options) co_return to_status(options.error());
  // The payloads are moved out, not copied: the request belongs to this call alone (gRPC made
  // it for the call, non-const) and nothing reads it after the handler.
  auto& mutable_request = const_cast<v1::SendRequest&>(request);
  std::vector<std::string> payloads;
  payloads.reserve(static_cast<std::size_t>(request.payloads_size()));
  for (auto& payload : *mutable_request.mutable_payloads()) payloads.push_back(std::move(payload));
  // Bound to a local: no temporary with a destructor inside the co_await (GCC 12).
  auto sending =
      call.channels->send(call.tenant.name, request.name(), std::move(payloads), *options);
  auto outcome = co_await std::move(sending);
  if (!outcome) co_return to_status(outcome.error());
  outcome_to_proto(*outcome, response);
  co_return grpc::Status::OK;
}

// Send without a wait, answered on gRPC's thread: the reactor, or null when the call must go to
// the coroutine path (it would wait for room; the request is then as gRPC delivered it).
grpc::ServerUnaryReactor* send_inline(const ServiceBase& service, grpc::CallbackServerContext* ctx,
                                      const v1::SendRequest& request, v1::SendResponse& response) {
  const auto started = std::chrono::steady_clock::now();
  auto tenant = service.authenticate(ctx);
  if (!tenant || !service.channels) return nullptr;  // answered by the usual path
  const auto limits = service.limits.get();
  auto options = send_options_from_proto(request, *limits);
  grpc::Status status;
  if (!options) {
    status = to_status(options.error());
  } else {
    // Moved out as in send(); moved back if the send has to wait after all.
    auto& mutable_request = const_cast<v1::SendRequest&>(request);
    auto& fields = *mutable_request.mutable_payloads();
    std::vector<std::string> payloads;
    payloads.reserve(static_cast<std::size_t>(fields.size()));
    for (auto& payload : fields) payloads.push_back(std::move(payload));
    std::optional<engine::Result<channels::SendOutcome>> outcome;
    try {
      outcome = service.channels->try_send((*tenant)->name, request.name(), payloads, *options);
    } catch (...) {
      outcome = engine::make_error(engine::ErrorCode::kInternal, "internal error");
    }
    if (!outcome) {
      for (int i = 0; i < fields.size(); ++i) fields[i] = std::move(payloads[static_cast<std::size_t>(i)]);
      return nullptr;
    }
    if (*outcome) {
      outcome_to_proto(**outcome, response);
    } else {
      status = to_status(outcome->error());
    }
  }
  service.observe("ChannelService/Send", status, started);
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

asio::awaitable<grpc::Status> recv(CallContext call, const v1::RecvRequest& request,
                                   v1::RecvResponse& response) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (!call.channels) co_return unavailable();
  auto options = recv_options_from_proto(request, call.limits);
  if (!options) co_return to_status(options.error());
  auto receiving = call.channels->recv(call.tenant.name, request.name(), *options);
  auto received = co_await std::move(receiving);
  if (!received) co_return to_status(received.error());
  for (const auto& message : received->messages)
    message_to_proto(message, *response.add_messages());
  if (received->value) value_to_proto(*received->value, *response.mutable_value());
  response.set_closed(received->closed);
  // The messages stay the channel's until the answer has left: a client that went away
  // meanwhile loses nothing.
  if (call.done) *call.done = std::make_unique<CommitWhenDelivered>(std::move(*received));
  co_return grpc::Status::OK;
}

grpc::Status ack(CallContext call, const v1::AckRequest& request, v1::AckResponse& response) {
  if (!call.channels) return unavailable();
  if (request.delivery_ids().empty()) {
    auto acked = call.channels->ack(call.tenant.name, request.name(), request.delivery_id());
    if (!acked) return to_status(acked.error());
    response.set_acknowledged(1);
    return grpc::Status::OK;
  }
  const std::size_t count =
      static_cast<std::size_t>(request.delivery_ids_size()) + (request.delivery_id().empty() ? 0 : 1);
  if (count > call.limits.max_batch) {
    return invalid("delivery_ids: more than " + std::to_string(call.limits.max_batch) +
                      " deliveries (limits.max_batch)");
  }
  std::vector<std::string> ids;
  ids.reserve(count);
  if (!request.delivery_id().empty()) ids.push_back(request.delivery_id());
  ids.insert(ids.end(), request.delivery_ids().begin(), request.delivery_ids().end());
  std::uint32_t acknowledged = 0;
  auto acked = call.channels->ack(call.tenant.name, request.name(), ids, &acknowledged);
  response.set_acknowledged(acknowledged);
  if (!acked) return to_status(acked.error());
  return grpc::Status::OK;
}

// Every event but an MPSC batch (see batch_to_proto).
void event_to_proto(const channels::ChannelEvent& event, v1::ChannelEvent& out) {
  switch (event.type) {
    case channels::ChannelEvent::Type::kMessage:
      message_to_proto(event.message, *out.mutable_message());
      break;
    case channels::ChannelEvent::Type::kLagged:
      out.mutable_lagged()->set_skipped(event.skipped);
      break;
    case channels::ChannelEvent::Type::kValue:
      value_to_proto(event.value, *out.mutable_value());
      break;
    case channels::ChannelEvent::Type::kClosed:
      out.mutable_closed();
      break;
  }
}

// One event at a time: the next is read from the channel only once the previous one was
// written, so a slow reader slows its own stream (BROADCAST: it lags; WATCH: it sees fewer
// versions; MPSC: it takes fewer messages) and the daemon buffers nothing for it.
asio::awaitable<grpc::Status> subscribe(CallContext call, const v1::SubscribeRequest& request,
                                        SubscribeStream& stream) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (!call.channels) co_return unavailable();
  auto options = subscribe_options_from_proto(request, call.limits);
  if (!options) co_return to_status(options.error());
  auto subscription = call.channels->subscribe(call.tenant.name, request.name(), *options);
  if (!subscription) co_return to_status(subscription.error());
  const bool batched = options->max_batch > 0;
  v1::ChannelEvent message;
  for (;;) {
    // A cancel that arrived during the last (uncancellable) write is only recorded in this
    // coroutine's state: check it before waiting again.
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
      co_return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away");
    }
    auto event = co_await (*subscription)->next();
    if (!event) {
      if (event.error().code == engine::ErrorCode::kCancelled) {
        co_return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away");
      }
      co_return to_status(event.error());
    }
    // Only MPSC messages come in a delivery; BROADCAST messages stay one per event.
    if (batched && event->type == channels::ChannelEvent::Type::kMessage &&
        !event->delivery.messages.empty()) {
      // Refilled in place: the move into write() below swaps `message` with the stream's own
      // buffer, so the two alternate and each batch overwrites the one written two events ago
      // instead of allocating a message, a payload and a timestamp per channel message.
      batch_to_proto(event->delivery.messages, message);
    } else {
      message.Clear();
      event_to_proto(*event, message);
    }
    // An MPSC message (or batch) not written goes back to the channel with event->delivery.
    // Moved, not copied: a batch of a thousand messages is not built twice.
    if (!co_await stream.write(std::move(message))) {
      co_return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away");
    }
    event->delivery.commit();
    if (event->type == channels::ChannelEvent::Type::kClosed) co_return grpc::Status::OK;
  }
}

grpc::Status close(CallContext call, const v1::CloseChannelRequest& request,
                   v1::ChannelInfo& response) {
  if (!call.channels) return unavailable();
  auto info = call.channels->close(call.tenant.name, request.name());
  if (!info) return to_status(info.error());
  info_to_proto(*info, response);
  return grpc::Status::OK;
}

grpc::Status remove(CallContext call, const v1::DeleteChannelRequest& request,
                    v1::DeleteChannelResponse& response) {
  if (!call.channels) return unavailable();
  auto discarded = call.channels->remove(call.tenant.name, request.name());
  if (!discarded) return to_status(discarded.error());
  response.set_discarded(*discarded);
  return grpc::Status::OK;
}

grpc::Status get(CallContext call, const v1::GetChannelRequest& request,
                 v1::ChannelInfo& response) {
  if (!call.channels) return unavailable();
  auto info = call.channels->get(call.tenant.name, request.name());
  if (!info) return to_status(info.error());
  info_to_proto(*info, response);
  return grpc::Status::OK;
}

grpc::Status list(CallContext call, const v1::ListChannelsRequest& request,
                  v1::ListChannelsResponse& response) {
  if (!call.channels) return unavailable();
  if (request.page_size() > kMaxPageSize) {
    return invalid("page_size: must be at most " + std::to_string(kMaxPageSize));
  }
  auto kind = kind_from_proto(request.kind(), "kind");
  if (!kind) return to_status(kind.error());
  const std::uint32_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  // Sorted by name; the page token is the last name of the previous page.
  for (const auto& info : call.channels->list(call.tenant.name, *kind)) {
    if (!request.page_token().empty() && info.name <= request.page_token()) continue;
    if (static_cast<std::uint32_t>(response.channels_size()) == page_size) {
      response.set_next_page_token(response.channels(response.channels_size() - 1).name());
      break;
    }
    info_to_proto(info, *response.add_channels());
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* ChannelServiceImpl::Create(grpc::CallbackServerContext* ctx,
                                                     const v1::CreateChannelRequest* request,
                                                     v1::ChannelInfo* response) {
  return InlineCall<v1::CreateChannelRequest, v1::ChannelInfo>::start(
      base_, "ChannelService/Create", ctx, request, response, create);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::Send(grpc::CallbackServerContext* ctx,
                                                   const v1::SendRequest* request,
                                                   v1::SendResponse* response) {
  // A send that finds room is answered here, on gRPC's thread (as an InlineCall); only one that
  // must wait for room becomes a coroutine (and takes a waiting-call slot).
  if (auto* reactor = send_inline(base_, ctx, *request, *response)) return reactor;
  return UnaryCall<v1::SendRequest, v1::SendResponse>::start(base_, "ChannelService/Send", ctx,
                                                             request, response, send);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::Recv(grpc::CallbackServerContext* ctx,
                                                   const v1::RecvRequest* request,
                                                   v1::RecvResponse* response) {
  return UnaryCall<v1::RecvRequest, v1::RecvResponse>::start(base_, "ChannelService/Recv", ctx,
                                                             request, response, recv);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::Ack(grpc::CallbackServerContext* ctx,
                                                  const v1::AckRequest* request,
                                                  v1::AckResponse* response) {
  return InlineCall<v1::AckRequest, v1::AckResponse>::start(base_, "ChannelService/Ack", ctx,
                                                           request, response, ack);
}

grpc::ServerWriteReactor<v1::ChannelEvent>* ChannelServiceImpl::Subscribe(
    grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* request) {
  return SubscribeStream::start(base_, "ChannelService/Subscribe", ctx, request, subscribe);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::Close(grpc::CallbackServerContext* ctx,
                                                    const v1::CloseChannelRequest* request,
                                                    v1::ChannelInfo* response) {
  return InlineCall<v1::CloseChannelRequest, v1::ChannelInfo>::start(base_, "ChannelService/Close",
                                                                    ctx, request, response, close);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::Delete(grpc::CallbackServerContext* ctx,
                                                     const v1::DeleteChannelRequest* request,
                                                     v1::DeleteChannelResponse* response) {
  return InlineCall<v1::DeleteChannelRequest, v1::DeleteChannelResponse>::start(
      base_, "ChannelService/Delete", ctx, request, response, remove);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::Get(grpc::CallbackServerContext* ctx,
                                                  const v1::GetChannelRequest* request,
                                                  v1::ChannelInfo* response) {
  return InlineCall<v1::GetChannelRequest, v1::ChannelInfo>::start(base_, "ChannelService/Get", ctx,
                                                                  request, response, get);
}

grpc::ServerUnaryReactor* ChannelServiceImpl::List(grpc::CallbackServerContext* ctx,
                                                   const v1::ListChannelsRequest* request,
                                                   v1::ListChannelsResponse* response) {
  return InlineCall<v1::ListChannelsRequest, v1::ListChannelsResponse>::start(
      base_, "ChannelService/List", ctx, request, response, list);
}

}  // namespace orch::rpc
