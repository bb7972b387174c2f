#include "orch/client/spec_file.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <sstream>

#include "orch/client/specs.h"

using namespace std::chrono_literals;

namespace orch::client {
namespace {

using google::protobuf::util::MessageDifferencer;

v1::TaskSpec parse_ok(std::string_view text) {
  auto parsed = parse_spec(text, "spec.yaml");
  EXPECT_TRUE(parsed) << parsed.error;
  return parsed ? *parsed.value : v1::TaskSpec{};
}

std::string parse_error(std::string_view text) {
  auto parsed = parse_spec(text, "spec.yaml");
  EXPECT_FALSE(parsed);
  return parsed.error;
}

TEST(ParseSpec, ReadsTheIssueExampleAsJson) {
  const auto spec = parse_ok(
      R"({"select": {"children": [{"timeout": {"duration": "2s", "child": {"sleep": {"duration": "5s"}}}},
                                  {"sleep": {"duration": "1s"}}]}})");
  EXPECT_TRUE(MessageDifferencer::Equals(spec, select({timeout(2s, sleep(5s)), sleep(1s)})))
      << spec.DebugString();
}

TEST(ParseSpec, ReadsTheSameTreeAsYaml) {
  const auto spec = parse_ok(R"(
select:
  children:
    - timeout:
        duration: 2s
        child: {sleep: {duration: 5s}}
    - sleep:
        duration: 1s
)");
  EXPECT_TRUE(MessageDifferencer::Equals(spec, select({timeout(2s, sleep(5s)), sleep(1s)})));
}

TEST(ParseSpec, ReadsJsonIndentedWithTabs) {
  const auto spec = parse_ok("{\n\t\"sleep\": {\n\t\t\"duration\": \"250ms\"\n\t}\n}\n");
  EXPECT_EQ(from_proto(spec.sleep().duration()), 250ms);
}

TEST(ParseSpec, AcceptsHumanAndProtoDurations) {
  EXPECT_EQ(from_proto(parse_ok("sleep: {duration: 250ms}").sleep().duration()), 250ms);
  EXPECT_EQ(from_proto(parse_ok("sleep: {duration: 1m30s}").sleep().duration()), 90s);
  EXPECT_EQ(from_proto(parse_ok("sleep: {duration: 0.250s}").sleep().duration()), 250ms);
  EXPECT_EQ(from_proto(parse_ok("sleep: {duration: \"2.000000001s\"}").sleep().duration()),
            2s + 1ns);
  EXPECT_EQ(from_proto(parse_ok("sleep: {duration: 0}").sleep().duration()), 0s);
}

TEST(ParseSpec, RewritesEveryDurationField) {
  const auto spec = parse_ok(R"(
sequence:
  children:
    - http: {method: GET, url: "http://localhost/", timeout: 2s, connect_timeout: 500ms}
      retry: {max_attempts: 3, initial_backoff: 100ms, max_backoff: 1m, multiplier: 2.5}
    - exec: {argv: [sleep, 5], kill_grace: 1s}
    - worker: {queue: q, schedule_to_start: 10s, start_to_close: 1m, heartbeat: 5s}
)");
  const auto& children = spec.sequence().children();
  ASSERT_EQ(children.size(), 3);
  EXPECT_EQ(from_proto(children[0].http().timeout()), 2s);
  EXPECT_EQ(from_proto(children[0].http().connect_timeout()), 500ms);
  EXPECT_EQ(children[0].retry().max_attempts(), 3u);
  EXPECT_EQ(from_proto(children[0].retry().initial_backoff()), 100ms);
  EXPECT_EQ(from_proto(children[0].retry().max_backoff()), 60s);
  EXPECT_DOUBLE_EQ(children[0].retry().multiplier(), 2.5);
  EXPECT_EQ(from_proto(children[1].exec().kill_grace()), 1s);
  EXPECT_EQ(from_proto(children[2].worker().schedule_to_start()), 10s);
  EXPECT_EQ(from_proto(children[2].worker().start_to_close()), 60s);
  EXPECT_EQ(from_proto(children[2].worker().heartbeat()), 5s);
}

TEST(ParseSpec, GivesEachScalarTheTypeOfItsField) {
  const auto spec = parse_ok(R"(
join:
  fail_fast: yes
  children:
    - exec:
        argv: [sleep, 5, true]
        env: {N: 10, DEBUG: false}
        max_output_bytes: "1024"
    - http: {method: GET, url: "http://x/", accept_status: [200, "404"], maxResponseBytes: 18446744073709551615}
)");
  EXPECT_TRUE(spec.join().fail_fast());
  const auto& exec = spec.join().children(0).exec();
  ASSERT_EQ(exec.argv_size(), 3);
  EXPECT_EQ(exec.argv(1), "5");
  EXPECT_EQ(exec.argv(2), "true");
  EXPECT_EQ(exec.env().at("N"), "10");
  EXPECT_EQ(exec.env().at("DEBUG"), "false");
  EXPECT_EQ(exec.max_output_bytes(), 1024u);
  const auto& http = spec.join().children(1).http();
  ASSERT_EQ(http.accept_status_size(), 2);
  EXPECT_EQ(http.accept_status(1), 404u);
  EXPECT_EQ(http.max_response_bytes(), 18446744073709551615ull);
}

TEST(ParseSpec, AcceptsCamelCaseFieldNames) {
  const auto spec = parse_ok(
      R"({"join": {"failFast": true, "children": [{"exec": {"argv": ["true"], "killGrace": "3s"}}]}})");
  EXPECT_TRUE(spec.join().fail_fast());
  EXPECT_EQ(from_proto(spec.join().children(0).exec().kill_grace()), 3s);
}

TEST(ParseSpec, KeepsStringsWithQuotesAndNewlines) {
  const auto spec = parse_ok("exec:\n  argv: [sh, -c, \"echo \\\"hi\\\"\\n\\tbye\\\\\"]\n");
  EXPECT_EQ(spec.exec().argv(2), "echo \"hi\"\n\tbye\\");
}

TEST(ParseSpec, NamesTheSourceLineAndFieldOfABadDuration) {
  const std::string error = parse_error("sleep:\n  duration: 5\n");
  EXPECT_NE(error.find("spec.yaml: line 2, column 13"), std::string::npos) << error;
  EXPECT_NE(error.find("invalid duration \"5\" for field duration"), std::string::npos) << error;
}

TEST(ParseSpec, PassesNegativeProtoDurationsToTheDaemonToJudge) {
  EXPECT_EQ(parse_ok("sleep: {duration: -1s}").sleep().duration().seconds(), -1);
}

TEST(ParseSpec, RefusesUnknownFields) {
  const std::string error = parse_error("sleep: {duration: 1s, jitter: 2s}");
  EXPECT_NE(
      error.find("spec.yaml: line 1, column 23: unknown field \"jitter\" in orch.v1.SleepNode"),
      std::string::npos)
      << error;
}

TEST(ParseSpec, RefusesAListWhereAMessageBelongs) {
  const std::string error = parse_error("sleep: [1s]");
  EXPECT_NE(error.find("expected a mapping for orch.v1.SleepNode, found a list"), std::string::npos)
      << error;
}

TEST(ParseSpec, RefusesAScalarWhereAListBelongs) {
  const std::string error = parse_error("join: {children: 3}");
  EXPECT_NE(error.find("field children expects a list, found a scalar"), std::string::npos)
      << error;
}

TEST(ParseSpec, RefusesANonBoolForABoolField) {
  const std::string error = parse_error("join: {fail_fast: maybe, children: []}");
  EXPECT_NE(error.find("field fail_fast expects true or false"), std::string::npos) << error;
}

TEST(ParseSpec, ReportsYamlSyntaxErrorsWithTheirPosition) {
  const std::string error = parse_error("sleep: {duration: 1s\n");
  EXPECT_EQ(error.rfind("spec.yaml: line ", 0), 0u) << error;
}

TEST(ParseSpec, ReportsProtobufRejectionsWithTheSource) {
  const std::string error = parse_error("http: {max_response_bytes: lots}");
  EXPECT_EQ(error.rfind("spec.yaml: not a valid TaskSpec: ", 0), 0u) << error;
}

TEST(ParseSpec, RefusesAnEmptyDocument) {
  EXPECT_EQ(parse_error(""), "spec.yaml: the spec is empty");
  EXPECT_EQ(parse_error("# nothing\n"), "spec.yaml: the spec is empty");
}

TEST(ParseSpec, RefusesASpecWithoutANode) {
  const std::string error = parse_error("{}");
  EXPECT_NE(error.find("spec.yaml: the spec sets no node (expected one of sleep, http, exec"),
            std::string::npos)
      << error;
}

TEST(ParseSpec, RefusesAScalarDocument) {
  EXPECT_NE(parse_error("sleep 2s").find("expected a mapping for orch.v1.TaskSpec"),
            std::string::npos);
}

TEST(ReadSpecFile, ReadsStdinForADash) {
  std::istringstream in("sleep: {duration: 2s}\n");
  const auto parsed = read_spec_file("-", in);
  ASSERT_TRUE(parsed) << parsed.error;
  EXPECT_EQ(from_proto(parsed.value->sleep().duration()), 2s);
}

TEST(ReadSpecFile, NamesStdinInErrors) {
  std::istringstream in("sleep: {duration: soon}\n");
  EXPECT_EQ(read_spec_file("-", in).error.rfind("<stdin>: line 1", 0), 0u);
}

TEST(ReadSpecFile, NamesAMissingFile) {
  std::istringstream in;
  const auto parsed = read_spec_file("/nonexistent/spec.yaml", in);
  EXPECT_FALSE(parsed);
  EXPECT_EQ(parsed.error, "/nonexistent/spec.yaml: cannot open: No such file or directory");
}

TEST(ProtoDurationJson, WritesTheFormProtobufPrints) {
  EXPECT_EQ(proto_duration_json(250ms), "0.250s");
  EXPECT_EQ(proto_duration_json(2s), "2s");
  EXPECT_EQ(proto_duration_json(90s), "90s");
  EXPECT_EQ(proto_duration_json(0s), "0s");
  EXPECT_EQ(proto_duration_json(1500us), "0.001500s");
  EXPECT_EQ(proto_duration_json(2s + 1ns), "2.000000001s");
  EXPECT_EQ(proto_duration_json(-1500ms), "-1.500s");
}

}  // namespace
}  // namespace orch::client
