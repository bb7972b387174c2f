#pragma once
// RPC internals: how many streams and waiting calls each tenant holds open, against
// limits.max_streams_per_tenant and limits.max_waiting_rpcs_per_tenant. A call takes its slot
// before its handler starts and gives it back when gRPC is done with it, so a client that stops
// reading or never returns holds at most its own slots, never more than its limit.
//
// Thread-safety: every member may be called from any thread. Taking a slot holds one short
// mutex; giving it back is one atomic decrement.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "orch/engine/error.h"

namespace orch::rpc {

enum class SlotKind {
  kStream,   // a streaming call: Watch, Ticks, Subscribe, worker Connect
  kWaiting,  // a unary call that may wait: Join, Select, Run, channel Send/Recv, mutex Lock
};

/// Whether the unary `method` ("Service/Method") is one that waits (a kWaiting slot).
bool is_waiting_method(std::string_view method);

class CallSlots;

/// One taken slot; gives it back on destruction. Empty when default-constructed or moved from.
class CallSlot {
 public:
  CallSlot() = default;
  CallSlot(CallSlot&& other) noexcept;
  CallSlot& operator=(CallSlot&& other) noexcept;
  CallSlot(const CallSlot&) = delete;
  CallSlot& operator=(const CallSlot&) = delete;
  ~CallSlot();

 private:
  friend class CallSlots;
  explicit CallSlot(std::atomic<std::uint32_t>* count) : count_(count) {}
  void reset();

  std::atomic<std::uint32_t>* count_ = nullptr;  // the tenant's count of this kind
};

class CallSlots {
 public:
  /// Takes one slot of `kind` for `tenant` when it holds fewer than `limit`; otherwise
  /// RESOURCE_EXHAUSTED naming the limit, e.g. "max_streams_per_tenant (16) reached: ...".
  engine::Result<CallSlot> acquire(const std::string& tenant, SlotKind kind, std::uint32_t limit);

  /// Slots of `kind` that `tenant` holds now.
  std::uint32_t in_use(std::string_view tenant, SlotKind kind) const;

 private:
  using Counts = std::array<std::atomic<std::uint32_t>, 2>;  // by SlotKind

  mutable std::mutex mutex_;  // guards the map; the counts are atomic
  // Never erased, so a CallSlot's pointer into it stays valid: one entry per tenant name ever
  // seen, whose counts go back to zero.
  std::map<std::string, Counts, std::less<>> used_;
};

}  // namespace orch::rpc
