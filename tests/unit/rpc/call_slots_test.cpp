#include "rpc/call_slots.h"

#include <gtest/gtest.h>

#include <vector>

namespace orch::rpc {
namespace {

TEST(CallSlots, ATenantGetsUpToItsLimitAndTheNextIsRefusedNamingTheLimit) {
  CallSlots slots;
  std::vector<CallSlot> held;
  for (int i = 0; i < 3; ++i) {
    auto slot = slots.acquire("alpha", SlotKind::kStream, 3);
    ASSERT_TRUE(slot.has_value()) << i;
    held.push_back(std::move(*slot));
  }
  EXPECT_EQ(slots.in_use("alpha", SlotKind::kStream), 3u);
  auto refused = slots.acquire("alpha", SlotKind::kStream, 3);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, engine::ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused.error().message.rfind("max_streams_per_tenant (3) reached: tenant alpha", 0),
            0u)
      << refused.error().message;
}

TEST(CallSlots, TenantsAndKindsCountApart) {
  CallSlots slots;
  auto alpha = slots.acquire("alpha", SlotKind::kWaiting, 1);
  ASSERT_TRUE(alpha.has_value());
  auto again = slots.acquire("alpha", SlotKind::kWaiting, 1);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message.rfind("max_waiting_rpcs_per_tenant (1) reached", 0), 0u)
      << again.error().message;
  EXPECT_TRUE(slots.acquire("beta", SlotKind::kWaiting, 1).has_value());
  EXPECT_TRUE(slots.acquire("alpha", SlotKind::kStream, 1).has_value());
}

TEST(CallSlots, ASlotComesBackWhenItsHolderEndsAndOnlyOnce) {
  CallSlots slots;
  {
    auto slot = slots.acquire("alpha", SlotKind::kStream, 1);
    ASSERT_TRUE(slot.has_value());
    CallSlot moved = std::move(*slot);  // the moved-from slot gives nothing back
    EXPECT_EQ(slots.in_use("alpha", SlotKind::kStream), 1u);
  }
  EXPECT_EQ(slots.in_use("alpha", SlotKind::kStream), 0u);
  EXPECT_TRUE(slots.acquire("alpha", SlotKind::kStream, 1).has_value());
}

TEST(CallSlots, ALowerLimitRefusesNewCallsWhileHeldSlotsStay) {
  CallSlots slots;
  auto a = slots.acquire("alpha", SlotKind::kStream, 5);
  auto b = slots.acquire("alpha", SlotKind::kStream, 5);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_FALSE(slots.acquire("alpha", SlotKind::kStream, 1).has_value());
  EXPECT_EQ(slots.in_use("alpha", SlotKind::kStream), 2u);
}

TEST(CallSlots, OnlyCallsThatWaitTakeAWaitingSlot) {
  for (const char* method : {"TaskService/Join", "TaskService/Select", "ChannelService/Send",
                             "ChannelService/Recv", "MutexService/Lock"}) {
    EXPECT_TRUE(is_waiting_method(method)) << method;
  }
  for (const char* method : {"TaskService/Spawn", "TaskService/Get", "MutexService/Unlock",
                             "ChannelService/Ack", "TenantService/WhoAmI"}) {
    EXPECT_FALSE(is_waiting_method(method)) << method;
  }
}

}  // namespace
}  // namespace orch::rpc
