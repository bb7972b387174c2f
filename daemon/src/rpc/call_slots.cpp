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

CallSlot::CallSlot(CallSlot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      tenant_(std::move(other.tenant_)),
      kind_(other.kind_) {}

CallSlot& CallSlot::operator=(CallSlot&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::exchange(other.owner_, nullptr);
    tenant_ = std::move(other.tenant_);
    kind_ = other.kind_;
  }
  return *this;
}

CallSlot::~CallSlot() { reset(); }

void CallSlot::reset() {
  if (auto* owner = std::exchange(owner_, nullptr)) owner->release(tenant_, kind_);
}

engine::Result<CallSlot> CallSlots::acquire(const std::string& tenant, SlotKind kind,
                                            std::uint32_t limit) {
  {
    std::lock_guard lock(mutex_);
    auto& used = used_[tenant][index_of(kind)];
    if (used < limit) {
      ++used;
      return CallSlot(this, tenant, kind);
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
  return it == used_.end() ? 0 : it->second[index_of(kind)];
}

void CallSlots::release(const std::string& tenant, SlotKind kind) {
  std::lock_guard lock(mutex_);
  auto it = used_.find(tenant);
  if (it == used_.end()) return;
  auto& used = it->second[index_of(kind)];
  if (used > 0) --used;
  if (it->second[0] == 0 && it->second[1] == 0) used_.erase(it);
}

}  // namespace orch::rpc
