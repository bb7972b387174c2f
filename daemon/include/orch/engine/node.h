#pragma once
/// The task model: a tree of nodes and the result tree it produces (DESIGN §2).
/// Plain values, free of protobuf; rpc/ converts them from and to the public API.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/common/duration.h"
#include "orch/engine/clock.h"
#include "orch/engine/leaf.h"

namespace orch::engine {

enum class NodeKind : std::uint8_t {
  kSleep,
  kHttp,
  kExec,
  kWorker,
  kSend,
  kRecv,
  kJoin,
  kSelect,
  kTimeout,
  kSequence,
};
inline constexpr std::size_t kNodeKindCount = 10;

/// "sleep", "join", ... as used in config (allowed_kinds), metrics labels and messages.
std::string_view kind_name(NodeKind kind);
std::optional<NodeKind> kind_from_name(std::string_view name);
/// Leaves that do work hold one permit of the tenant's semaphore while they run.
bool holds_permit(NodeKind kind);

struct Node {
  NodeKind kind = NodeKind::kSleep;
  Duration duration{};         // sleep: how long; timeout: the deadline
  bool fail_fast = false;      // join
  std::vector<Node> children;  // join, select, sequence: all; timeout: exactly one
  WorkSpec work;               // http, exec, worker: their spec; send, recv: the channel op
  RetryPolicy retry;           // http, exec, worker
};

/// A node of `kind` with `duration` and `children`, every other field at its default.
inline Node make_node(NodeKind kind, Duration duration = {}, std::vector<Node> children = {}) {
  Node node;
  node.kind = kind;
  node.duration = duration;
  node.children = std::move(children);
  return node;
}

/// Number of nodes in the tree rooted at `node`.
std::size_t count_nodes(const Node& node);

enum class State : std::uint8_t {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kTimedOut,
};
inline constexpr std::size_t kStateCount = 6;

std::string_view state_name(State state);  // "pending", "running", "succeeded", ...
inline bool is_terminal(State s) { return s >= State::kSucceeded; }

struct NodeResult {
  NodeKind kind = NodeKind::kSleep;
  State state = State::kPending;
  std::string error;  // why it did not succeed, for a person to read
  std::optional<TimePoint> started;
  std::optional<TimePoint> finished;
  std::optional<std::uint32_t> winner;  // select: index of the first child to finish
  std::vector<NodeResult> children;     // composites: results of the children that ran, in order
  // Work leaves: attempts started (from 1), the latest failed attempt's error, and the latest
  // attempt's fencing token.
  std::uint32_t attempts = 0;
  std::string last_attempt_error;
  std::uint64_t fencing_token = 0;
  LeafOutput output;  // leaves other than sleep: what the (last) attempt produced
};

/// Sets `reason` as the error of every cancelled node in the tree that has none yet.
void explain_cancellation(NodeResult& result, std::string_view reason);

}  // namespace orch::engine
