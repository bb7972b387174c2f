#include "orch/client/format.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <string.h>

#include <algorithm>
#include <map>
#include <vector>

#include "orch/client/names.h"
#include "orch/common/duration.h"

namespace orch::client {
namespace {

namespace pb = google::protobuf;

bool is_set(const pb::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

// The kind of a spec node: the name of the oneof field it sets ("sleep", "join", ...).
std::string spec_kind(const orch::v1::TaskSpec& spec) {
  if (spec.node_case() == orch::v1::TaskSpec::NODE_NOT_SET) return "";
  return orch::v1::TaskSpec::descriptor()->FindFieldByNumber(spec.node_case())->name();
}

std::string output_kind(const orch::v1::NodeResult& result) {
  switch (result.output_case()) {
    case orch::v1::NodeResult::kJoin:
      return "join";
    case orch::v1::NodeResult::kSelect:
      return "select";
    case orch::v1::NodeResult::kTimeout:
      return "timeout";
    case orch::v1::NodeResult::kSequence:
      return "sequence";
    case orch::v1::NodeResult::kExec:
      return "exec";
    case orch::v1::NodeResult::kHttp:
      return "http";
    case orch::v1::NodeResult::kSend:
      return "send";
    case orch::v1::NodeResult::kRecv:
      return "recv";
    default:
      return "";
  }
}

// `  exit_code: N` (or `  signal: N (SIGNAME)`), then stdout and stderr quoted on a line each.
void append_exec_output(std::string& out, const orch::v1::ExecOutput& exec, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  if (exec.has_exit_code()) {
    out += pad + "exit_code: " + std::to_string(exec.exit_code()) + "\n";
  } else if (exec.has_signal()) {
    const char* name = ::sigabbrev_np(exec.signal());
    out += pad + "signal: " + std::to_string(exec.signal());
    if (name != nullptr) out += std::string(" (SIG") + name + ")";
    out += "\n";
  }
  out += pad + "stdout: " + quote(exec.stdout()) + (exec.stdout_truncated() ? " (truncated)" : "") + "\n";
  out += pad + "stderr: " + quote(exec.stderr()) + (exec.stderr_truncated() ? " (truncated)" : "") + "\n";
}

// Text a terminal shows as it is: no NUL and no control characters but tab, CR and LF.
bool printable(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t' && c != '\n' && c != '\r') || byte == 0x7f;
  });
}

// Under an http node's line: the status line, then the body, each of its lines indented.
void append_http(std::string& out, const orch::v1::HttpOutput& http, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  if (http.status() == 0) return;  // no response came
  out += pad + "status: " + std::to_string(http.status());
  if (!http.reason().empty()) out += " " + http.reason();
  out += '\n';
  out += pad + "url: " + http.url() + '\n';
  out += pad + "body: " + std::to_string(http.body().size()) + " bytes";
  if (http.truncated()) out += ", truncated at max_response_bytes";
  if (!printable(http.body())) {
    out += ", binary (not shown; -o json has it in base64)\n";
    return;
  }
  out += '\n';
  std::string_view body = http.body();
  while (!body.empty()) {
    const auto eol = body.find('\n');
    std::string_view line = body.substr(0, eol);
    if (line.ends_with('\r')) line.remove_suffix(1);
    out += pad + "  ";
    out += line;
    out += '\n';
    body = eol == std::string_view::npos ? std::string_view() : body.substr(eol + 1);
  }
}

// A composite's spec fits a result only when both name the same composite; a leaf's spec fits
// a result without output.
bool spec_fits(const orch::v1::TaskSpec& spec, const orch::v1::NodeResult& result) {
  const std::string out = output_kind(result);
  const std::string kind = spec_kind(spec);
  if (kind.empty()) return false;
  if (!out.empty()) return kind == out;
  return kind != "join" && kind != "select" && kind != "timeout" && kind != "sequence";
}

// The spec of child `index` in `children` (the spec's own child list), when there is one.
const orch::v1::TaskSpec* child_at(const pb::RepeatedPtrField<orch::v1::TaskSpec>* children,
                                   int index) {
  if (children == nullptr || index < 0 || index >= children->size()) return nullptr;
  return &(*children)[index];
}

void append_result(std::string& out, const orch::v1::NodeResult& result,
                   const orch::v1::TaskSpec* spec, int indent, const std::string& label,
                   const TextStyle& style) {
  if (spec != nullptr && !spec_fits(*spec, result)) spec = nullptr;
  std::string kind = spec != nullptr ? spec_kind(*spec) : output_kind(result);
  if (kind.empty()) kind = "node";

  out.append(static_cast<std::size_t>(indent) * 2, ' ');
  out += label;
  out += kind;
  out += ' ';
  out += state_word(result.state(), style);
  if (result.has_select()) out += " winner=" + std::to_string(result.select().winner());
  if (is_set(result.started_at()) && is_set(result.finished_at())) {
    const auto took =
        pb::util::TimeUtil::DurationToNanoseconds(result.finished_at() - result.started_at());
    out += " took=" + format_duration(Duration(took));
  }
  if (result.attempts() > 1) out += " attempts=" + std::to_string(result.attempts());
  if (result.has_send()) out += " receivers=" + std::to_string(result.send().receivers());
  if (result.has_recv() && result.state() == orch::v1::TASK_STATE_SUCCEEDED) {
    out += " payload=" + quote(result.recv().payload());
    out += " sequence=" + std::to_string(result.recv().sequence());
  }
  if (!result.error().empty()) out += " error=" + quote(result.error());
  if (result.has_worker()) {
    if (result.attempts() > 1) out += " attempts=" + std::to_string(result.attempts());
    if (!result.worker().worker_id().empty()) out += " worker=" + result.worker().worker_id();
    if (result.state() == orch::v1::TASK_STATE_SUCCEEDED) out += " result=" + quote(result.worker().result());
  }
  out += '\n';
  // An earlier attempt's failure, when the node's own error does not already say it.
  const std::string& last = result.last_attempt_error();
  if (!last.empty() && !std::string_view(result.error()).ends_with(last)) {
    out.append(static_cast<std::size_t>(indent + 1) * 2, ' ');
    out += "last_attempt_error: " + quote(last) + "\n";
  }
  if (result.has_exec()) append_exec_output(out, result.exec(), indent + 1);
  if (result.has_http()) append_http(out, result.http(), indent + 1);

  auto indexed = [](int i) { return "[" + std::to_string(i) + "] "; };
  const pb::RepeatedPtrField<orch::v1::TaskSpec>* spec_children = nullptr;
  switch (result.output_case()) {
    case orch::v1::NodeResult::kJoin: {
      if (spec != nullptr) spec_children = &spec->join().children();
      const auto& children = result.join().children();
      for (int i = 0; i < children.size(); ++i) {
        append_result(out, children[i], child_at(spec_children, i), indent + 1, indexed(i),
                      style);
      }
      break;
    }
    case orch::v1::NodeResult::kSelect: {
      if (spec != nullptr) spec_children = &spec->select().children();
      const auto& select = result.select();
      if (select.children().empty() && select.has_result()) {
        // Only the winner was reported: show it under its own index.
        const int winner = static_cast<int>(select.winner());
        append_result(out, select.result(), child_at(spec_children, winner), indent + 1,
                      indexed(winner), style);
      }
      for (int i = 0; i < select.children().size(); ++i) {
        append_result(out, select.children()[i], child_at(spec_children, i), indent + 1,
                      indexed(i), style);
      }
      break;
    }
    case orch::v1::NodeResult::kTimeout:
      if (result.timeout().has_child()) {
        const orch::v1::TaskSpec* child =
            spec != nullptr && spec->timeout().has_child() ? &spec->timeout().child() : nullptr;
        append_result(out, result.timeout().child(), child, indent + 1, "", style);
      }
      break;
    case orch::v1::NodeResult::kSequence: {
      if (spec != nullptr) spec_children = &spec->sequence().children();
      const auto& children = result.sequence().children();
      for (int i = 0; i < children.size(); ++i) {
        append_result(out, children[i], child_at(spec_children, i), indent + 1, indexed(i),
                      style);
      }
      break;
    }
    default:
      break;
  }
}

std::string sorted_labels(const pb::Map<std::string, std::string>& labels) {
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::string out;
  for (const auto& [key, value] : sorted) {
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

// One value of a scalar field as text: strings as they are, the rest as protobuf prints them.
std::string field_value(const pb::Message& message, const pb::FieldDescriptor& field, int index) {
  const pb::Reflection& reflection = *message.GetReflection();
  if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
    return index < 0 ? reflection.GetString(message, &field)
                     : reflection.GetRepeatedString(message, &field, index);
  }
  std::string value;
  pb::TextFormat::PrintFieldValueToString(message, &field, index, &value);
  return value;
}

// `  field: value` for each field of a flat message, in declaration order; a repeated field's
// values are joined by commas.
void append_fields(std::string& out, const pb::Message& message) {
  const pb::Descriptor& type = *message.GetDescriptor();
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor& field = *type.field(i);
    out += "  " + field.name() + ": ";
    if (field.is_repeated()) {
      const int n = message.GetReflection()->FieldSize(message, &field);
      for (int j = 0; j < n; ++j) {
        if (j > 0) out += ',';
        out += field_value(message, field, j);
      }
    } else {
      out += field_value(message, field, -1);
    }
    out += '\n';
  }
}

}  // namespace

std::string state_word(orch::v1::TaskState state, const TextStyle& style) {
  const std::string_view name = task_state_name(state);
  const char* color = nullptr;
  switch (state) {
    case orch::v1::TASK_STATE_SUCCEEDED:
      color = "\x1b[32m";  // green
      break;
    case orch::v1::TASK_STATE_FAILED:
    case orch::v1::TASK_STATE_TIMED_OUT:
      color = "\x1b[31m";  // red
      break;
    case orch::v1::TASK_STATE_CANCELLED:
      color = "\x1b[33m";  // yellow
      break;
    case orch::v1::TASK_STATE_RUNNING:
      color = "\x1b[36m";  // cyan
      break;
    default:
      break;
  }
  if (!style.color || color == nullptr) return std::string(name);
  return std::string(color) + std::string(name) + "\x1b[0m";
}

std::string to_json(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = pb::util::MessageToJsonString(message, &json, options);
  // Printing a well-formed message cannot fail; keep a visible trace if it ever does.
  if (!status.ok()) return "{\"error\":" + quote(std::string(status.message())) + "}";
  return json;
}

std::string format_timestamp(const pb::Timestamp& time) {
  if (!is_set(time)) return "-";
  return pb::util::TimeUtil::ToString(time);
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string format_task(const orch::v1::TaskInfo& task, const TextStyle& style) {
  std::string out = "id: " + task.id() + "\n";
  if (!task.name().empty()) out += "name: " + task.name() + "\n";
  out += "state: " + state_word(task.state(), style) + "\n";
  if (!task.labels().empty()) out += "labels: " + sorted_labels(task.labels()) + "\n";
  if (!task.idempotency_key().empty()) out += "idempotency_key: " + task.idempotency_key() + "\n";
  out += "created: " + format_timestamp(task.created_at()) + "\n";
  if (is_set(task.started_at())) out += "started: " + format_timestamp(task.started_at()) + "\n";
  if (is_set(task.finished_at())) {
    out += "finished: " + format_timestamp(task.finished_at()) + "\n";
  }
  if (task.has_result()) {
    out += "result:\n";
    out += format_result(task.result(), task.has_spec() ? &task.spec() : nullptr, 1, style);
  }
  return out;
}

std::string format_result(const orch::v1::NodeResult& result, const orch::v1::TaskSpec* spec,
                          int indent, const TextStyle& style) {
  std::string out;
  append_result(out, result, spec, indent, "", style);
  return out;
}

std::string format_task_table(const pb::RepeatedPtrField<orch::v1::TaskInfo>& tasks,
                              const TextStyle& style) {
  std::size_t id_width = 0;
  std::size_t state_width = 0;
  std::size_t name_width = 0;
  for (const auto& task : tasks) {
    id_width = std::max(id_width, task.id().size());
    state_width = std::max(state_width, task_state_name(task.state()).size());
    name_width = std::max(name_width, std::max<std::size_t>(task.name().size(), 1));
  }
  auto pad = [](std::string text, std::size_t width) {
    text.resize(std::max(text.size(), width), ' ');
    return text;
  };
  std::string out;
  for (const auto& task : tasks) {
    out += pad(task.id(), id_width) + "  ";
    const std::size_t width = task_state_name(task.state()).size();
    out += state_word(task.state(), style) + std::string(state_width - width, ' ') + "  ";
    out += pad(task.name().empty() ? "-" : task.name(), name_width) + "  ";
    out += format_timestamp(task.created_at()) + "\n";
  }
  return out;
}

std::string format_event(const orch::v1::TaskEvent& event, const TextStyle& style) {
  std::string line =
      format_timestamp(event.time()) + " " + event.id() + " " + state_word(event.state(), style);
  if (!event.task().result().error().empty()) {
    line += " error=" + quote(event.task().result().error());
  }
  return line;
}

std::string format_who_am_i(const orch::v1::WhoAmIResponse& who) {
  std::string out = "tenant: " + who.tenant() + "\n";
  out += "limits:\n";
  append_fields(out, who.limits());
  out += "usage:\n";
  append_fields(out, who.usage());
  return out;
}

}  // namespace orch::client
