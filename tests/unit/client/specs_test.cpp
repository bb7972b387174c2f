#include "orch/client/specs.h"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace orch::client {
namespace {

TEST(SpecBuilders, BuildASleepLeaf) {
  const auto spec = sleep(1500ms);
  ASSERT_TRUE(spec.has_sleep());
  EXPECT_EQ(spec.sleep().duration().seconds(), 1);
  EXPECT_EQ(spec.sleep().duration().nanos(), 500'000'000);
}

TEST(SpecBuilders, NestCompositesInChildOrder) {
  const auto spec =
      select({timeout(2s, sleep(5s)), join({sleep(1s), sleep(2s)}, true), sequence({sleep(1ms)})});
  ASSERT_TRUE(spec.has_select());
  ASSERT_EQ(spec.select().children_size(), 3);

  const auto& timed = spec.select().children(0).timeout();
  EXPECT_EQ(from_proto(timed.duration()), 2s);
  EXPECT_EQ(from_proto(timed.child().sleep().duration()), 5s);

  const auto& joined = spec.select().children(1).join();
  EXPECT_TRUE(joined.fail_fast());
  ASSERT_EQ(joined.children_size(), 2);
  EXPECT_EQ(from_proto(joined.children(1).sleep().duration()), 2s);

  EXPECT_EQ(spec.select().children(2).sequence().children_size(), 1);
}

TEST(SpecBuilders, JoinDoesNotFailFastByDefault) {
  EXPECT_FALSE(join({sleep(1s)}).join().fail_fast());
}

TEST(ProtoDuration, RoundTripsExactly) {
  for (Duration d :
       {Duration(0), Duration(1ns), Duration(999'999'999ns), Duration(90s), Duration(-1500ms)}) {
    EXPECT_EQ(from_proto(to_proto(d)), d) << d.count();
  }
  const auto negative = to_proto(-1500ms);
  EXPECT_EQ(negative.seconds(), -1);
  EXPECT_EQ(negative.nanos(), -500'000'000);  // same sign as seconds, as proto requires
}

}  // namespace
}  // namespace orch::client
