// Text output of http nodes: the status line and the body under the node's line.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "orch/client/format.h"
#include "orch/client/specs.h"

namespace orch::client {
namespace {

using google::protobuf::util::TimeUtil;

v1::NodeResult http_result(v1::TaskState state, std::uint32_t status, std::string body) {
  v1::NodeResult r;
  r.set_state(state);
  EXPECT_TRUE(TimeUtil::FromString("2024-05-01T12:00:00Z", r.mutable_started_at()));
  EXPECT_TRUE(TimeUtil::FromString("2024-05-01T12:00:00.012Z", r.mutable_finished_at()));
  r.set_attempts(1);
  auto* http = r.mutable_http();
  http->set_status(status);
  http->set_reason(status == 200 ? "OK" : "Service Unavailable");
  http->set_url("http://127.0.0.1:8080/hello");
  http->set_body(std::move(body));
  return r;
}

TEST(FormatHttp, ShowsTheStatusLineAndTheBodyIndented) {
  const auto spec = http("GET", "http://127.0.0.1:8080/hello");
  EXPECT_EQ(format_result(http_result(v1::TASK_STATE_SUCCEEDED, 200, "hello\r\nworld\n"), &spec, 1),
            "  http SUCCEEDED took=12ms\n"
            "    status: 200 OK\n"
            "    url: http://127.0.0.1:8080/hello\n"
            "    body: 13 bytes\n"
            "      hello\n"
            "      world\n");
}

TEST(FormatHttp, NamesRetriesTruncationAndLeavesBinaryBodiesOut) {
  auto failed = http_result(v1::TASK_STATE_FAILED, 503, std::string("\x89PNG\0", 5));
  failed.set_attempts(3);
  failed.set_error("attempt 3 of 3: status: 503 Service Unavailable");
  failed.mutable_http()->set_truncated(true);
  // Without a spec the kind comes from the output.
  EXPECT_EQ(format_result(failed, nullptr, 0),
            "http FAILED took=12ms attempts=3 error=\"attempt 3 of 3: status: 503 Service "
            "Unavailable\"\n"
            "  status: 503 Service Unavailable\n"
            "  url: http://127.0.0.1:8080/hello\n"
            "  body: 5 bytes, truncated at max_response_bytes, binary (not shown; -o json has it "
            "in base64)\n");
}

TEST(FormatHttp, NoResponseMeansNoStatusLine) {
  auto refused = http_result(v1::TASK_STATE_FAILED, 0, "");
  refused.set_error("connect: 127.0.0.1:9: Connection refused");
  EXPECT_EQ(format_result(refused, nullptr, 0),
            "http FAILED took=12ms error=\"connect: 127.0.0.1:9: Connection refused\"\n");
}

}  // namespace
}  // namespace orch::client
