#include "raw_run_stream.h"

#include <algorithm>
#include <iterator>

#include "stream_drain.h"
#include "task_calls.h"

namespace orch::test {

namespace v1 = orch::v1;

RawRunStream::RawRunStream(orch::client::Client& client)
    : ctx_(client.context(kCallDeadline)), stream_(client.tasks().RunStream(ctx_.get())) {}

RawRunStream::~RawRunStream() {
  if (!finished_) {
    ctx_->TryCancel();
    finish();
  }
}

bool RawRunStream::send(const std::vector<std::pair<std::uint64_t, v1::SpawnRequest>>& items) {
  v1::RunStreamRequest message;
  for (const auto& [ref, request] : items) {
    auto* item = message.add_items();
    item->set_ref(ref);
    *item->mutable_spawn() = request;
  }
  return stream_->Write(message);
}

bool RawRunStream::send(std::uint64_t ref, const v1::TaskSpec& spec) {
  v1::SpawnRequest request;
  *request.mutable_spec() = spec;
  return send({{ref, request}});
}

std::vector<RawRunStream::Outcome> RawRunStream::read(std::size_t count) {
  while (pending_.size() < count && fill()) {
  }
  const auto n = std::min(count, pending_.size());
  std::vector<Outcome> out(std::make_move_iterator(pending_.begin()),
                           std::make_move_iterator(pending_.begin() + static_cast<long>(n)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
  return out;
}

RawRunStream::Outcome RawRunStream::next() {
  auto one = read(1);
  return one.empty() ? Outcome{} : std::move(one.front());
}

bool RawRunStream::fill() {
  v1::RunStreamResponse message;
  if (!stream_->Read(&message)) return false;
  messages_.push_back({static_cast<std::size_t>(message.outcomes_size()), message.ByteSizeLong()});
  for (auto& o : *message.mutable_outcomes()) pending_.push_back(std::move(o));
  return true;
}

void RawRunStream::half_close() { stream_->WritesDone(); }

void RawRunStream::cancel() { ctx_->TryCancel(); }

grpc::Status RawRunStream::finish() {
  finished_ = true;
  return drain_and_finish(*stream_);
}

}  // namespace orch::test
