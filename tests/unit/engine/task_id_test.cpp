#include "orch/engine/task_id.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace orch::engine {
namespace {

TEST(TaskId, TextAndValueRoundTrip) {
  for (std::uint64_t value : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{31},
                              std::uint64_t{32}, std::uint64_t{0x123456789abcdef0},
                              std::numeric_limits<std::uint64_t>::max()}) {
    const std::string text = TaskIdGenerator::encode(value);
    ASSERT_EQ(text.size(), 13u);
    EXPECT_EQ(TaskIdGenerator::decode(text), value) << text;
  }
  TaskIdGenerator ids;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t value = ids.next_value();
    EXPECT_EQ(TaskIdGenerator::decode(TaskIdGenerator::encode(value)), value);
  }
}

TEST(TaskId, TextSortsLikeTheValue) {
  TaskIdGenerator ids;
  std::string previous = ids.next();
  for (int i = 0; i < 1000; ++i) {
    const std::string id = ids.next();
    EXPECT_LT(previous, id);
    EXPECT_LT(*TaskIdGenerator::decode(previous), *TaskIdGenerator::decode(id));
    previous = id;
  }
}

TEST(TaskId, TextNeverProducedDoesNotDecode) {
  EXPECT_FALSE(TaskIdGenerator::decode(""));
  EXPECT_FALSE(TaskIdGenerator::decode("000000000000"));    // 12 characters
  EXPECT_FALSE(TaskIdGenerator::decode("00000000000000"));  // 14 characters
  EXPECT_FALSE(TaskIdGenerator::decode("000000000000A"));   // upper case
  EXPECT_FALSE(TaskIdGenerator::decode("000000000000i"));   // not in the alphabet
  EXPECT_FALSE(TaskIdGenerator::decode("000000000000u"));
  EXPECT_FALSE(TaskIdGenerator::decode("000000000000\xff"));                // a byte above 127
  EXPECT_FALSE(TaskIdGenerator::decode(std::string_view("000000000000\0", 13)));  // a NUL
  EXPECT_FALSE(TaskIdGenerator::decode("00000000000 0"));
  EXPECT_FALSE(TaskIdGenerator::decode("g000000000000"));  // above 64 bits
  EXPECT_TRUE(TaskIdGenerator::decode("f000000000000"));
}

}  // namespace
}  // namespace orch::engine
