// Tenant isolation on the real daemon: every RPC of every service, called by tenant beta with
// tenant alpha's ids and names. The answer is NOT_FOUND, or the call acts on beta's own
// namespace (a name beta creates is beta's, beside alpha's; Unlock and Refresh of alpha's mutex
// answer as for a mutex beta never locked); never alpha's data, and alpha's
// objects are unchanged afterwards. The table must name every method the services declare, so
// a new RPC without a case fails here.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "raw_worker.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

// What alpha owns before beta tries anything.
struct AlphaWorld {
  std::string running_task;   // sleeping for a minute
  std::string finished_task;  // succeeded
  std::string keyed_task;     // spawned with idempotency key "alpha-key"
  std::string delivery_id;    // an unacknowledged delivery of channel "alpha-only-ch"
  std::string mutex_guard;    // alpha's guard of mutex "alpha-only-mx"
  v1::Assignment assignment;  // a worker assignment of queue "alpha-q"
};

class Isolation : public ::testing::Test {
 public:
  Isolation() : daemon_(two_tenants()), alpha_(daemon_.client(kAlpha)), beta_(daemon_.client(kBeta)) {}

  void SetUp() override {
    world_.running_task = spawn_task(alpha_, oc::sleep(60s), "alpha-running");
    world_.finished_task = spawn_task(alpha_, oc::sleep(1ms), "alpha-finished");
    join_task(alpha_, world_.finished_task);
    v1::SpawnRequest keyed;
    *keyed.mutable_spec() = oc::sleep(60s);
    keyed.set_idempotency_key("alpha-key");
    v1::SpawnResponse keyed_response;
    ASSERT_TRUE(alpha_.spawn(keyed, keyed_response, kCallDeadline).ok());
    world_.keyed_task = keyed_response.id();

    for (const char* name : {"alpha-sched", "alpha-only-sched"}) {
      v1::CreateIntervalRequest create;
      create.set_name(name);
      *create.mutable_period() = oc::to_proto(1h);
      *create.mutable_delay() = oc::to_proto(1h);
      *create.mutable_template_() = oc::sleep(1ms);
      v1::ScheduleInfo info;
      auto ctx = alpha_.context(kCallDeadline);
      ASSERT_TRUE(alpha_.schedules().CreateInterval(ctx.get(), create, &info).ok()) << name;
    }

    for (const char* name : {"alpha-ch", "alpha-only-ch"}) {
      v1::CreateChannelRequest create;
      create.set_name(name);
      create.set_kind(v1::CHANNEL_KIND_MPSC);
      create.set_capacity(10);
      v1::ChannelInfo info;
      auto ctx = alpha_.context(kCallDeadline);
      ASSERT_TRUE(alpha_.channels().Create(ctx.get(), create, &info).ok()) << name;
      v1::SendRequest send;
      send.set_name(name);
      send.add_payloads("alpha-secret-payload-1");
      send.add_payloads("alpha-secret-payload-2");
      v1::SendResponse sent;
      auto send_ctx = alpha_.context(kCallDeadline);
      ASSERT_TRUE(alpha_.channels().Send(send_ctx.get(), send, &sent).ok()) << name;
    }
    v1::RecvRequest recv;
    recv.set_name("alpha-only-ch");
    recv.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
    *recv.mutable_ack_deadline() = oc::to_proto(10min);
    v1::RecvResponse received;
    auto recv_ctx = alpha_.context(kCallDeadline);
    ASSERT_TRUE(alpha_.channels().Recv(recv_ctx.get(), recv, &received).ok());
    ASSERT_EQ(received.messages_size(), 1);
    world_.delivery_id = received.messages(0).delivery_id();
    ASSERT_FALSE(world_.delivery_id.empty());

    for (const char* name : {"alpha-mx", "alpha-only-mx"}) {
      v1::LockRequest lock;
      lock.set_name(name);
      lock.set_holder("alpha-holder");
      *lock.mutable_lease_ttl() = oc::to_proto(10min);
      v1::LockResponse locked;
      auto ctx = alpha_.context(kCallDeadline);
      ASSERT_TRUE(alpha_.mutexes().Lock(ctx.get(), lock, &locked).ok()) << name;
      if (std::string(name) == "alpha-only-mx") world_.mutex_guard = locked.guard();
    }

    worker_.emplace(alpha_, "alpha-q");
    spawn_task(alpha_, oc::worker("alpha-q", "alpha-work"), "alpha-worker-task");
    world_.assignment = worker_->read_assignment();
  }

  // Alpha's objects after beta's attempts: all still there and unchanged.
  void expect_alpha_untouched() {
    EXPECT_EQ(get_task(alpha_, world_.running_task).state(), v1::TASK_STATE_RUNNING);
    EXPECT_EQ(get_task(alpha_, world_.keyed_task).state(), v1::TASK_STATE_RUNNING);
    v1::GetScheduleRequest get_schedule;
    get_schedule.set_name("alpha-only-sched");
    v1::ScheduleInfo schedule;
    auto ctx = alpha_.context(kCallDeadline);
    ASSERT_TRUE(alpha_.schedules().Get(ctx.get(), get_schedule, &schedule).ok());
    EXPECT_EQ(schedule.state(), v1::SCHEDULE_STATE_ACTIVE);
    v1::GetChannelRequest get_channel;
    get_channel.set_name("alpha-only-ch");
    v1::ChannelInfo channel;
    auto channel_ctx = alpha_.context(kCallDeadline);
    ASSERT_TRUE(alpha_.channels().Get(channel_ctx.get(), get_channel, &channel).ok());
    EXPECT_FALSE(channel.closed());
    EXPECT_EQ(channel.depth(), 1u);
    EXPECT_EQ(channel.in_flight(), 1u);
    v1::GetMutexRequest get_mutex;
    get_mutex.set_name("alpha-only-mx");
    v1::MutexInfo mutex;
    auto mutex_ctx = alpha_.context(kCallDeadline);
    ASSERT_TRUE(alpha_.mutexes().Get(mutex_ctx.get(), get_mutex, &mutex).ok());
    EXPECT_TRUE(mutex.locked());
    EXPECT_EQ(mutex.holder().holder(), "alpha-holder");
  }

  DaemonProcess daemon_;
  oc::Client alpha_;
  oc::Client beta_;
  AlphaWorld world_;
  std::optional<RawWorker> worker_;
};

void expect_not_found(const grpc::Status& status, const std::string& what) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << what << ": " << describe(status);
  EXPECT_EQ(status.error_message().find("alpha-secret-payload"), std::string::npos);
}

// For calls that name a mutex by a guard: beta's answer for alpha's mutex is exactly its answer
// for a name nobody uses (beta's own, never locked), so it tells nothing of alpha's.
template <typename Call>
void expect_same_as_unused(Call call, const std::string& what) {
  const grpc::Status on_alpha = call("alpha-only-mx");
  const grpc::Status on_unused = call("never-used-mx");
  EXPECT_FALSE(on_alpha.ok()) << what;
  EXPECT_EQ(on_alpha.error_code(), on_unused.error_code()) << what;
  std::string expected = on_unused.error_message();
  expected.replace(expected.find("never-used-mx"), std::string("never-used-mx").size(),
                   "alpha-only-mx");
  EXPECT_EQ(on_alpha.error_message(), expected) << what;
}

using Case = std::function<void(Isolation&, oc::Client& beta, const AlphaWorld& alpha)>;

// Every method of every service, by "Service/Method".
std::map<std::string, Case> cases() {
  std::map<std::string, Case> c;

  // --- TaskService ---
  c["TaskService/Spawn"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    v1::SpawnRequest request;
    *request.mutable_spec() = oc::sleep(1ms);
    request.set_idempotency_key("alpha-key");  // alpha's key names a new task of beta's
    v1::SpawnResponse response;
    ASSERT_TRUE(beta.spawn(request, response, kCallDeadline).ok());
    EXPECT_FALSE(response.existing());
    EXPECT_NE(response.id(), alpha.keyed_task);
  };
  c["TaskService/SpawnBatch"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    v1::SpawnBatchRequest request;
    auto* task = request.add_tasks();
    *task->mutable_spec() = oc::sleep(1ms);
    task->set_idempotency_key("alpha-key");
    v1::SpawnBatchResponse response;
    ASSERT_TRUE(beta.spawn_batch(request, response, kCallDeadline).ok());
    ASSERT_EQ(response.ids_size(), 1);
    EXPECT_NE(response.ids(0), alpha.keyed_task);
  };
  c["TaskService/Get"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    for (const auto& id : {alpha.running_task, alpha.finished_task}) {
      v1::GetTaskRequest request;
      request.set_id(id);
      v1::TaskInfo response;
      expect_not_found(beta.get(request, response, kCallDeadline), "Get " + id);
    }
  };
  c["TaskService/List"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::ListTasksRequest request;
    request.set_page_size(1000);
    v1::ListTasksResponse response;
    ASSERT_TRUE(beta.list(request, response, kCallDeadline).ok());
    for (const auto& task : response.tasks()) {
      EXPECT_EQ(task.name().find("alpha"), std::string::npos) << task.id();
    }
  };
  c["TaskService/Join"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    for (const auto view : {v1::TASK_VIEW_UNSPECIFIED, v1::TASK_VIEW_BASIC, v1::TASK_VIEW_FULL}) {
      v1::JoinRequest request;
      request.add_ids(alpha.finished_task);
      request.set_view(view);
      v1::JoinResponse response;
      expect_not_found(beta.join(request, response, kCallDeadline), "Join " + v1::TaskView_Name(view));
    }
  };
  c["TaskService/Select"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    v1::SelectRequest request;
    request.add_ids(alpha.finished_task);
    request.set_abort_losers(true);
    v1::SelectResponse response;
    expect_not_found(beta.select(request, response, kCallDeadline), "Select");
  };
  c["TaskService/Abort"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    v1::AbortRequest request;
    request.add_ids(alpha.running_task);
    v1::AbortResponse response;
    expect_not_found(beta.abort(request, response, kCallDeadline), "Abort");
  };
  c["TaskService/Run"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    // A task of beta's own; keys stay per tenant (run_test.cpp runs alpha's key as beta, which
    // here would make Spawn's "alpha-key" case find beta's Run).
    v1::RunRequest request;
    *request.mutable_task()->mutable_spec() = oc::sleep(1ms);
    v1::RunResponse response;
    ASSERT_TRUE(beta.run(request, response, kCallDeadline).ok());
    EXPECT_FALSE(response.existing());
    for (const auto& id : {alpha.running_task, alpha.finished_task, alpha.keyed_task}) {
      EXPECT_NE(response.task().id(), id);
    }
    EXPECT_EQ(response.task().state(), v1::TASK_STATE_SUCCEEDED);
  };
  c["TaskService/Watch"] = [](Isolation& t, oc::Client& beta, const AlphaWorld& alpha) {
    {
      auto ctx = beta.context(kCallDeadline);
      v1::WatchRequest request;
      request.add_ids(alpha.running_task);
      auto reader = beta.watch(*ctx, request);
      v1::TaskEvent event;
      EXPECT_FALSE(reader->Read(&event)) << event.DebugString();
      expect_not_found(reader->Finish(), "Watch");
    }
    // A watch of all beta's tasks never shows alpha's: alpha spawns first, beta after, and
    // no event of alpha's comes before beta's own.
    auto ctx = beta.context(kCallDeadline);
    auto reader = beta.watch(*ctx, v1::WatchRequest{});
    const auto alphas = spawn_task(t.alpha_, oc::sleep(1ms), "alpha-after-watch");
    const auto own = spawn_task(beta, oc::sleep(1ms), "beta-after-watch");
    v1::TaskEvent event;
    while (reader->Read(&event) && event.id() != own) {
      EXPECT_NE(event.id(), alphas) << "beta's watch saw alpha's task";
    }
    EXPECT_EQ(event.id(), own);
    ctx->TryCancel();
    while (reader->Read(&event)) {
    }
    reader->Finish();
  };

  c["TaskService/RunStream"] = [](Isolation& t, oc::Client& beta, const AlphaWorld& alpha) {
    // The task is beta's own: alpha cannot read it. (That alpha's idempotency key names a new
    // task of beta's is run_stream_test's; here it would turn the Spawn case's key into beta's.)
    auto ctx = beta.context(kCallDeadline);
    auto stream = beta.tasks().RunStream(ctx.get());
    v1::RunStreamRequest request;
    auto* item = request.add_items();
    item->set_ref(1);
    *item->mutable_spawn()->mutable_spec() = oc::sleep(1ms);
    ASSERT_TRUE(stream->Write(request));
    stream->WritesDone();
    v1::RunStreamResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_EQ(response.outcomes_size(), 1);
    EXPECT_EQ(response.outcomes(0).state(), v1::TASK_STATE_SUCCEEDED);
    const std::string id = response.outcomes(0).id();
    EXPECT_NE(id, alpha.running_task);
    EXPECT_NE(id, alpha.finished_task);
    while (stream->Read(&response)) {
    }
    EXPECT_TRUE(stream->Finish().ok());
    v1::GetTaskRequest get;
    get.set_id(id);
    v1::TaskInfo info;
    EXPECT_EQ(t.alpha_.get(get, info, kCallDeadline).error_code(), grpc::StatusCode::NOT_FOUND);
  };

  // --- TenantService ---
  c["TenantService/WhoAmI"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::WhoAmIResponse response;
    ASSERT_TRUE(beta.who_am_i(response, kCallDeadline).ok());
    EXPECT_EQ(response.tenant(), "beta");
    EXPECT_EQ(response.usage().permits_in_use(), 0u) << "alpha's running tasks counted as beta's";
  };

  // --- ScheduleService ---
  c["ScheduleService/CreateInterval"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::CreateIntervalRequest request;
    request.set_name("alpha-sched");  // alpha has one; beta's namespace does not
    *request.mutable_period() = oc::to_proto(1h);
    *request.mutable_delay() = oc::to_proto(1h);
    *request.mutable_template_() = oc::sleep(1ms);
    v1::ScheduleInfo info;
    auto ctx = beta.context(kCallDeadline);
    const auto status = beta.schedules().CreateInterval(ctx.get(), request, &info);
    EXPECT_TRUE(status.ok()) << describe(status);
  };
  const auto schedule_call = [](auto call) {
    return [call](Isolation&, oc::Client& beta, const AlphaWorld&) {
      auto ctx = beta.context(kCallDeadline);
      expect_not_found(call(beta.schedules(), ctx.get()), "schedule alpha-only-sched");
    };
  };
  c["ScheduleService/Get"] = schedule_call([](auto& s, grpc::ClientContext* ctx) {
    v1::GetScheduleRequest r;
    r.set_name("alpha-only-sched");
    v1::ScheduleInfo out;
    return s.Get(ctx, r, &out);
  });
  c["ScheduleService/Pause"] = schedule_call([](auto& s, grpc::ClientContext* ctx) {
    v1::PauseScheduleRequest r;
    r.set_name("alpha-only-sched");
    v1::ScheduleInfo out;
    return s.Pause(ctx, r, &out);
  });
  c["ScheduleService/Resume"] = schedule_call([](auto& s, grpc::ClientContext* ctx) {
    v1::ResumeScheduleRequest r;
    r.set_name("alpha-only-sched");
    v1::ScheduleInfo out;
    return s.Resume(ctx, r, &out);
  });
  c["ScheduleService/Delete"] = schedule_call([](auto& s, grpc::ClientContext* ctx) {
    v1::DeleteScheduleRequest r;
    r.set_name("alpha-only-sched");
    r.set_abort_running(true);
    v1::DeleteScheduleResponse out;
    return s.Delete(ctx, r, &out);
  });
  c["ScheduleService/List"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::ListSchedulesRequest request;
    v1::ListSchedulesResponse response;
    auto ctx = beta.context(kCallDeadline);
    ASSERT_TRUE(beta.schedules().List(ctx.get(), request, &response).ok());
    for (const auto& s : response.schedules()) EXPECT_NE(s.name(), "alpha-only-sched");
  };
  c["ScheduleService/Ticks"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    // A pure timer stream: it names no object, so it can only be beta's own.
    v1::TicksRequest request;
    *request.mutable_period() = oc::to_proto(10ms);
    request.set_count(1);
    auto ctx = beta.context(kCallDeadline);
    auto reader = beta.schedules().Ticks(ctx.get(), request);
    v1::Tick tick;
    EXPECT_TRUE(reader->Read(&tick));
    EXPECT_EQ(tick.tick(), 1u);
    while (reader->Read(&tick)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  };

  // --- MutexService ---
  c["MutexService/Lock"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::LockRequest request;
    request.set_name("alpha-mx");  // held by alpha; beta's mutex of that name is free
    request.set_no_wait(true);
    request.set_holder("beta-holder");
    v1::LockResponse response;
    auto ctx = beta.context(kCallDeadline);
    const auto status = beta.mutexes().Lock(ctx.get(), request, &response);
    EXPECT_TRUE(status.ok()) << describe(status);
    EXPECT_TRUE(response.value().empty());
  };
  // Unlock and Refresh with alpha's guard: beta's mutex of that name is not locked, and the
  // answer is the one for a name beta never used.
  c["MutexService/Unlock"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    expect_same_as_unused([&](const std::string& name) {
      v1::UnlockRequest request;
      request.set_name(name);
      request.set_guard(alpha.mutex_guard);
      request.set_set_value(true);
      request.set_value("beta-was-here");
      v1::UnlockResponse response;
      auto ctx = beta.context(kCallDeadline);
      return beta.mutexes().Unlock(ctx.get(), request, &response);
    }, "Unlock");
  };
  c["MutexService/Refresh"] = [](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
    expect_same_as_unused([&](const std::string& name) {
      v1::RefreshRequest request;
      request.set_name(name);
      request.set_guard(alpha.mutex_guard);
      v1::RefreshResponse response;
      auto ctx = beta.context(kCallDeadline);
      return beta.mutexes().Refresh(ctx.get(), request, &response);
    }, "Refresh");
  };
  c["MutexService/Get"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::GetMutexRequest request;
    request.set_name("alpha-only-mx");
    v1::MutexInfo response;
    auto ctx = beta.context(kCallDeadline);
    expect_not_found(beta.mutexes().Get(ctx.get(), request, &response), "mutex Get");
  };

  // --- ChannelService ---
  c["ChannelService/Create"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::CreateChannelRequest request;
    request.set_name("alpha-ch");  // alpha has one; beta's namespace does not
    request.set_kind(v1::CHANNEL_KIND_MPSC);
    request.set_capacity(1);
    v1::ChannelInfo info;
    auto ctx = beta.context(kCallDeadline);
    const auto status = beta.channels().Create(ctx.get(), request, &info);
    EXPECT_TRUE(status.ok()) << describe(status);
    EXPECT_EQ(info.depth(), 0u) << "beta sees alpha's messages";
  };
  const auto channel_call = [](auto call) {
    return [call](Isolation&, oc::Client& beta, const AlphaWorld& alpha) {
      auto ctx = beta.context(kCallDeadline);
      expect_not_found(call(beta.channels(), ctx.get(), alpha), "channel alpha-only-ch");
    };
  };
  c["ChannelService/Send"] = channel_call([](auto& s, grpc::ClientContext* ctx, const AlphaWorld&) {
    v1::SendRequest r;
    r.set_name("alpha-only-ch");
    r.add_payloads("from-beta");
    r.set_no_wait(true);
    v1::SendResponse out;
    return s.Send(ctx, r, &out);
  });
  c["ChannelService/Recv"] = channel_call([](auto& s, grpc::ClientContext* ctx, const AlphaWorld&) {
    v1::RecvRequest r;
    r.set_name("alpha-only-ch");
    r.set_no_wait(true);
    v1::RecvResponse out;
    auto status = s.Recv(ctx, r, &out);
    EXPECT_EQ(out.messages_size(), 0);
    return status;
  });
  c["ChannelService/Ack"] = channel_call([](auto& s, grpc::ClientContext* ctx, const AlphaWorld& alpha) {
    v1::AckRequest r;
    r.set_name("alpha-only-ch");
    r.set_delivery_id(alpha.delivery_id);
    v1::AckResponse out;
    return s.Ack(ctx, r, &out);
  });
  c["ChannelService/Close"] = channel_call([](auto& s, grpc::ClientContext* ctx, const AlphaWorld&) {
    v1::CloseChannelRequest r;
    r.set_name("alpha-only-ch");
    v1::ChannelInfo out;
    return s.Close(ctx, r, &out);
  });
  c["ChannelService/Delete"] = channel_call([](auto& s, grpc::ClientContext* ctx, const AlphaWorld&) {
    v1::DeleteChannelRequest r;
    r.set_name("alpha-only-ch");
    v1::DeleteChannelResponse out;
    return s.Delete(ctx, r, &out);
  });
  c["ChannelService/Get"] = channel_call([](auto& s, grpc::ClientContext* ctx, const AlphaWorld&) {
    v1::GetChannelRequest r;
    r.set_name("alpha-only-ch");
    v1::ChannelInfo out;
    return s.Get(ctx, r, &out);
  });
  c["ChannelService/Subscribe"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::SubscribeRequest request;
    request.set_name("alpha-only-ch");
    auto ctx = beta.context(kCallDeadline);
    auto reader = beta.channels().Subscribe(ctx.get(), request);
    v1::ChannelEvent event;
    EXPECT_FALSE(reader->Read(&event)) << event.DebugString();
    expect_not_found(reader->Finish(), "Subscribe");
  };
  c["ChannelService/List"] = [](Isolation&, oc::Client& beta, const AlphaWorld&) {
    v1::ListChannelsRequest request;
    v1::ListChannelsResponse response;
    auto ctx = beta.context(kCallDeadline);
    ASSERT_TRUE(beta.channels().List(ctx.get(), request, &response).ok());
    for (const auto& channel : response.channels()) EXPECT_NE(channel.name(), "alpha-only-ch");
  };

  // --- WorkerService ---
  c["WorkerService/Connect"] = [](Isolation& t, oc::Client& beta, const AlphaWorld& alpha) {
    // Beta's worker on alpha's queue, with a free slot, while alpha has a task waiting there.
    RawWorker intruder(beta, "alpha-q");
    spawn_task(t.alpha_, oc::worker("alpha-q", "alpha-waiting"), "alpha-waiting");
    // Reporting alpha's assignment is refused as unknown; no assignment of alpha's comes first.
    intruder.send_result(alpha.assignment, "forged");
    const auto message = intruder.read();
    ASSERT_TRUE(message.has_result_refused()) << message.DebugString();
    EXPECT_EQ(message.result_refused().reason(), v1::REFUSAL_REASON_UNKNOWN_ASSIGNMENT);
    // Alpha's own worker still completes the assignment with its own result.
    t.worker_->send_result(alpha.assignment, "alpha-result");
    const auto task = join_task(t.alpha_, alpha.assignment.task_id());
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_EQ(task.result().worker().result(), "alpha-result");
  };
  return c;
}

// Every method the services declare, from their descriptors.
std::set<std::string> declared_methods() {
  std::set<std::string> methods;
  for (const char* service : {"orch.v1.TaskService", "orch.v1.TenantService",
                              "orch.v1.ScheduleService", "orch.v1.ChannelService",
                              "orch.v1.MutexService", "orch.v1.WorkerService"}) {
    const auto* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    EXPECT_NE(descriptor, nullptr) << service;
    if (!descriptor) continue;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      methods.insert(descriptor->name() + "/" + descriptor->method(i)->name());
    }
  }
  return methods;
}

TEST(IsolationTable, HasACaseForEveryMethodOfEveryService) {
  // Link the generated services so that their descriptors are in the pool.
  (void)v1::TaskService::service_full_name();
  (void)v1::TenantService::service_full_name();
  (void)v1::ScheduleService::service_full_name();
  (void)v1::ChannelService::service_full_name();
  (void)v1::MutexService::service_full_name();
  (void)v1::WorkerService::service_full_name();
  const auto methods = declared_methods();
  EXPECT_EQ(methods.size(), 32u) << "a service gained or lost a method: update the table";
  const auto table = cases();
  for (const auto& method : methods) {
    EXPECT_TRUE(table.contains(method)) << method << " has no isolation case";
  }
  for (const auto& [method, c] : table) {
    EXPECT_TRUE(methods.contains(method)) << method << " is not a method of any service";
  }
}

TEST_F(Isolation, EveryRpcWithAnotherTenantsIdsOrNamesIsNotFoundOrActsOnItsOwnNamespace) {
  for (const auto& [method, run] : cases()) {
    SCOPED_TRACE(method);
    run(*this, beta_, world_);
    if (method != "WorkerService/Connect") expect_alpha_untouched();
  }
}

}  // namespace
}  // namespace orch::test
