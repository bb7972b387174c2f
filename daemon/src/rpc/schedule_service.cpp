// ScheduleService: proto in, a timeline driven on the engine Clock, proto out.
#include "schedule_service.h"

#include <boost/asio/this_coro.hpp>

#include "orch/engine/engine.h"
#include "orch/rpc/schedule_convert.h"
#include "orch/rpc/status.h"
#include "orch/schedules/tick_loop.h"

namespace orch::rpc {
namespace {

using TicksStream = StreamCall<v1::TicksRequest, v1::Tick>;

constexpr std::uint32_t kDefaultPageSize = 100;
constexpr std::uint32_t kMaxPageSize = 1000;

grpc::Status invalid(const std::string& message) {
  return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument, message));
}

// A schedule as ScheduleInfo, with its last task's current state.
void info_of(const CallContext& call, const schedules::ScheduleSnapshot& s, v1::ScheduleInfo& out) {
  std::optional<engine::State> last_state;
  if (!s.last_task_id.empty()) {
    if (auto task = call.engine.get(call.tenant.name, s.last_task_id)) last_state = task->state;
  }
  schedule_to_proto(s, last_state, out);
}

grpc::Status create_interval(CallContext call,
                             const v1::CreateIntervalRequest& request,
                             v1::ScheduleInfo& response) {
  auto spec =
      schedule_spec_from_proto(request, SpecPolicy{call.limits, call.tenant}, engine::Clock::now());
  if (!spec) return to_status(spec.error());
  auto created = call.schedules->create(call.tenant.name, std::move(*spec), call.tenant.max_schedules);
  if (!created) return to_status(created.error());
  info_of(call, *created, response);
  return grpc::Status::OK;
}

grpc::Status get(CallContext call, const v1::GetScheduleRequest& request,
                 v1::ScheduleInfo& response) {
  auto s = call.schedules->get(call.tenant.name, request.name());
  if (!s) return to_status(s.error());
  info_of(call, *s, response);
  return grpc::Status::OK;
}

grpc::Status list(CallContext call, const v1::ListSchedulesRequest& request,
                  v1::ListSchedulesResponse& response) {
  if (request.page_size() > kMaxPageSize) {
    return invalid("page_size: must be at most " + std::to_string(kMaxPageSize));
  }
  const std::uint32_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  // Sorted by name; the page token is the last name of the previous page.
  for (const auto& s : call.schedules->list(call.tenant.name)) {
    if (!request.page_token().empty() && s.name <= request.page_token()) continue;
    if (request.state() != v1::SCHEDULE_STATE_UNSPECIFIED &&
        schedule_state_to_proto(s.state) != request.state()) {
      continue;
    }
    if (static_cast<std::uint32_t>(response.schedules_size()) == page_size) {
      response.set_next_page_token(response.schedules(response.schedules_size() - 1).name());
      break;
    }
    info_of(call, s, *response.add_schedules());
  }
  return grpc::Status::OK;
}

grpc::Status pause(CallContext call, const v1::PauseScheduleRequest& request,
                   v1::ScheduleInfo& response) {
  auto s = call.schedules->pause(call.tenant.name, request.name());
  if (!s) return to_status(s.error());
  info_of(call, *s, response);
  return grpc::Status::OK;
}

grpc::Status resume(CallContext call, const v1::ResumeScheduleRequest& request,
                    v1::ScheduleInfo& response) {
  auto s = call.schedules->resume(call.tenant.name, request.name(), request.reset());
  if (!s) return to_status(s.error());
  info_of(call, *s, response);
  return grpc::Status::OK;
}

grpc::Status remove(CallContext call, const v1::DeleteScheduleRequest& request,
                    v1::DeleteScheduleResponse& response) {
  auto aborted = call.schedules->remove(call.tenant.name, request.name(), request.abort_running());
  if (!aborted) return to_status(aborted.error());
  for (const auto& id : *aborted) response.add_aborted(id);
  return grpc::Status::OK;
}

// Writes each tick on the stream; one write outstanding, so a slow reader delays the next tick.
class StreamTickSink final : public schedules::TickSink {
 public:
  explicit StreamTickSink(TicksStream& stream) : stream_(stream) {}

  asio::awaitable<bool> send(const schedules::FiredTick& tick, engine::TimePoint sent_at) override {
    message_.Clear();
    tick_to_proto(tick, sent_at, message_);
    co_return co_await stream_.write(message_);
  }

 private:
  TicksStream& stream_;
  v1::Tick message_;
};

asio::awaitable<grpc::Status> ticks(CallContext call, const v1::TicksRequest& request,
                                    TicksStream& stream) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto options = ticks_options_from_proto(request, call.limits, engine::Clock::now());
  if (!options) co_return to_status(options.error());
  schedules::IntervalTimeline timeline(*options);
  StreamTickSink sink(stream);
  switch (co_await schedules::run_ticks(timeline, sink)) {
    case schedules::TickLoopEnd::kFinished:
      co_return grpc::Status::OK;
    case schedules::TickLoopEnd::kReceiverGone:
      co_return grpc::Status(grpc::StatusCode::CANCELLED, "the ticks reader went away");
    case schedules::TickLoopEnd::kCancelled:
      break;
  }
  co_return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
}

}  // namespace

grpc::ServerUnaryReactor* ScheduleServiceImpl::CreateInterval(
    grpc::CallbackServerContext* ctx, const v1::CreateIntervalRequest* request,
    v1::ScheduleInfo* response) {
  return InlineCall<v1::CreateIntervalRequest, v1::ScheduleInfo>::start(
      base_, "ScheduleService/CreateInterval", ctx, request, response, create_interval);
}

grpc::ServerUnaryReactor* ScheduleServiceImpl::Get(grpc::CallbackServerContext* ctx,
                                                   const v1::GetScheduleRequest* request,
                                                   v1::ScheduleInfo* response) {
  return InlineCall<v1::GetScheduleRequest, v1::ScheduleInfo>::start(base_, "ScheduleService/Get",
                                                                    ctx, request, response, get);
}

grpc::ServerUnaryReactor* ScheduleServiceImpl::List(grpc::CallbackServerContext* ctx,
                                                    const v1::ListSchedulesRequest* request,
                                                    v1::ListSchedulesResponse* response) {
  return InlineCall<v1::ListSchedulesRequest, v1::ListSchedulesResponse>::start(
      base_, "ScheduleService/List", ctx, request, response, list);
}

grpc::ServerUnaryReactor* ScheduleServiceImpl::Pause(grpc::CallbackServerContext* ctx,
                                                     const v1::PauseScheduleRequest* request,
                                                     v1::ScheduleInfo* response) {
  return InlineCall<v1::PauseScheduleRequest, v1::ScheduleInfo>::start(
      base_, "ScheduleService/Pause", ctx, request, response, pause);
}

grpc::ServerUnaryReactor* ScheduleServiceImpl::Resume(grpc::CallbackServerContext* ctx,
                                                      const v1::ResumeScheduleRequest* request,
                                                      v1::ScheduleInfo* response) {
  return InlineCall<v1::ResumeScheduleRequest, v1::ScheduleInfo>::start(
      base_, "ScheduleService/Resume", ctx, request, response, resume);
}

grpc::ServerUnaryReactor* ScheduleServiceImpl::Delete(grpc::CallbackServerContext* ctx,
                                                      const v1::DeleteScheduleRequest* request,
                                                      v1::DeleteScheduleResponse* response) {
  return InlineCall<v1::DeleteScheduleRequest, v1::DeleteScheduleResponse>::start(
      base_, "ScheduleService/Delete", ctx, request, response, remove);
}

grpc::ServerWriteReactor<v1::Tick>* ScheduleServiceImpl::Ticks(grpc::CallbackServerContext* ctx,
                                                               const v1::TicksRequest* request) {
  return TicksStream::start(base_, "ScheduleService/Ticks", ctx, request, ticks);
}

}  // namespace orch::rpc
