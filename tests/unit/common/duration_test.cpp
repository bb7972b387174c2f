#include "orch/common/duration.h"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace orch {
namespace {

TEST(ParseDuration, ReadsEveryUnit) {
  EXPECT_EQ(parse_duration("250ms"), Duration(250ms));
  EXPECT_EQ(parse_duration("2s"), Duration(2s));
  EXPECT_EQ(parse_duration("7ns"), Duration(7ns));
  EXPECT_EQ(parse_duration("3us"), Duration(3us));
  EXPECT_EQ(parse_duration("1h"), Duration(1h));
  EXPECT_EQ(parse_duration("2d"), Duration(48h));
  EXPECT_EQ(parse_duration("0"), Duration::zero());
}

TEST(ParseDuration, CombinesComponentsAndFractions) {
  EXPECT_EQ(parse_duration("1m30s"), Duration(90s));
  EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
  EXPECT_EQ(parse_duration("1.5s"), Duration(1500ms));
  EXPECT_EQ(parse_duration("0.25s"), Duration(250ms));
}

TEST(ParseDuration, RefusesMalformedText) {
  for (const char* bad : {"", "5", "s", "-1s", "1x", "1s1m", "1.s5", "1ss", " 1s", "1 s",
                          "99999999999999999999h"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
}

TEST(FormatDuration, WritesTheShortestExactForm) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(300245228ns), "300.245228ms");
  EXPECT_EQ(format_duration(1500us), "1.5ms");
  EXPECT_EQ(format_duration(1500ns), "1.5us");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (Duration d : {Duration(1ns), Duration(999us), Duration(61s), Duration(3723500ms),
                     Duration(300245228ns), Duration(1001ns)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace orch
