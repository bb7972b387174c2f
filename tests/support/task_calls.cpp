#include "task_calls.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "orch/client/names.h"

namespace orch::test {

namespace v1 = orch::v1;

std::string describe(const grpc::Status& status) { return orch::client::format_status(status); }

std::string spawn_task(orch::client::Client& client, const v1::TaskSpec& spec,
                       const std::string& name) {
  v1::SpawnRequest request;
  *request.mutable_spec() = spec;
  request.set_name(name);
  v1::SpawnResponse response;
  const auto status = client.spawn(request, response, kCallDeadline);
  EXPECT_TRUE(status.ok()) << "Spawn: " << describe(status);
  return response.id();
}

std::vector<v1::TaskInfo> join_tasks(orch::client::Client& client,
                                     const std::vector<std::string>& ids) {
  v1::JoinRequest request;
  for (const auto& id : ids) request.add_ids(id);
  v1::JoinResponse response;
  const auto status = client.join(request, response, kCallDeadline);
  EXPECT_TRUE(status.ok()) << "Join: " << describe(status);
  if (!status.ok()) return {};
  return {response.tasks().begin(), response.tasks().end()};
}

v1::TaskInfo join_task(orch::client::Client& client, const std::string& id) {
  auto tasks = join_tasks(client, {id});
  if (tasks.size() != 1) {
    ADD_FAILURE() << "Join of one id returned " << tasks.size() << " tasks";
    return {};
  }
  return tasks.front();
}

v1::TaskInfo get_task(orch::client::Client& client, const std::string& id) {
  v1::GetTaskRequest request;
  request.set_id(id);
  v1::TaskInfo task;
  const auto status = client.get(request, task, kCallDeadline);
  EXPECT_TRUE(status.ok()) << "Get " << id << ": " << describe(status);
  return task;
}

v1::TenantUsage usage(orch::client::Client& client) {
  v1::WhoAmIResponse response;
  const auto status = client.who_am_i(response, kCallDeadline);
  EXPECT_TRUE(status.ok()) << "WhoAmI: " << describe(status);
  return response.usage();
}

TaskWatchStream::TaskWatchStream(orch::client::Client& client, const std::vector<std::string>& ids,
                                 std::chrono::milliseconds deadline)
    : ctx_(client.context(deadline)) {
  v1::WatchRequest request;
  for (const auto& id : ids) request.add_ids(id);
  reader_ = client.watch(*ctx_, request);
}

TaskWatchStream::~TaskWatchStream() {
  if (status_) return;
  ctx_->TryCancel();
  reader_->Finish();
}

bool TaskWatchStream::wait_for(const std::string& id, v1::TaskState state) {
  if (status_) return false;
  v1::TaskEvent event;
  while (reader_->Read(&event)) {
    events_.push_back(event);
    if (event.id() == id && event.state() == state) return true;
  }
  status_ = reader_->Finish();
  return false;
}

grpc::Status TaskWatchStream::finish() {
  if (!status_) {
    v1::TaskEvent event;
    while (reader_->Read(&event)) events_.push_back(event);
    status_ = reader_->Finish();
  }
  return *status_;
}

double seconds_between(const google::protobuf::Timestamp& from,
                       const google::protobuf::Timestamp& to) {
  using google::protobuf::util::TimeUtil;
  return static_cast<double>(TimeUtil::DurationToNanoseconds(to - from)) / 1e9;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace orch::test
