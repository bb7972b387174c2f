#include "call_slots.h"

#include <algorithm>
#include <utility>

namespace orch::rpc {
namespace {

constexpr std::array<std::string_view, 6> kWaitingMethods = {
    "TaskService/Join", "TaskService/Select", "TaskService/Run", "ChannelService/Send", "ChannelService/Recv",
    "MutexService/Lock"};

std::size_t index_of(SlotKind kind) { return kind == SlotKind::kStream ? 0 : 1; }

}  // namespace

bool is_waiting_method(std::string_view method) {
  return std::find(kWaitingMethods.begin(), kWaitingMethods.end(), method) !=
         kWaitingMethods.end();
}

CallSlot::CallSlot(CallSlot&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}

CallSlot& CallSlot::operator=(CallSlot&& other) noexcept {
  if (this != &other) {
    reset();
    count_ = std::exchange(other.count_, nullptr);
  }
  return *this;
}

CallSlot::~CallSlot() { reset(); }

void CallSlot::reset() {
  if (auto* count = std::exchange(count_, nullptr)) count->fetch_sub(1, std::memory_order_relaxed);
}

engine::Result<CallSlot> CallSlots::acquire(const std::string& tenant, SlotKind kind,
                                            std::uint32_t limit) {
  {
    std::lock_guard lock(mutex_);
    auto it = used_.find(tenant);
    if (it == used_.end()) it = used_.try_emplace(tenant).first;
    auto& used = it->second[index_of(kind)];
    // Slots come back without the mutex: the count may drop while it is compared.
    std::uint32_t n = used.load(std::memory_order_relaxed);
    while (n < limit) {
      if (used.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return CallSlot(&used);
    }
  }
  const std::string count = std::to_string(limit);
  if (kind == SlotKind::kStream) {
    return engine::make_error(
        engine::ErrorCode::kResourceExhausted,
        "max_streams_per_tenant (" + count + ") reached: tenant " + tenant + " has " + count +
            " streams open (Watch, Ticks, Subscribe, worker Connect); close one or raise "
            "limits.max_streams_per_tenant");
  }
  return engine::make_error(
      engine::ErrorCode::kResourceExhausted,
      "max_waiting_rpcs_per_tenant (" + count + ") reached: tenant " + tenant + " has " + count +
          " calls waiting (Join, Select, Run, channel Send/Recv, mutex Lock); retry later or raise "
          "limits.max_waiting_rpcs_per_tenant");
}

std::uint32_t CallSlots::in_use(std::string_view tenant, SlotKind kind) const {
  std::lock_guard lock(mutex_);
  auto it = used_.find(tenant);
  return it == used_.end() ? 0 : it->second[index_of(kind)].load(std::memory_order_relaxed);
}

}  // namespace orch::rpc
