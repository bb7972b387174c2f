// A tenant's task table: lookups by numeric id, in spawn order or not, whether ids are
// consecutive, interleaved with another tenant's, or left with holes by removals and compaction.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/task_record.h"

namespace orch::engine {
namespace {

class TaskTableTest : public ::testing::Test {
 protected:
  void append(std::uint64_t id) {
    SpawnArgs args;
    args.spec = make_node(NodeKind::kSleep, Duration{});
    table_.append(TaskPtr(new TaskRecord(id, tenant_, std::move(args))));
  }
  bool found(std::uint64_t id) const {
    const TaskRecord* record = table_.find(id);
    return record != nullptr && record->id == id;
  }

  TenantState tenant_{TenantSettings{.name = "alpha"}};
  TaskTable table_;
};

TEST_F(TaskTableTest, FindsConsecutiveAndInterleavedIds) {
  for (std::uint64_t id : {10, 11, 12, 20, 21, 35}) append(id);  // 13..19: another tenant's
  for (std::uint64_t id : {10, 11, 12, 20, 21, 35}) EXPECT_TRUE(found(id)) << id;
  for (std::uint64_t id : {35, 21, 20, 12, 11, 10, 21, 12}) EXPECT_TRUE(found(id)) << id;
  for (std::uint64_t id : {0, 9, 13, 15, 19, 22, 34, 36, 1000}) EXPECT_FALSE(found(id)) << id;
  EXPECT_EQ(table_.size(), 6u);
}

TEST_F(TaskTableTest, FindsWhatIsLeftAfterRemovalsFromTheFrontTheMiddleAndACompaction) {
  for (std::uint64_t id = 100; id < 300; ++id) append(id);
  table_.erase(100);  // the front: slots shift, the first id changes
  table_.erase(150);  // a hole in the middle, kept until a compaction
  EXPECT_FALSE(found(100));
  EXPECT_FALSE(found(150));
  EXPECT_TRUE(found(101));
  EXPECT_TRUE(found(151));
  EXPECT_TRUE(found(299));
  // Keeping one id in four leaves more holes than tasks: the table compacts, and the slots
  // move under the last lookup's place.
  for (std::uint64_t id = 102; id < 300; ++id) {
    if (id % 4 != 1) table_.erase(id);
  }
  EXPECT_LT(table_.slots().size(), 100u);
  for (std::uint64_t id = 90; id < 310; ++id) {
    EXPECT_EQ(found(id), id >= 101 && id < 300 && id % 4 == 1) << id;
  }
  for (std::uint64_t id = 310; id-- > 90;) {
    EXPECT_EQ(found(id), id >= 101 && id < 300 && id % 4 == 1) << id;
  }
  EXPECT_EQ(table_.size(), 50u);
}

}  // namespace
}  // namespace orch::engine
