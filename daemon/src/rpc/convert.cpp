#include "orch/rpc/convert.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <variant>

#include "orch/workers/worker_hub.h"
#include "orch/work/host_guard.h"
#include "orch/work/http_url.h"

namespace orch::rpc {
namespace {

using engine::Error;
using engine::ErrorCode;
using engine::Node;
using engine::NodeKind;
using engine::Result;
using google::protobuf::util::TimeUtil;

Error invalid(std::string_view path, std::string_view reason) {
  return engine::make_error(ErrorCode::kInvalidArgument, std::string(path) + ": " + std::string(reason));
}

Error invalid(const FieldPath& path, std::string_view reason) { return invalid(path.str(), reason); }

// A proto Duration as a non-negative engine duration, at most `max`.
Result<Duration> duration_from_proto(const google::protobuf::Duration& d, const FieldPath& path,
                                     Duration max) {
  if (d.nanos() <= -1'000'000'000 || d.nanos() >= 1'000'000'000 ||
      (d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return invalid(path, "not a valid duration");
  }
  if (d.seconds() < 0 || d.nanos() < 0) return invalid(path, "must not be negative");
  const auto max_seconds = std::chrono::duration_cast<std::chrono::seconds>(max).count();
  if (d.seconds() > max_seconds) {
    return invalid(path, "must be at most " + format_duration(max) + " (limits.max_duration)");
  }
  const Duration value = std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
  if (value > max) return invalid(path, "must be at most " + format_duration(max) + " (limits.max_duration)");
  return value;
}

// Longest channel name (as the channel service accepts it).
constexpr std::size_t kMaxChannelNameBytes = 128;

// More attempts than this is a mistake in the spec, not a policy.
constexpr std::uint32_t kMaxAttempts = 1000;

// Bounds of an http node's request line and headers.
constexpr std::size_t kMaxMethodBytes = 32;
constexpr std::size_t kMaxHeaders = 100;
constexpr std::size_t kMaxHeaderNameBytes = 256;
constexpr std::size_t kMaxHeaderValueBytes = 8192;

std::string quote_text(std::string_view text) {
  std::string out = "\"";
  for (const char c : text.substr(0, 64)) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (text.size() > 64) out += "...";
  return out + "\"";
}

// An RFC 9110 token: what method and header names are made of.
bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// Why a request header may not be set by a spec, or nullopt when it may.
std::optional<std::string> reserved_header(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (lower.starts_with("x-orch-")) {
    return "X-Orch-* headers are set by orchestrd (task id, attempt and fencing token)";
  }
  for (std::string_view framing : {"content-length", "transfer-encoding", "connection",
                                   "keep-alive", "proxy-connection", "upgrade", "te", "trailer"}) {
    if (lower == framing) return "set by orchestrd, which frames the request itself; leave it out";
  }
  return std::nullopt;
}

struct Walk {
  const SpecPolicy& policy;
  const FieldPath& root;  // "spec", or "tasks[3].spec" in a batch
  std::size_t nodes = 0;

  Result<Node> node(const v1::TaskSpec& spec, const FieldPath& path, std::uint32_t depth) {
    if (depth > policy.limits.max_spec_depth) {
      return invalid(path, "nesting deeper than " + std::to_string(policy.limits.max_spec_depth) +
                               " levels (limits.max_spec_depth)");
    }
    if (++nodes > policy.limits.max_spec_nodes) {
      return invalid(root, "more than " + std::to_string(policy.limits.max_spec_nodes) +
                                 " nodes (limits.max_spec_nodes)");
    }
    switch (spec.node_case()) {
      case v1::TaskSpec::kSleep:
        return sleep(spec.sleep(), FieldPath(path, "sleep"));
      case v1::TaskSpec::kJoin:
        return composite(NodeKind::kJoin, spec.join().children(), FieldPath(path, "join"), depth,
                         spec.join().fail_fast());
      case v1::TaskSpec::kSelect:
        return composite(NodeKind::kSelect, spec.select().children(), FieldPath(path, "select"),
                         depth);
      case v1::TaskSpec::kSequence:
        return composite(NodeKind::kSequence, spec.sequence().children(),
                         FieldPath(path, "sequence"), depth);
      case v1::TaskSpec::kTimeout:
        return timeout(spec.timeout(), FieldPath(path, "timeout"), depth);
      case v1::TaskSpec::kHttp:
        return http(spec, path);
      case v1::TaskSpec::kExec:
        return exec(spec, path);
      case v1::TaskSpec::kWorker:
        return worker(spec, path);
      case v1::TaskSpec::kSend:
        return send(spec.send(), FieldPath(path, "send"));
      case v1::TaskSpec::kRecv:
        return recv(spec.recv(), FieldPath(path, "recv"));
      case v1::TaskSpec::NODE_NOT_SET:
        break;
    }
    return invalid(path,
                   "no node set; set exactly one of sleep, http, exec, worker, send, recv, join, "
                   "select, timeout, sequence");
  }

  Result<void> allowed(NodeKind kind, const FieldPath& path) {
    const auto& kinds = policy.tenant.allowed_kinds;
    if (std::find(kinds.begin(), kinds.end(), engine::kind_name(kind)) != kinds.end()) return {};
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    return engine::make_error(ErrorCode::kPermissionDenied,
                              path.str() + ": tenant " + policy.tenant.name + " may not use node kind '" +
                                  std::string(engine::kind_name(kind)) + "' (allowed_kinds: " +
                                  list + ")");
  }

  Result<Node> sleep(const v1::SleepNode& sleep, const FieldPath& path) {
    if (auto ok = allowed(NodeKind::kSleep, path); !ok) return ok.error();
    if (!sleep.has_duration()) return invalid(FieldPath(path, "duration"), "required");
    auto d = duration_from_proto(sleep.duration(), FieldPath(path, "duration"),
                                 policy.limits.max_duration);
    if (!d) return d.error();
    return engine::make_node(NodeKind::kSleep, *d);
  }

  Result<Node> timeout(const v1::TimeoutNode& timeout, const FieldPath& path, std::uint32_t depth) {
    if (!timeout.has_duration()) return invalid(FieldPath(path, "duration"), "required");
    auto d = duration_from_proto(timeout.duration(), FieldPath(path, "duration"),
                                 policy.limits.max_duration);
    if (!d) return d.error();
    if (!timeout.has_child()) return invalid(FieldPath(path, "child"), "required");
    auto child = node(timeout.child(), FieldPath(path, "child"), depth + 1);
    if (!child) return child.error();
    Node out = engine::make_node(NodeKind::kTimeout, *d);
    out.children.push_back(std::move(*child));
    return out;
  }

  Result<Node> composite(NodeKind kind, const google::protobuf::RepeatedPtrField<v1::TaskSpec>& children,
                         const FieldPath& path, std::uint32_t depth, bool fail_fast = false) {
    const FieldPath children_path(path, "children");
    if (children.empty()) return invalid(children_path, "must not be empty");
    Node out = engine::make_node(kind);
    out.fail_fast = fail_fast;
    out.children.reserve(static_cast<std::size_t>(children.size()));
    for (int i = 0; i < children.size(); ++i) {
      auto child = node(children[i], FieldPath(children_path, static_cast<std::size_t>(i)), depth + 1);
      if (!child) return child.error();
      out.children.push_back(std::move(*child));
    }
    return out;
  }

  // exec: the tenant must allow the kind and list argv[0] in its exec_allowlist.
  Result<Node> exec(const v1::TaskSpec& spec, const FieldPath& spec_path) {
    const FieldPath path(spec_path, "exec");
    if (auto ok = allowed(NodeKind::kExec, path); !ok) return ok.error();
    const v1::ExecNode& exec = spec.exec();
    engine::ExecSpec out;

    const FieldPath argv_path(path, "argv");
    if (exec.argv().empty()) {
      return invalid(argv_path, "must not be empty; argv[0] is the absolute path of the program");
    }
    for (int i = 0; i < exec.argv_size(); ++i) {
      if (exec.argv(i).find('\0') != std::string::npos) {
        return invalid(FieldPath(argv_path, static_cast<std::size_t>(i)), "must not contain a NUL byte");
      }
    }
    if (auto ok = allowed_program(exec.argv(0), FieldPath(argv_path, std::size_t{0})); !ok) return ok.error();
    out.argv.assign(exec.argv().begin(), exec.argv().end());

    const FieldPath env_path(path, "env");
    for (const auto& [name, value] : exec.env()) {
      // exec.env["NAME"], spelled out only for an error.
      // (Captured by name: clang 14 cannot capture a structured binding.)
      const auto invalid_var = [&path, &name = name](std::string_view reason) {
        return invalid(path.str() + ".env[\"" + name.substr(0, 64) + "\"]", reason);
      };
      if (name.empty()) return invalid(env_path, "a variable name must not be empty");
      if (name.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
        return invalid_var("a variable name must not contain '=' or a NUL byte");
      }
      if (name == "ORCH_TASK_ID" || name == "ORCH_ATTEMPT" || name == "ORCH_FENCING_TOKEN") {
        return invalid_var("reserved: orchestrd sets ORCH_TASK_ID, ORCH_ATTEMPT and "
                                 "ORCH_FENCING_TOKEN for every attempt");
      }
      if (value.find('\0') != std::string::npos) return invalid_var("must not contain a NUL byte");
      out.env.emplace_back(name, value);
    }
    // Map order is unspecified on the wire: keep a stable one.
    std::sort(out.env.begin(), out.env.end());

    if (!exec.cwd().empty()) {
      const FieldPath cwd_path(path, "cwd");
      if (!exec.cwd().starts_with('/')) return invalid(cwd_path, "must be an absolute path");
      if (exec.cwd().find('\0') != std::string::npos) return invalid(cwd_path, "must not contain a NUL byte");
      out.cwd = exec.cwd();
    }
    out.stdin_data = exec.stdin();

    const std::uint64_t max_output = policy.limits.max_exec_output_bytes;
    if (exec.max_output_bytes() > max_output) {
      return invalid(FieldPath(path, "max_output_bytes"),
                     "must be at most " + std::to_string(max_output) + " (limits.max_exec_output_bytes)");
    }
    out.max_output_bytes = exec.max_output_bytes() == 0 ? max_output : exec.max_output_bytes();
    out.kill_grace = policy.limits.exec_kill_grace;
    if (exec.has_kill_grace()) {
      auto grace = duration_from_proto(exec.kill_grace(), FieldPath(path, "kill_grace"),
                                       policy.limits.max_duration);
      if (!grace) return grace.error();
      out.kill_grace = *grace;
    }

    auto retry_policy = retry(spec, spec_path);
    if (!retry_policy) return retry_policy.error();
    Node node = engine::make_node(NodeKind::kExec);
    node.work = std::move(out);
    node.retry = std::move(*retry_policy);
    return node;
  }

  // An http node at `node_path` (the TaskSpec's path): every field checked, the URL's host
  // against the tenant's guards.
  Result<Node> http(const v1::TaskSpec& spec, const FieldPath& node_path) {
    const FieldPath path(node_path, "http");
    if (auto ok = allowed(NodeKind::kHttp, path); !ok) return ok.error();
    const auto& in = spec.http();
    engine::HttpSpec out;

    out.method = in.method().empty() ? "GET" : in.method();
    if (out.method.size() > kMaxMethodBytes || !is_token(out.method)) {
      return invalid(FieldPath(path, "method"),
                     "must be an HTTP method such as GET or POST (a token of at most " +
                         std::to_string(kMaxMethodBytes) +
                         " characters), got " + quote_text(in.method()));
    }

    const FieldPath url_path(path, "url");
    if (in.url().empty()) return invalid(url_path, "required (an http:// or https:// URL)");
    const auto parsed = work::parse_http_url(in.url());
    if (!parsed.url) return invalid(url_path, parsed.error);
    std::string why;
    const auto guard =
        work::HostGuard::parse(policy.tenant.http_allow_hosts, policy.tenant.http_deny_hosts, why);
    if (!guard) {
      return engine::make_error(ErrorCode::kInternal, "tenant " + policy.tenant.name + ": " + why);
    }
    if (auto denied = guard->check_host(parsed.url->host)) {
      return engine::make_error(ErrorCode::kPermissionDenied, url_path.str() + ": " + *denied);
    }
    out.url = in.url();

    const FieldPath headers_path(path, "headers");
    if (in.headers_size() > static_cast<int>(kMaxHeaders)) {
      return invalid(headers_path, "more than " + std::to_string(kMaxHeaders) + " headers");
    }
    for (const auto& [name, value] : in.headers()) {
      const auto header_path = [&headers_path, &name = name] {
        return headers_path.str() + "[" + quote_text(name) + "]";
      };
      if (name.empty() || name.size() > kMaxHeaderNameBytes || !is_token(name)) {
        return invalid(header_path(),
                       "a header name must be a token (letters, digits and !#$%&'*+-.^_`|~) of 1 "
                       "to " + std::to_string(kMaxHeaderNameBytes) + " characters");
      }
      if (value.size() > kMaxHeaderValueBytes) {
        return invalid(header_path(),
                       "value longer than " + std::to_string(kMaxHeaderValueBytes) + " bytes");
      }
      if (std::any_of(value.begin(), value.end(), [](char c) {
            return c == '\r' || c == '\n' || c == '\0';
          })) {
        return invalid(header_path(), "value must not contain CR, LF or NUL");
      }
      if (auto reserved = reserved_header(name)) return invalid(header_path(), *reserved);
      out.headers.emplace_back(name, value);
    }
    std::sort(out.headers.begin(), out.headers.end());
    out.body = in.body();

    if (in.has_connect_timeout()) {
      auto d = positive_duration(in.connect_timeout(), FieldPath(path, "connect_timeout"));
      if (!d) return d.error();
      out.connect_timeout = *d;
    }
    if (in.has_timeout()) {
      auto d = positive_duration(in.timeout(), FieldPath(path, "timeout"));
      if (!d) return d.error();
      out.timeout = *d;
    }
    if (in.max_response_bytes() > policy.limits.max_http_response_bytes) {
      return invalid(FieldPath(path, "max_response_bytes"),
                     "must be at most " + std::to_string(policy.limits.max_http_response_bytes) +
                         " (limits.max_http_response_bytes)");
    }
    out.max_response_bytes = in.max_response_bytes();
    out.follow_redirects = in.follow_redirects();
    for (int i = 0; i < in.accept_status_size(); ++i) {
      const std::uint32_t status = in.accept_status(i);
      if (status < 100 || status > 599) {
        return invalid(FieldPath(FieldPath(path, "accept_status"), static_cast<std::size_t>(i)),
                       "must be a status code from 100 to 599, got " + std::to_string(status));
      }
      out.accept_status.push_back(status);
    }

    auto retry_policy = retry(spec, node_path);
    if (!retry_policy) return retry_policy.error();
    Node node = engine::make_node(NodeKind::kHttp);
    node.work = std::move(out);
    node.retry = std::move(*retry_policy);
    return node;
  }

  Result<void> allowed_program(const std::string& program, const FieldPath& path) {
    const auto& allowlist = policy.tenant.exec_allowlist;
    if (std::find(allowlist.begin(), allowlist.end(), program) != allowlist.end()) return {};
    std::string message = path.str() + ": ";
    if (allowlist.empty()) {
      message += "tenant " + policy.tenant.name + "'s exec_allowlist is empty, so it may run no program";
    } else {
      message += (program.empty() ? std::string("the empty program") : program.substr(0, 256)) +
                 " is not in tenant " + policy.tenant.name + "'s exec_allowlist";
      if (!program.empty() && !program.starts_with('/')) message += " (it lists absolute paths)";
    }
    return engine::make_error(ErrorCode::kPermissionDenied, std::move(message));
  }

  // A duration that must be greater than zero (and at most limits.max_duration).
  Result<Duration> positive_duration(const google::protobuf::Duration& d, const FieldPath& path) {
    auto value = duration_from_proto(d, path, policy.limits.max_duration);
    if (!value) return value.error();
    if (*value <= Duration::zero()) return invalid(path, "must be greater than 0");
    return *value;
  }

  // The retry policy of a work leaf (http, exec, worker); absent = one attempt.
  Result<engine::RetryPolicy> retry(const v1::TaskSpec& spec, const FieldPath& node_path) {
    engine::RetryPolicy policy;
    if (!spec.has_retry()) return policy;
    const auto& retry = spec.retry();
    const FieldPath path(node_path, "retry");
    if (retry.max_attempts() > kMaxAttempts) {
      return invalid(FieldPath(path, "max_attempts"), "must be at most " + std::to_string(kMaxAttempts));
    }
    policy.max_attempts = std::max<std::uint32_t>(retry.max_attempts(), 1);
    if (retry.has_initial_backoff()) {
      auto d = duration_from_proto(retry.initial_backoff(), FieldPath(path, "initial_backoff"),
                                   policy_limits().max_duration);
      if (!d) return d.error();
      policy.initial_backoff = *d;
    }
    if (retry.has_max_backoff()) {
      auto d = duration_from_proto(retry.max_backoff(), FieldPath(path, "max_backoff"),
                                   policy_limits().max_duration);
      if (!d) return d.error();
      policy.max_backoff = *d;
    }
    if (policy.max_backoff < policy.initial_backoff) {
      return invalid(FieldPath(path, "max_backoff"), "must not be less than initial_backoff (" +
                                                          format_duration(policy.initial_backoff) + ")");
    }
    if (retry.multiplier() != 0.0) {
      if (!(retry.multiplier() >= 1.0 && retry.multiplier() <= 100.0)) {
        return invalid(FieldPath(path, "multiplier"), "must be between 1 and 100");
      }
      policy.multiplier = retry.multiplier();
    }
    for (int i = 0; i < retry.non_retryable_errors_size(); ++i) {
      const auto& name = retry.non_retryable_errors(i);
      auto reason = engine::failure_reason_from_name(name);
      if (!reason) {
        return invalid(FieldPath(FieldPath(path, "non_retryable_errors"), static_cast<std::size_t>(i)),
                       "unknown failure reason '" + name.substr(0, 64) + "' (one of " +
                           failure_reason_list() + ")");
      }
      policy.non_retryable_errors.push_back(*reason);
    }
    return policy;
  }

  const config::Limits& policy_limits() const { return policy.limits; }

  // An optional duration of a work leaf: absent or zero = no limit.
  Result<std::optional<Duration>> optional_duration(bool present, const google::protobuf::Duration& d,
                                                    const FieldPath& path) {
    if (!present) return std::optional<Duration>();
    auto value = duration_from_proto(d, path, policy.limits.max_duration);
    if (!value) return value.error();
    if (*value == Duration::zero()) return std::optional<Duration>();
    return std::optional<Duration>(*value);
  }

  Result<Node> worker(const v1::TaskSpec& spec, const FieldPath& spec_path) {
    const FieldPath path(spec_path, "worker");
    if (auto ok = allowed(NodeKind::kWorker, path); !ok) return ok.error();
    const auto& w = spec.worker();
    if (auto why = workers::check_queue_name(w.queue()); !why.empty()) {
      return invalid(FieldPath(path, "queue"), why);
    }
    if (w.payload().size() > policy.tenant.max_message_bytes) {
      return invalid(FieldPath(path, "payload"),
                     std::to_string(w.payload().size()) + " bytes is more than " +
                         std::to_string(policy.tenant.max_message_bytes) + " (max_message_bytes)");
    }
    engine::WorkerSpec out{w.queue(), w.payload(), {}, {}, {}};
    auto schedule = optional_duration(w.has_schedule_to_start(), w.schedule_to_start(),
                                      FieldPath(path, "schedule_to_start"));
    if (!schedule) return schedule.error();
    auto start = optional_duration(w.has_start_to_close(), w.start_to_close(),
                                   FieldPath(path, "start_to_close"));
    if (!start) return start.error();
    auto heartbeat = optional_duration(w.has_heartbeat(), w.heartbeat(), FieldPath(path, "heartbeat"));
    if (!heartbeat) return heartbeat.error();
    out.schedule_to_start = *schedule;
    out.start_to_close = *start;
    out.heartbeat = *heartbeat;
    auto retry_policy = retry(spec, spec_path);
    if (!retry_policy) return retry_policy.error();
    Node node = engine::make_node(NodeKind::kWorker);
    node.work = std::move(out);
    node.retry = std::move(*retry_policy);
    return node;
  }

  static std::string failure_reason_list() {
    std::string list;
    for (std::size_t i = 0; i < engine::kFailureReasonCount; ++i) {
      if (!list.empty()) list += ", ";
      list += engine::failure_reason_name(static_cast<engine::FailureReason>(i));
    }
    return list;
  }

  // A channel name as the channel service accepts it; whether the channel exists is checked
  // when the node runs.
  static Result<void> channel_name(const std::string& name, const FieldPath& path) {
    if (name.empty()) return invalid(path, "must not be empty");
    const bool ok = name.size() <= kMaxChannelNameBytes &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
                             c == ':' || c == '/';
                    });
    if (!ok) {
      return invalid(path, "must be 1 to " + std::to_string(kMaxChannelNameBytes) +
                               " characters from A-Z, a-z, 0-9 and . _ - : /");
    }
    return {};
  }

  Result<Node> send(const v1::SendNode& send, const FieldPath& path) {
    if (auto ok = allowed(NodeKind::kSend, path); !ok) return ok.error();
    if (auto ok = channel_name(send.channel(), FieldPath(path, "channel")); !ok) return ok.error();
    if (send.payload().size() > policy.tenant.max_message_bytes) {
      return invalid(FieldPath(path, "payload"),
                     std::to_string(send.payload().size()) + " bytes, more than " +
                         std::to_string(policy.tenant.max_message_bytes) +
                         " (tenant max_message_bytes)");
    }
    Node out = engine::make_node(NodeKind::kSend);
    out.work = engine::ChannelOpSpec{send.channel(), send.payload()};
    return out;
  }

  Result<Node> recv(const v1::RecvNode& recv, const FieldPath& path) {
    if (auto ok = allowed(NodeKind::kRecv, path); !ok) return ok.error();
    if (auto ok = channel_name(recv.channel(), FieldPath(path, "channel")); !ok) return ok.error();
    Node out = engine::make_node(NodeKind::kRecv);
    out.work = engine::ChannelOpSpec{recv.channel(), {}};
    return out;
  }
};

void set_time(const std::optional<engine::TimePoint>& t, google::protobuf::Timestamp* out) {
  const auto wall = engine::Clock::to_system(*t);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count();
  *out = TimeUtil::NanosecondsToTimestamp(ns);
}

void set_duration(Duration d, google::protobuf::Duration* out) {
  *out = TimeUtil::NanosecondsToDuration(d.count());
}

void output_to_proto(const std::monostate&, v1::NodeResult&) {}

void output_to_proto(const engine::HttpOutput& http, v1::NodeResult& out) {
  auto* o = out.mutable_http();
  o->set_status(http.status);
  o->set_reason(http.reason);
  for (const auto& [name, value] : http.headers) {
    auto* header = o->add_headers();
    header->set_name(name);
    header->set_value(value);
  }
  o->set_body(http.body);
  o->set_truncated(http.truncated);
  o->set_url(http.url);
}

void output_to_proto(const engine::ExecOutput& exec, v1::NodeResult& out) {
  auto* o = out.mutable_exec();
  if (exec.exit_code) o->set_exit_code(*exec.exit_code);
  if (exec.signal) o->set_signal(*exec.signal);
  o->set_stdout(exec.stdout_data);
  o->set_stderr(exec.stderr_data);
  o->set_stdout_truncated(exec.stdout_truncated);
  o->set_stderr_truncated(exec.stderr_truncated);
}

void output_to_proto(const engine::WorkerOutput& worker, v1::NodeResult& out) {
  auto* o = out.mutable_worker();
  o->set_result(worker.result);
  o->set_worker_id(worker.worker_id);
}

void output_to_proto(const engine::SendOutput& send, v1::NodeResult& out) {
  out.mutable_send()->set_receivers(send.receivers);
}

void output_to_proto(const engine::RecvOutput& recv, v1::NodeResult& out) {
  auto* o = out.mutable_recv();
  o->set_payload(recv.payload);
  o->set_sequence(recv.sequence);
}

}  // namespace

std::string FieldPath::str() const {
  std::string out = parent_ ? parent_->str() : std::string();
  switch (kind_) {
    case Kind::kField:
      if (!out.empty() && !text_.empty()) out += '.';
      out += text_;
      break;
    case Kind::kIndex:
      out += '[';
      out += std::to_string(index_);
      out += ']';
      break;
  }
  return out;
}

Result<Node> node_from_proto(const v1::TaskSpec& spec, const SpecPolicy& policy, std::string_view path) {
  return node_from_proto(spec, policy, FieldPath(path));
}

Result<Node> node_from_proto(const v1::TaskSpec& spec, const SpecPolicy& policy, const FieldPath& path) {
  Walk walk{policy, path};
  return walk.node(spec, path, 1);
}

Result<engine::SpawnArgs> spawn_args_from_proto(const v1::SpawnRequest& request,
                                                const SpecPolicy& policy, std::string_view path) {
  return spawn_args_from_proto(request, policy, FieldPath(path));
}

Result<engine::SpawnArgs> spawn_args_from_proto(const v1::SpawnRequest& request,
                                                const SpecPolicy& policy, const FieldPath& path) {
  const auto& limits = policy.limits;
  if (request.name().size() > limits.max_label_bytes) {
    return invalid(FieldPath(path, "name"),
                   "longer than " + std::to_string(limits.max_label_bytes) + " bytes (limits.max_label_bytes)");
  }
  if (request.idempotency_key().size() > limits.max_label_bytes) {
    return invalid(FieldPath(path, "idempotency_key"),
                   "longer than " + std::to_string(limits.max_label_bytes) + " bytes (limits.max_label_bytes)");
  }
  if (request.labels_size() > static_cast<int>(limits.max_labels)) {
    return invalid(FieldPath(path, "labels"),
                   "more than " + std::to_string(limits.max_labels) + " labels (limits.max_labels)");
  }
  engine::Labels labels;
  for (const auto& [key, value] : request.labels()) {
    // labels["KEY"], spelled out only for an error.
    const auto label_path = [&path, &key = key] {
      return FieldPath(path, "labels").str() + "[\"" + key.substr(0, 64) + "\"]";
    };
    if (key.empty()) return invalid(FieldPath(path, "labels"), "a label key must not be empty");
    if (key.size() > limits.max_label_bytes || value.size() > limits.max_label_bytes) {
      return invalid(label_path(), "key or value longer than " + std::to_string(limits.max_label_bytes) +
                                     " bytes (limits.max_label_bytes)");
    }
    labels.emplace(key, value);
  }
  if (!request.has_spec()) return invalid(FieldPath(path, "spec"), "required");
  auto node = node_from_proto(request.spec(), policy, FieldPath(path, "spec"));
  if (!node) return node.error();
  return engine::SpawnArgs{std::move(*node), request.name(), std::move(labels), request.idempotency_key()};
}

Result<std::optional<Duration>> timeout_from_proto(const google::protobuf::Duration& d, bool present,
                                                   std::string_view path, Duration max) {
  if (!present) return std::optional<Duration>();
  auto value = duration_from_proto(d, FieldPath(path), max);
  if (!value) return value.error();
  if (*value == Duration::zero()) return std::optional<Duration>();
  return std::optional<Duration>(*value);
}

void exec_to_proto(const engine::ExecSpec& spec, v1::ExecNode& out) {
  for (const auto& arg : spec.argv) out.add_argv(arg);
  for (const auto& [name, value] : spec.env) (*out.mutable_env())[name] = value;
  out.set_cwd(spec.cwd);
  out.set_stdin(spec.stdin_data);
  out.set_max_output_bytes(spec.max_output_bytes);
  if (spec.kill_grace) set_duration(*spec.kill_grace, out.mutable_kill_grace());
}

void retry_to_proto(const engine::RetryPolicy& policy, v1::RetryPolicy& out) {
  out.set_max_attempts(policy.max_attempts);
  set_duration(policy.initial_backoff, out.mutable_initial_backoff());
  set_duration(policy.max_backoff, out.mutable_max_backoff());
  out.set_multiplier(policy.multiplier);
  for (auto reason : policy.non_retryable_errors) {
    out.add_non_retryable_errors(std::string(engine::failure_reason_name(reason)));
  }
}

void node_to_proto(const Node& node, v1::TaskSpec& out) {
  if (node.retry != engine::RetryPolicy{}) retry_to_proto(node.retry, *out.mutable_retry());
  switch (node.kind) {
    case NodeKind::kSleep:
      set_duration(node.duration, out.mutable_sleep()->mutable_duration());
      break;
    case NodeKind::kJoin: {
      auto* join = out.mutable_join();
      join->set_fail_fast(node.fail_fast);
      for (const auto& child : node.children) node_to_proto(child, *join->add_children());
      break;
    }
    case NodeKind::kSelect: {
      auto* select = out.mutable_select();
      for (const auto& child : node.children) node_to_proto(child, *select->add_children());
      break;
    }
    case NodeKind::kSequence: {
      auto* sequence = out.mutable_sequence();
      for (const auto& child : node.children) node_to_proto(child, *sequence->add_children());
      break;
    }
    case NodeKind::kTimeout: {
      auto* timeout = out.mutable_timeout();
      set_duration(node.duration, timeout->mutable_duration());
      node_to_proto(node.children.front(), *timeout->mutable_child());
      break;
    }
    case NodeKind::kExec:
      if (const auto* spec = std::get_if<engine::ExecSpec>(&node.work)) exec_to_proto(*spec, *out.mutable_exec());
      break;
    case NodeKind::kWorker:
      if (const auto* w = std::get_if<engine::WorkerSpec>(&node.work)) {
        auto* worker = out.mutable_worker();
        worker->set_queue(w->queue);
        worker->set_payload(w->payload);
        if (w->schedule_to_start) set_duration(*w->schedule_to_start, worker->mutable_schedule_to_start());
        if (w->start_to_close) set_duration(*w->start_to_close, worker->mutable_start_to_close());
        if (w->heartbeat) set_duration(*w->heartbeat, worker->mutable_heartbeat());
      }
      break;
    case NodeKind::kHttp: {
      const auto* spec = std::get_if<engine::HttpSpec>(&node.work);
      if (spec == nullptr) break;
      auto* http = out.mutable_http();
      http->set_method(spec->method);
      http->set_url(spec->url);
      for (const auto& [name, value] : spec->headers) (*http->mutable_headers())[name] = value;
      http->set_body(spec->body);
      if (spec->connect_timeout) {
        set_duration(*spec->connect_timeout, http->mutable_connect_timeout());
      }
      if (spec->timeout) set_duration(*spec->timeout, http->mutable_timeout());
      http->set_max_response_bytes(spec->max_response_bytes);
      http->set_follow_redirects(spec->follow_redirects);
      for (const auto status : spec->accept_status) http->add_accept_status(status);
      break;
    }
    case NodeKind::kSend:
      if (const auto* op = std::get_if<engine::ChannelOpSpec>(&node.work)) {
        auto* send = out.mutable_send();
        send->set_channel(op->channel);
        send->set_payload(op->payload);
      }
      break;
    case NodeKind::kRecv:
      if (const auto* op = std::get_if<engine::ChannelOpSpec>(&node.work)) {
        out.mutable_recv()->set_channel(op->channel);
      }
      break;
    default:
      break;
  }
}

v1::TaskState state_to_proto(engine::State state) {
  switch (state) {
    case engine::State::kPending:
      return v1::TASK_STATE_PENDING;
    case engine::State::kRunning:
      return v1::TASK_STATE_RUNNING;
    case engine::State::kSucceeded:
      return v1::TASK_STATE_SUCCEEDED;
    case engine::State::kFailed:
      return v1::TASK_STATE_FAILED;
    case engine::State::kCancelled:
      return v1::TASK_STATE_CANCELLED;
    case engine::State::kTimedOut:
      return v1::TASK_STATE_TIMED_OUT;
  }
  return v1::TASK_STATE_UNSPECIFIED;
}

std::optional<engine::State> state_from_proto(v1::TaskState state) {
  switch (state) {
    case v1::TASK_STATE_PENDING:
      return engine::State::kPending;
    case v1::TASK_STATE_RUNNING:
      return engine::State::kRunning;
    case v1::TASK_STATE_SUCCEEDED:
      return engine::State::kSucceeded;
    case v1::TASK_STATE_FAILED:
      return engine::State::kFailed;
    case v1::TASK_STATE_CANCELLED:
      return engine::State::kCancelled;
    case v1::TASK_STATE_TIMED_OUT:
      return engine::State::kTimedOut;
    default:
      return std::nullopt;
  }
}

void result_to_proto(const engine::NodeResult& result, v1::NodeResult& out) {
  out.set_state(state_to_proto(result.state));
  out.set_error(result.error);
  if (result.started) set_time(result.started, out.mutable_started_at());
  if (result.finished) set_time(result.finished, out.mutable_finished_at());
  switch (result.kind) {
    case NodeKind::kJoin:
      for (const auto& child : result.children) result_to_proto(child, *out.mutable_join()->add_children());
      break;
    case NodeKind::kSequence:
      for (const auto& child : result.children) result_to_proto(child, *out.mutable_sequence()->add_children());
      break;
    case NodeKind::kSelect: {
      auto* select = out.mutable_select();
      for (const auto& child : result.children) result_to_proto(child, *select->add_children());
      if (result.winner && *result.winner < result.children.size()) {
        select->set_winner(*result.winner);
        *select->mutable_result() = select->children(static_cast<int>(*result.winner));
      }
      break;
    }
    case NodeKind::kTimeout:
      if (!result.children.empty()) result_to_proto(result.children.front(), *out.mutable_timeout()->mutable_child());
      break;
    default:
      break;
  }
  out.set_attempts(result.attempts);
  out.set_last_attempt_error(result.last_attempt_error);
  out.set_fencing_token(result.fencing_token);
  std::visit([&out](const auto& output) { output_to_proto(output, out); }, result.output);
}

void task_to_proto(const engine::TaskSnapshot& task, v1::TaskInfo& out) {
  out.set_id(task.id);
  out.set_name(task.name);
  for (const auto& [k, v] : task.labels) (*out.mutable_labels())[k] = v;
  out.set_state(state_to_proto(task.state));
  if (task.result) result_to_proto(*task.result, *out.mutable_result());
  out.set_idempotency_key(task.idempotency_key);
  set_time(task.created, out.mutable_created_at());
  if (task.started) set_time(task.started, out.mutable_started_at());
  if (task.finished) set_time(task.finished, out.mutable_finished_at());
  if (task.spec) node_to_proto(*task.spec, *out.mutable_spec());
}

void task_to_proto(const engine::TaskSnapshot& task, engine::SnapshotDetail detail, v1::TaskInfo& out) {
  if (detail == engine::SnapshotDetail::kFull) {
    task_to_proto(task, out);
    return;
  }
  out.set_id(task.id);
  out.set_state(state_to_proto(task.state));
  if (task.result && task.state != engine::State::kSucceeded) {
    auto* result = out.mutable_result();
    result->set_state(state_to_proto(task.result->state));
    result->set_error(task.result->error);
  }
}

Result<engine::SnapshotDetail> view_from_proto(int view, std::string_view path) {
  switch (view) {
    case v1::TASK_VIEW_UNSPECIFIED:
    case v1::TASK_VIEW_FULL:
      return engine::SnapshotDetail::kFull;
    case v1::TASK_VIEW_BASIC:
      return engine::SnapshotDetail::kState;
    default:
      return invalid(path, "unknown value " + std::to_string(view) +
                               " (use TASK_VIEW_BASIC or TASK_VIEW_FULL)");
  }
}

}  // namespace orch::rpc
