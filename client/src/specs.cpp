#include "orch/client/specs.h"

#include <cstdint>
#include <utility>

namespace orch::client {
namespace {

template <typename Node>
void add_children(Node& node, std::vector<orch::v1::TaskSpec>& children) {
  node.mutable_children()->Reserve(static_cast<int>(children.size()));
  for (auto& child : children) *node.add_children() = std::move(child);
}

}  // namespace

orch::v1::TaskSpec sleep(Duration d) {
  orch::v1::TaskSpec spec;
  *spec.mutable_sleep()->mutable_duration() = to_proto(d);
  return spec;
}

orch::v1::TaskSpec send(std::string channel, std::string payload) {
  orch::v1::TaskSpec spec;
  spec.mutable_send()->set_channel(std::move(channel));
  spec.mutable_send()->set_payload(std::move(payload));
  return spec;
}

orch::v1::TaskSpec recv(std::string channel) {
  orch::v1::TaskSpec spec;
  spec.mutable_recv()->set_channel(std::move(channel));
  return spec;
}

orch::v1::TaskSpec join(std::vector<orch::v1::TaskSpec> children, bool fail_fast) {
  orch::v1::TaskSpec spec;
  add_children(*spec.mutable_join(), children);
  spec.mutable_join()->set_fail_fast(fail_fast);
  return spec;
}

orch::v1::TaskSpec select(std::vector<orch::v1::TaskSpec> children) {
  orch::v1::TaskSpec spec;
  add_children(*spec.mutable_select(), children);
  return spec;
}

orch::v1::TaskSpec timeout(Duration d, orch::v1::TaskSpec child) {
  orch::v1::TaskSpec spec;
  *spec.mutable_timeout()->mutable_duration() = to_proto(d);
  *spec.mutable_timeout()->mutable_child() = std::move(child);
  return spec;
}

orch::v1::TaskSpec sequence(std::vector<orch::v1::TaskSpec> children) {
  orch::v1::TaskSpec spec;
  add_children(*spec.mutable_sequence(), children);
  return spec;
}

google::protobuf::Duration to_proto(Duration d) {
  // Proto durations keep seconds and nanos with the same sign.
  google::protobuf::Duration out;
  out.set_seconds(d.count() / 1'000'000'000);
  out.set_nanos(static_cast<std::int32_t>(d.count() % 1'000'000'000));
  return out;
}

Duration from_proto(const google::protobuf::Duration& d) {
  return Duration(d.seconds() * 1'000'000'000 + d.nanos());
}

}  // namespace orch::client
