#pragma once
/// Conversions between the public API (orch.v1 protobuf) and the engine's plain types, with
/// the validation of everything a client sends. Every refusal names the field path and the
/// reason, e.g. `spec.join.children[1].sleep.duration: must not be negative`.
///
/// Thread-safety: pure functions.

#include <set>

#include "orch/config/config.h"
#include "orch/engine/engine.h"
#include "orch/v1/tasks.pb.h"

namespace orch::rpc {

/// What a tenant may send: the configured limits plus the tenant's allowed kinds.
struct SpecPolicy {
  const config::Limits& limits;
  const config::TenantConfig& tenant;
};

/// Validates and converts a task tree.
engine::Result<engine::Node> node_from_proto(const v1::TaskSpec& spec, const SpecPolicy& policy,
                                             std::string_view path = "spec");

/// Validates and converts one spawn request (spec, name, labels, idempotency key).
engine::Result<engine::SpawnArgs> spawn_args_from_proto(const v1::SpawnRequest& request,
                                                        const SpecPolicy& policy,
                                                        std::string_view path = "");

/// Reads an optional wait timeout: absent or zero = no limit.
engine::Result<std::optional<Duration>> timeout_from_proto(const google::protobuf::Duration& d,
                                                           bool present, std::string_view path,
                                                           Duration max);

void node_to_proto(const engine::Node& node, v1::TaskSpec& out);
void result_to_proto(const engine::NodeResult& result, v1::NodeResult& out);
void task_to_proto(const engine::TaskSnapshot& task, v1::TaskInfo& out);
v1::TaskState state_to_proto(engine::State state);
/// UNSPECIFIED -> nullopt (any state).
std::optional<engine::State> state_from_proto(v1::TaskState state);

}  // namespace orch::rpc
