// The exec node at the API edge: the tenant's guards (allowed kinds, exec_allowlist), every
// field checked with its path, the configured defaults filled in, and the spec round trip.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "orch/client/spec_file.h"
#include "orch/rpc/convert.h"
#include "test_support.h"

namespace orch::rpc {
namespace {

using engine::ErrorCode;
using std::chrono::milliseconds;
using std::chrono::seconds;

class ExecValidation : public ::testing::Test {
 protected:
  ExecValidation() {
    limits_.max_duration = std::chrono::hours(1);
    limits_.max_exec_output_bytes = 4096;
    limits_.exec_kill_grace = seconds(3);
    tenant_.name = "alpha";
    tenant_.allowed_kinds = {"sleep", "exec"};
    tenant_.exec_allowlist = {"/bin/echo", "/usr/bin/env"};
  }

  engine::Result<engine::Node> convert(const v1::TaskSpec& spec) {
    return node_from_proto(spec, SpecPolicy{limits_, tenant_});
  }

  std::pair<ErrorCode, std::string> refusal(const v1::TaskSpec& spec) {
    auto result = convert(spec);
    EXPECT_FALSE(result.has_value());
    if (result) return {ErrorCode::kInternal, "accepted"};
    return {result.error().code, result.error().message};
  }

  static v1::TaskSpec exec_spec(std::vector<std::string> argv) {
    v1::TaskSpec spec;
    auto* exec = spec.mutable_exec();
    for (auto& arg : argv) exec->add_argv(std::move(arg));
    return spec;
  }

  config::Limits limits_;
  config::TenantConfig tenant_;
};

TEST_F(ExecValidation, AcceptsAFullSpecAndRoundTripsIt) {
  v1::TaskSpec spec = exec_spec({"/usr/bin/env", "-u", "HOME"});
  auto* exec = spec.mutable_exec();
  (*exec->mutable_env())["B"] = "two";
  (*exec->mutable_env())["A"] = "one=1";
  exec->set_cwd("/tmp");
  exec->set_stdin(std::string("in\0put", 6));
  exec->set_max_output_bytes(100);
  exec->mutable_kill_grace()->set_nanos(250'000'000);
  auto* retry = spec.mutable_retry();
  retry->set_max_attempts(3);
  retry->mutable_initial_backoff()->set_seconds(1);
  retry->mutable_max_backoff()->set_seconds(10);
  retry->set_multiplier(3);
  retry->add_non_retryable_errors("spawn");

  auto node = convert(spec);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(node->kind, engine::NodeKind::kExec);
  const auto& out = std::get<engine::ExecSpec>(node->work);
  EXPECT_EQ(out.argv, (std::vector<std::string>{"/usr/bin/env", "-u", "HOME"}));
  EXPECT_EQ(out.env,
            (std::vector<std::pair<std::string, std::string>>{{"A", "one=1"}, {"B", "two"}}));
  EXPECT_EQ(out.cwd, "/tmp");
  EXPECT_EQ(out.stdin_data, std::string("in\0put", 6));
  EXPECT_EQ(out.max_output_bytes, 100u);
  EXPECT_EQ(out.kill_grace, milliseconds(250));
  EXPECT_EQ(node->retry.max_attempts, 3u);
  EXPECT_EQ(node->retry.non_retryable_errors,
            std::vector<engine::FailureReason>{engine::FailureReason::kSpawn});

  v1::TaskSpec round_trip;
  node_to_proto(*node, round_trip);
  EXPECT_EQ(round_trip.DebugString(), spec.DebugString());
}

TEST_F(ExecValidation, FillsInTheConfiguredDefaults) {
  auto node = convert(exec_spec({"/bin/echo"}));
  ASSERT_TRUE(node.has_value()) << node.error().message;
  const auto& out = std::get<engine::ExecSpec>(node->work);
  EXPECT_EQ(out.max_output_bytes, 4096u);
  EXPECT_EQ(out.kill_grace, seconds(3));
  EXPECT_EQ(out.cwd, "");
  EXPECT_EQ(node->retry, engine::RetryPolicy{});
  // The stored spec says what will happen.
  v1::TaskSpec round_trip;
  node_to_proto(*node, round_trip);
  EXPECT_EQ(round_trip.exec().max_output_bytes(), 4096u);
  EXPECT_EQ(round_trip.exec().kill_grace().seconds(), 3);
  EXPECT_FALSE(round_trip.has_retry());
}

TEST_F(ExecValidation, APathOutsideTheAllowlistIsPermissionDeniedNamingIt) {
  EXPECT_EQ(
      refusal(exec_spec({"/bin/rm", "-rf", "/"})),
      std::pair(ErrorCode::kPermissionDenied,
                std::string("spec.exec.argv[0]: /bin/rm is not in tenant alpha's exec_allowlist")));
  EXPECT_EQ(
      refusal(exec_spec({"echo", "hi"})).second,
      "spec.exec.argv[0]: echo is not in tenant alpha's exec_allowlist (it lists absolute paths)");
  // Compared as text: another spelling of an allowed path is not allowed.
  EXPECT_EQ(refusal(exec_spec({"/bin/../bin/echo"})).first, ErrorCode::kPermissionDenied);
  EXPECT_EQ(refusal(exec_spec({""})).second,
            "spec.exec.argv[0]: the empty program is not in tenant alpha's exec_allowlist");
}

TEST_F(ExecValidation, AnEmptyAllowlistRefusesEveryProgram) {
  tenant_.exec_allowlist.clear();
  EXPECT_EQ(
      refusal(exec_spec({"/bin/echo"})),
      std::pair(ErrorCode::kPermissionDenied,
                std::string("spec.exec.argv[0]: tenant alpha's exec_allowlist is empty, so it "
                            "may run no program")));
}

TEST_F(ExecValidation, ExecOutsideAllowedKindsIsPermissionDeniedWhateverTheAllowlist) {
  tenant_.allowed_kinds = {"sleep"};
  auto [code, message] = refusal(exec_spec({"/bin/echo"}));
  EXPECT_EQ(code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(message, "spec.exec: tenant alpha may not use node kind 'exec' (allowed_kinds: sleep)");
}

TEST_F(ExecValidation, RefusesMalformedFieldsNamingThem) {
  EXPECT_EQ(
      refusal(exec_spec({})),
      std::pair(ErrorCode::kInvalidArgument,
                std::string("spec.exec.argv: must not be empty; argv[0] is the absolute path of "
                            "the program")));
  EXPECT_EQ(refusal(exec_spec({"/bin/echo", std::string("a\0b", 3)})).second,
            "spec.exec.argv[1]: must not contain a NUL byte");

  auto with_env = [](std::string name, std::string value) {
    v1::TaskSpec spec = exec_spec({"/bin/echo"});
    (*spec.mutable_exec()->mutable_env())[name] = value;
    return spec;
  };
  EXPECT_EQ(refusal(with_env("", "x")).second, "spec.exec.env: a variable name must not be empty");
  EXPECT_EQ(refusal(with_env("A=B", "x")).second,
            "spec.exec.env[\"A=B\"]: a variable name must not contain '=' or a NUL byte");
  EXPECT_EQ(refusal(with_env("A", std::string("x\0y", 3))).second,
            "spec.exec.env[\"A\"]: must not contain a NUL byte");
  EXPECT_EQ(refusal(with_env("ORCH_FENCING_TOKEN", "1")).second,
            "spec.exec.env[\"ORCH_FENCING_TOKEN\"]: reserved: orchestrd sets ORCH_TASK_ID, "
            "ORCH_ATTEMPT and ORCH_FENCING_TOKEN for every attempt");

  v1::TaskSpec relative_cwd = exec_spec({"/bin/echo"});
  relative_cwd.mutable_exec()->set_cwd("tmp");
  EXPECT_EQ(refusal(relative_cwd).second, "spec.exec.cwd: must be an absolute path");

  v1::TaskSpec too_much = exec_spec({"/bin/echo"});
  too_much.mutable_exec()->set_max_output_bytes(4097);
  EXPECT_EQ(refusal(too_much).second,
            "spec.exec.max_output_bytes: must be at most 4096 (limits.max_exec_output_bytes)");

  v1::TaskSpec long_grace = exec_spec({"/bin/echo"});
  long_grace.mutable_exec()->mutable_kill_grace()->set_seconds(7200);
  EXPECT_EQ(refusal(long_grace).second,
            "spec.exec.kill_grace: must be at most 1h (limits.max_duration)");

  v1::TaskSpec bad_retry = exec_spec({"/bin/echo"});
  bad_retry.mutable_retry()->add_non_retryable_errors("exit code");
  EXPECT_EQ(
      refusal(bad_retry).second.rfind(
          "spec.retry.non_retryable_errors[0]: unknown failure reason 'exit code' (one of status, ",
          0),
      0u);
}

TEST_F(ExecValidation, NestedExecNodesCarryTheirPaths) {
  v1::TaskSpec spec;
  auto* timeout = spec.mutable_timeout();
  timeout->mutable_duration()->set_seconds(1);
  *timeout->mutable_child() = exec_spec({"/bin/cat"});
  EXPECT_EQ(refusal(spec).second,
            "spec.timeout.child.exec.argv[0]: /bin/cat is not in tenant alpha's exec_allowlist");
}

// The exec specs shown in a page of docs/kinds/: every YAML block that starts with an exec
// node, and the content of tree.json.
std::vector<std::string> doc_specs(const std::string& page) {
  std::ifstream in(std::string(test::kSourceDir) + "/docs/kinds/" + page);
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  std::vector<std::string> specs;
  for (std::size_t at = doc.find("```yaml\n"); at != std::string::npos;
       at = doc.find("```yaml\n", at + 1)) {
    const std::size_t begin = at + 8;
    const std::string block = doc.substr(begin, doc.find("```", begin) - begin);
    if (block.starts_with("exec:")) specs.push_back(block);
  }
  const std::size_t tree = doc.find("$ cat tree.json\n");
  if (tree != std::string::npos) {
    const std::size_t begin = tree + 16;
    specs.push_back(doc.substr(begin, doc.find("$ orchctl", begin) - begin));
  }
  return specs;
}

TEST_F(ExecValidation, TheSpecsInTheDocsAreValid) {
  tenant_.exec_allowlist = {"/usr/local/bin/backup", "/usr/local/bin/sync-orders", "/bin/sh"};
  limits_.max_duration = std::chrono::hours(24);
  limits_.max_exec_output_bytes = 1 << 20;
  for (const auto& [page, count] : {std::pair{"exec.md", 2u}, std::pair{"retries.md", 1u}}) {
    const auto specs = doc_specs(page);
    ASSERT_EQ(specs.size(), count) << "docs/kinds/" << page << " changed: update this test";
    for (const auto& text : specs) {
      const auto spec = client::parse_spec(text, page);
      ASSERT_TRUE(spec) << spec.error << "\n" << text;
      auto node = convert(*spec.value);
      EXPECT_TRUE(node.has_value()) << (node ? "" : node.error().message) << "\n" << text;
    }
  }
}

}  // namespace
}  // namespace orch::rpc
