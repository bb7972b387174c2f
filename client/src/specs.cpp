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

orch::v1::TaskSpec http(const std::string& method, const std::string& url) {
  orch::v1::TaskSpec spec;
  spec.mutable_http()->set_method(method);
  spec.mutable_http()->set_url(url);
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

orch::v1::TaskSpec exec(std::vector<std::string> argv, const ExecOptions& options) {
  orch::v1::TaskSpec spec;
  auto* exec = spec.mutable_exec();
  for (auto& arg : argv) exec->add_argv(std::move(arg));
  for (const auto& [name, value] : options.env) (*exec->mutable_env())[name] = value;
  exec->set_cwd(options.cwd);
  exec->set_stdin(options.stdin_data);
  exec->set_max_output_bytes(options.max_output_bytes);
  if (options.kill_grace) *exec->mutable_kill_grace() = to_proto(*options.kill_grace);
  return spec;
}

orch::v1::RetryPolicy retry_policy(std::uint32_t max_attempts, Duration initial_backoff,
                                   Duration max_backoff, double multiplier,
                                   std::vector<std::string> non_retryable) {
  orch::v1::RetryPolicy policy;
  policy.set_max_attempts(max_attempts);
  *policy.mutable_initial_backoff() = to_proto(initial_backoff);
  *policy.mutable_max_backoff() = to_proto(max_backoff);
  policy.set_multiplier(multiplier);
  for (auto& reason : non_retryable) policy.add_non_retryable_errors(std::move(reason));
  return policy;
}

orch::v1::TaskSpec with_retry(orch::v1::TaskSpec spec, orch::v1::RetryPolicy policy) {
  *spec.mutable_retry() = std::move(policy);
  return spec;
}

orch::v1::TaskSpec worker(const std::string& queue, const std::string& payload) {
  orch::v1::TaskSpec spec;
  spec.mutable_worker()->set_queue(queue);
  spec.mutable_worker()->set_payload(payload);
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
