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

/// A field path such as `tasks[3].spec.join.children[1]`, kept as a chain of parts on the
/// caller's stack and spelled out (str()) only when an error names it, so that a valid request
/// builds no path strings. A part refers to its parent and to its text without owning them:
/// build paths as locals or as temporaries of the call that uses them.
class FieldPath {
 public:
  /// A root spelled `text` ("" for none).
  explicit FieldPath(std::string_view text) : text_(text) {}
  /// `parent.field` (just `field` under an empty root).
  FieldPath(const FieldPath& parent, std::string_view field) : parent_(&parent), text_(field) {}
  /// `parent[index]`.
  FieldPath(const FieldPath& parent, std::size_t index)
      : parent_(&parent), index_(index), kind_(Kind::kIndex) {}

  std::string str() const;

 private:
  enum class Kind { kField, kIndex };
  const FieldPath* parent_ = nullptr;
  std::string_view text_;
  std::size_t index_ = 0;
  Kind kind_ = Kind::kField;
};

/// Validates and converts a task tree.
engine::Result<engine::Node> node_from_proto(const v1::TaskSpec& spec, const SpecPolicy& policy,
                                             std::string_view path = "spec");

engine::Result<engine::Node> node_from_proto(const v1::TaskSpec& spec, const SpecPolicy& policy,
                                             const FieldPath& path);

/// Validates and converts one spawn request (spec, name, labels, idempotency key).
engine::Result<engine::SpawnArgs> spawn_args_from_proto(const v1::SpawnRequest& request,
                                                        const SpecPolicy& policy,
                                                        std::string_view path = "");
engine::Result<engine::SpawnArgs> spawn_args_from_proto(const v1::SpawnRequest& request,
                                                        const SpecPolicy& policy,
                                                        const FieldPath& path);

/// Reads an optional wait timeout: absent or zero = no limit.
engine::Result<std::optional<Duration>> timeout_from_proto(const google::protobuf::Duration& d,
                                                           bool present, std::string_view path,
                                                           Duration max);

void node_to_proto(const engine::Node& node, v1::TaskSpec& out);
void result_to_proto(const engine::NodeResult& result, v1::NodeResult& out);
void task_to_proto(const engine::TaskSnapshot& task, v1::TaskInfo& out);
/// The task in a view: kFull as above; kState only `id`, `state` and, for a terminal task that
/// did not succeed, `result` with its `state` and `error` (TASK_VIEW_BASIC).
void task_to_proto(const engine::TaskSnapshot& task, engine::SnapshotDetail detail, v1::TaskInfo& out);
/// A request's TaskView: UNSPECIFIED and FULL are kFull, BASIC is kState; any other value is
/// INVALID_ARGUMENT naming `path`.
engine::Result<engine::SnapshotDetail> view_from_proto(int view, std::string_view path);
v1::TaskState state_to_proto(engine::State state);
/// UNSPECIFIED -> nullopt (any state).
std::optional<engine::State> state_from_proto(v1::TaskState state);

}  // namespace orch::rpc
