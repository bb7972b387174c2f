#pragma once
// RPC internals: gRPC callback reactors.
//
// InlineCall: a unary call that never waits (Spawn, Get, List, Abort, WhoAmI, ...) is answered
// on gRPC's callback thread itself: gRPC's default reactor, no strand, no coroutine, no
// hand-off to the io_context and back.
//
// UnaryCall and StreamCall run handlers that are coroutines on the runtime. A reactor co_spawns
// its handler on its own strand with a cancellation slot it owns. The handler's completion calls
// Finish exactly once (an escaped exception becomes INTERNAL).
// OnCancel (client gone, deadline, server shutdown) only posts a terminal cancellation to the
// strand; OnDone posts the reactor's deletion there, after everything else it ran.

#include <grpcpp/grpcpp.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "call_slots.h"
#include "orch/config/config.h"
#include "orch/config/live_value.h"
#include "orch/engine/error.h"
#include "orch/engine/wait_queue.h"
#include "orch/rpc/status.h"

namespace orch::engine {
class Engine;
}
namespace orch::metrics {
class Metrics;
}
namespace orch::tenants {
class TenantRegistry;
}
namespace orch::schedules {
class ScheduleRegistry;
}
namespace orch::mutexes {
class MutexRegistry;
}
namespace orch::channels {
class ChannelRegistry;
}

namespace orch::rpc {

namespace asio = boost::asio;

/// Work a unary handler leaves for the end of its call. done() runs once gRPC is finished with
/// the call, on the call's strand, told whether the answer left for the client (false when the
/// client went away or its deadline passed before the status could be sent).
class DoneHook {
 public:
  virtual ~DoneHook() = default;
  virtual void done(bool delivered) = 0;
};

/// What every handler gets: the caller's tenant and the daemon's parts. `tenant` and `limits`
/// are the snapshots the call started with; the call's reactor keeps them alive.
struct CallContext {
  const config::TenantConfig& tenant;
  const config::Limits& limits;
  engine::Engine& engine;
  metrics::Metrics* metrics;  // may be null
  schedules::ScheduleRegistry* schedules = nullptr;  // ScheduleService only
  mutexes::MutexRegistry* mutexes = nullptr;         // MutexService only
  channels::ChannelRegistry* channels = nullptr;
  /// Unary calls only: where the handler may leave a DoneHook.
  std::unique_ptr<DoneHook>* done = nullptr;
};

/// Shared by all services.
struct ServiceBase {
  engine::Engine& engine;
  const tenants::TenantRegistry& tenants;
  const config::LiveValue<config::Limits>& limits;  // replaced by a configuration reload
  metrics::Metrics* metrics;
  asio::any_io_executor executor;
  schedules::ScheduleRegistry* schedules = nullptr;  // ScheduleService only
  mutexes::MutexRegistry* mutexes = nullptr;         // MutexService only
  channels::ChannelRegistry* channels = nullptr;
  /// Per-tenant streams and waiting calls; null: no such limits (unit tests).
  CallSlots* slots = nullptr;

  /// Calls carrying a bearer token are refused (a plaintext listener that is not loopback).
  bool refuse_tokens = false;

  /// The caller's tenant, from the `authorization` metadata and the client certificate.
  engine::Result<std::shared_ptr<const config::TenantConfig>> authenticate(
      grpc::CallbackServerContext* ctx) const;
  /// A stream slot (kStream) or a waiting-call slot (kWaiting) of `tenant`; an empty slot when
  /// `slots` is null; RESOURCE_EXHAUSTED naming the limit when the tenant holds all of them.
  engine::Result<CallSlot> take_slot(const std::string& tenant, SlotKind kind) const {
    if (!slots) return CallSlot();
    const auto current = limits.get();
    return slots->acquire(tenant, kind,
                          kind == SlotKind::kStream ? current->max_streams_per_tenant
                                                    : current->max_waiting_rpcs_per_tenant);
  }
  void observe(const char* method, const grpc::Status& status,
               std::chrono::steady_clock::time_point started) const;
};

std::string log_line_for(const char* method, const grpc::Status& status);

/// A unary call whose handler answers at once: run inline on the gRPC thread that delivered the
/// request. The handler must not block (short mutexes only) and must not wait for the io_context.
template <typename Request, typename Response>
struct InlineCall {
  using Handler = grpc::Status (*)(CallContext, const Request&, Response&);

  static grpc::ServerUnaryReactor* start(const ServiceBase& service, const char* method,
                                         grpc::CallbackServerContext* ctx, const Request* request,
                                         Response* response, Handler handler) {
    const auto started = std::chrono::steady_clock::now();
    grpc::Status status;
    if (auto tenant = service.authenticate(ctx); !tenant) {
      status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, tenant.error().message);
    } else {
      const auto limits = service.limits.get();
      CallContext context{**tenant,        *limits,           service.engine,
                          service.metrics, service.schedules, service.mutexes,
                          service.channels};
      try {
        status = handler(context, *request, *response);
      } catch (...) {
        status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
      }
    }
    service.observe(method, status, started);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }
};

/// A unary call whose handler is a coroutine returning the call's status.
template <typename Request, typename Response>
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  // A plain function, not a lambda: a coroutine lambda's captures would die before its frame.
  using Handler = asio::awaitable<grpc::Status> (*)(CallContext, const Request&, Response&);

  /// `waits`: the call takes a waiting slot although its method does not always wait (a
  /// SpawnBatch that joins its tasks).
  static grpc::ServerUnaryReactor* start(const ServiceBase& service, const char* method,
                                         grpc::CallbackServerContext* ctx, const Request* request,
                                         Response* response, Handler handler, bool waits = false) {
    const auto started = std::chrono::steady_clock::now();
    const auto refuse = [&](const grpc::Status& status) {
      auto* reactor = ctx->DefaultReactor();
      service.observe(method, status, started);
      reactor->Finish(status);
      return reactor;
    };
    auto tenant = service.authenticate(ctx);
    if (!tenant) {
      return refuse(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, tenant.error().message));
    }
    CallSlot slot;
    if (waits || is_waiting_method(method)) {
      auto taken = service.take_slot((*tenant)->name, SlotKind::kWaiting);
      if (!taken) return refuse(to_status(taken.error()));
      slot = std::move(*taken);
    }
    return new UnaryCall(service, method, started, ctx, std::move(*tenant), std::move(slot),
                         *request, *response, handler);
  }

  void OnCancel() override {
    asio::post(strand_, [this] { cancel_.emit(asio::cancellation_type::terminal); });
  }
  void OnDone() override {
    // IsCancelled() is final here: true when the status (and answer) never reached the client.
    const bool delivered = !ctx_->IsCancelled();
    asio::post(strand_, [this, delivered] {
      if (done_hook_) done_hook_->done(delivered);
      delete this;
    });
  }

 private:
  UnaryCall(const ServiceBase& service, const char* method,
            std::chrono::steady_clock::time_point started, grpc::CallbackServerContext* ctx,
            std::shared_ptr<const config::TenantConfig> tenant, CallSlot slot,
            const Request& request, Response& response, Handler handler)
      : service_(service), method_(method), started_(started), ctx_(ctx),
        tenant_(std::move(tenant)), limits_(service.limits.get()), slot_(std::move(slot)),
        strand_(asio::make_strand(service.executor)) {
    CallContext context{*tenant_,         *limits_,        service.engine,
                        service.metrics,  service.schedules, service.mutexes,
                        service.channels, &done_hook_};
    asio::co_spawn(strand_, handler(context, request, response),
                   asio::bind_cancellation_slot(cancel_.slot(), [this](std::exception_ptr e, grpc::Status status) {
                     if (e) status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
                     service_.observe(method_, status, started_);
                     // The call waits no more: its slot is free before the caller sees the
                     // answer, so a caller's next call never finds its own finished one counted.
                     slot_ = CallSlot();
                     Finish(status);
                   }));
  }

  const ServiceBase& service_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
  grpc::CallbackServerContext* ctx_;
  std::shared_ptr<const config::TenantConfig> tenant_;
  std::shared_ptr<const config::Limits> limits_;
  CallSlot slot_;  // a waiting call's slot, given back when the handler has answered
  asio::strand<asio::any_io_executor> strand_;
  asio::cancellation_signal cancel_;
  std::unique_ptr<DoneHook> done_hook_;
};

/// A server-streaming call. The handler writes with `write()`, which waits for the previous
/// message to leave (one outstanding write at a time: a slow reader slows its own stream).
template <typename Request, typename Message>
class StreamCall final : public grpc::ServerWriteReactor<Message> {
 public:
  using Handler = asio::awaitable<grpc::Status> (*)(CallContext, const Request&, StreamCall&);

  static grpc::ServerWriteReactor<Message>* start(const ServiceBase& service, const char* method,
                                                  grpc::CallbackServerContext* ctx,
                                                  const Request* request, Handler handler) {
    auto* call = new StreamCall(service, method);
    auto tenant = service.authenticate(ctx);
    if (!tenant) {
      call->finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, tenant.error().message));
      return call;
    }
    auto slot = service.take_slot((*tenant)->name, SlotKind::kStream);
    if (!slot) {
      call->finish(to_status(slot.error()));
      return call;
    }
    call->slot_ = std::move(*slot);
    call->tenant_ = std::move(*tenant);
    call->limits_ = service.limits.get();
    CallContext context{*call->tenant_,  *call->limits_,    service.engine,
                        service.metrics, service.schedules, service.mutexes,
                        service.channels};
    asio::co_spawn(call->strand_, handler(context, *request, *call),
                   asio::bind_cancellation_slot(call->cancel_.slot(), [call](std::exception_ptr e, grpc::Status status) {
                     if (e) status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
                     call->finish(status);
                   }));
    return call;
  }

  /// Sends one message; completes with false when the stream is broken (client gone). Not
  /// cancellable on purpose: gRPC always completes a started write, and Finish must wait for it.
  asio::awaitable<bool> write(const Message& message) {
    message_ = message;
    return write_held();
  }
  /// The same, moving `message` in instead of copying it (a large message costs no copy).
  asio::awaitable<bool> write(Message&& message) {
    message_ = std::move(message);
    return write_held();
  }

 private:
  asio::awaitable<bool> write_held() {
    {
      std::lock_guard lock(mutex_);
      write_ok_.reset();
    }
    this->StartWrite(&message_);
    auto executor = co_await asio::this_coro::executor;
    co_await engine::async_park(
        mutex_, &write_waiters_,
        [this]() -> std::optional<boost::system::error_code> {
          if (write_ok_) return boost::system::error_code{};
          return std::nullopt;
        },
        [this]() -> engine::WaitQueue* { return &write_waiters_; }, executor,
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    std::lock_guard lock(mutex_);
    co_return *write_ok_;
  }

 public:
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    write_ok_ = ok;
    if (auto w = write_waiters_.pop_front()) engine::WaitQueue::complete(std::move(*w), {});
  }
  void OnCancel() override {
    asio::post(strand_, [this] { cancel_.emit(asio::cancellation_type::terminal); });
  }
  void OnDone() override {
    asio::post(strand_, [this] { delete this; });
  }

 private:
  StreamCall(const ServiceBase& service, const char* method)
      : service_(service), method_(method), started_(std::chrono::steady_clock::now()),
        strand_(asio::make_strand(service.executor)) {}

  void finish(const grpc::Status& status) {
    service_.observe(method_, status, started_);
    this->Finish(status);
  }

  const ServiceBase& service_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<const config::TenantConfig> tenant_;
  std::shared_ptr<const config::Limits> limits_;
  CallSlot slot_;  // the tenant's stream slot, given back when the reactor is deleted
  asio::strand<asio::any_io_executor> strand_;
  asio::cancellation_signal cancel_;
  Message message_;
  std::mutex mutex_;
  std::optional<bool> write_ok_;
  engine::WaitQueue write_waiters_;
};

}  // namespace orch::rpc
