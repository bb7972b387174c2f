#include "raw_worker.h"

#include <gtest/gtest.h>

#include "stream_drain.h"
#include "task_calls.h"

namespace orch::test {

namespace v1 = orch::v1;

RawWorker::RawWorker(orch::client::Client& client, const std::string& queue, std::uint32_t slots)
    : ctx_(client.context(kCallDeadline)), stream_(client.workers().Connect(ctx_.get())) {
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_name("raw");
  hello.mutable_hello()->add_queues(queue);
  hello.mutable_hello()->set_slots(slots);
  EXPECT_TRUE(stream_->Write(hello));
  v1::ServerMessage welcome = read();
  EXPECT_TRUE(welcome.has_welcome()) << welcome.DebugString();
  worker_id = welcome.welcome().worker_id();
}

RawWorker::~RawWorker() {
  if (!finished_) {
    ctx_->TryCancel();
    stream_->Finish();
  }
}

v1::ServerMessage RawWorker::read() {
  v1::ServerMessage message;
  EXPECT_TRUE(stream_->Read(&message)) << "the stream ended";
  return message;
}

v1::Assignment RawWorker::read_assignment() {
  auto message = read();
  EXPECT_TRUE(message.has_assignments()) << message.DebugString();
  if (!message.has_assignments() || message.assignments().assignments().empty()) return {};
  return message.assignments().assignments(0);
}

int RawWorker::read_assignments(std::size_t count, std::vector<v1::Assignment>& out) {
  int messages = 0;
  while (out.size() < count) {
    const auto message = read();
    if (!message.has_assignments()) {
      ADD_FAILURE() << message.DebugString();
      return messages;
    }
    ++messages;
    for (const auto& a : message.assignments().assignments()) out.push_back(a);
  }
  return messages;
}

void add_result(v1::WorkerMessage& message, const v1::Assignment& a, const std::string& output) {
  auto* r = message.mutable_completions()->add_results();
  r->set_assignment_id(a.assignment_id());
  r->set_task_id(a.task_id());
  r->set_attempt(a.attempt());
  r->set_fencing_token(a.fencing_token());
  r->set_output(output);
}

void RawWorker::send_result(const v1::Assignment& a, const std::string& output) {
  v1::WorkerMessage message;
  add_result(message, a, output);
  EXPECT_TRUE(stream_->Write(message));
}

bool RawWorker::write(const v1::WorkerMessage& message) { return stream_->Write(message); }

grpc::Status RawWorker::finish() {
  finished_ = true;
  return drain_and_finish(*stream_);
}

}  // namespace orch::test
