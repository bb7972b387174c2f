#include "orch/client/spec_file.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace orch::client {
namespace {

namespace pb = google::protobuf;

// A problem in the document, with where it is.
struct ConvertError {
  std::string message;
  YAML::Mark mark;
};

std::string where(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ": ";
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
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
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;  // UTF-8 passes through unchanged.
        }
    }
  }
  out += '"';
}

// A JSON number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// The proto JSON form of a Duration: -?digits(.digits)?s
bool is_proto_duration(std::string_view s) {
  if (s.size() < 2 || s.back() != 's') return false;
  s.remove_suffix(1);
  if (s.front() == '-') s.remove_prefix(1);
  const auto dot = s.find('.');
  auto all_digits = [](std::string_view d) {
    if (d.empty()) return false;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (dot == std::string_view::npos) return all_digits(s);
  return all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

const char* kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

// Writes a YAML tree as JSON, directed by the protobuf schema it must match, so that each
// scalar gets the JSON type of its field.
class SpecJsonWriter {
 public:
  std::string write(const YAML::Node& root) {
    write_message(root, *orch::v1::TaskSpec::descriptor());
    return std::move(out_);
  }

 private:
  void write_message(const YAML::Node& node, const pb::Descriptor& type) {
    if (!node.IsMap()) {
      throw ConvertError{"expected a mapping for " + type.full_name() + ", found " + kind_of(node),
                         node.Mark()};
    }
    out_ += '{';
    bool first = true;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) throw ConvertError{"a field name must be a scalar", key.Mark()};
      const pb::FieldDescriptor* field = find_field(type, key.Scalar());
      if (field == nullptr) {
        throw ConvertError{
            "unknown field \"" + key.Scalar() + "\" in " + type.full_name() + known_fields(type),
            key.Mark()};
      }
      if (!first) out_ += ',';
      first = false;
      append_json_string(out_, field->json_name());
      out_ += ':';
      write_field(entry.second, *field);
    }
    out_ += '}';
  }

  void write_field(const YAML::Node& node, const pb::FieldDescriptor& field) {
    if (node.IsNull()) {
      out_ += "null";
    } else if (field.is_map()) {
      if (!node.IsMap()) throw mismatch(node, field.name(), "a mapping");
      const pb::FieldDescriptor& value_field = *field.message_type()->map_value();
      out_ += '{';
      bool first = true;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar())
          throw ConvertError{"a map key must be a scalar", entry.first.Mark()};
        if (!first) out_ += ',';
        first = false;
        append_json_string(out_, entry.first.Scalar());
        out_ += ':';
        write_single(entry.second, value_field, field.name() + " values");
      }
      out_ += '}';
    } else if (field.is_repeated()) {
      if (!node.IsSequence()) throw mismatch(node, field.name(), "a list");
      out_ += '[';
      bool first = true;
      for (const auto& element : node) {
        if (!first) out_ += ',';
        first = false;
        write_single(element, field, field.name() + " elements");
      }
      out_ += ']';
    } else {
      write_single(node, field, field.name());
    }
  }

  // `name` says which field a mismatch is about ("argv elements", "headers values").
  void write_single(const YAML::Node& node, const pb::FieldDescriptor& field,
                    const std::string& name) {
    if (node.IsNull()) {
      out_ += "null";
      return;
    }
    if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      const pb::Descriptor& type = *field.message_type();
      if (type.full_name() == "google.protobuf.Duration") {
        write_duration(node, name);
      } else {
        write_message(node, type);
      }
      return;
    }
    if (!node.IsScalar()) throw mismatch(node, name, "a scalar");
    const std::string& text = node.Scalar();
    switch (field.cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        bool value = false;
        if (!YAML::convert<bool>::decode(node, value)) throw mismatch(node, name, "true or false");
        out_ += value ? "true" : "false";
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_INT32:
      case pb::FieldDescriptor::CPPTYPE_INT64:
      case pb::FieldDescriptor::CPPTYPE_UINT32:
      case pb::FieldDescriptor::CPPTYPE_UINT64:
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        // Numbers go out bare; anything else ("NaN", "1e400") is left for protobuf to judge.
        if (is_json_number(text)) {
          out_ += text;
        } else {
          append_json_string(out_, text);
        }
        break;
      default:  // string, bytes (base64, as the JSON mapping says), enum names
        append_json_string(out_, text);
        break;
    }
  }

  void write_duration(const YAML::Node& node, const std::string& name) {
    if (!node.IsScalar()) throw mismatch(node, name, "a duration such as 250ms, 2s or 1m30s");
    const std::string& text = node.Scalar();
    if (const auto human = parse_duration(text)) {
      append_json_string(out_, proto_duration_json(*human));
    } else if (is_proto_duration(text)) {
      append_json_string(out_, text);  // e.g. a negative one: the daemon says why it is wrong
    } else {
      throw ConvertError{
          "invalid duration \"" + text + "\" for field " + name + " (use e.g. 250ms, 2s, 1m30s)",
          node.Mark()};
    }
  }

  static const pb::FieldDescriptor* find_field(const pb::Descriptor& type,
                                               const std::string& name) {
    if (const auto* field = type.FindFieldByName(name)) return field;
    for (int i = 0; i < type.field_count(); ++i) {
      if (type.field(i)->json_name() == name) return type.field(i);
    }
    return nullptr;
  }

  static std::string known_fields(const pb::Descriptor& type) {
    std::string list = " (fields: ";
    for (int i = 0; i < type.field_count(); ++i) {
      if (i > 0) list += ", ";
      list += type.field(i)->name();
    }
    return list + ")";
  }

  static ConvertError mismatch(const YAML::Node& node, const std::string& name,
                               std::string_view expected) {
    return ConvertError{
        "field " + name + " expects " + std::string(expected) + ", found " + kind_of(node),
        node.Mark()};
  }

  std::string out_;
};

std::string oneof_choices() {
  const pb::OneofDescriptor& node = *orch::v1::TaskSpec::descriptor()->FindOneofByName("node");
  std::string list;
  for (int i = 0; i < node.field_count(); ++i) {
    if (i > 0) list += ", ";
    list += node.field(i)->name();
  }
  return list;
}

}  // namespace

std::string proto_duration_json(Duration d) {
  std::int64_t n = d.count();
  std::string out;
  if (n < 0) {
    out = "-";
    n = -n;
  }
  out += std::to_string(n / 1'000'000'000);
  const std::int64_t nanos = n % 1'000'000'000;
  if (nanos != 0) {
    // Three, six or nine decimals, the shortest that is exact.
    std::string digits = std::to_string(nanos);
    digits.insert(0, 9 - digits.size(), '0');
    if (nanos % 1'000'000 == 0) {
      digits.resize(3);
    } else if (nanos % 1'000 == 0) {
      digits.resize(6);
    }
    out += "." + digits;
  }
  return out + "s";
}

Parsed<std::string> spec_to_json(std::string_view text, std::string_view source) {
  const std::string prefix = std::string(source) + ": ";
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) return {std::nullopt, prefix + "the spec is empty"};
    return {SpecJsonWriter{}.write(root), {}};
  } catch (const ConvertError& e) {
    return {std::nullopt, prefix + where(e.mark) + e.message};
  } catch (const YAML::Exception& e) {
    return {std::nullopt, prefix + where(e.mark) + e.msg};
  }
}

Parsed<orch::v1::TaskSpec> parse_spec(std::string_view text, std::string_view source) {
  auto json = spec_to_json(text, source);
  if (!json) return {std::nullopt, std::move(json.error)};
  orch::v1::TaskSpec spec;
  const auto status = google::protobuf::util::JsonStringToMessage(*json.value, &spec);
  if (!status.ok()) {
    return {std::nullopt,
            std::string(source) + ": not a valid TaskSpec: " + std::string(status.message())};
  }
  if (spec.node_case() == orch::v1::TaskSpec::NODE_NOT_SET) {
    return {std::nullopt, std::string(source) + ": the spec sets no node (expected one of " +
                              oneof_choices() + ")"};
  }
  return {std::move(spec), {}};
}

Parsed<orch::v1::TaskSpec> read_spec_file(const std::string& path, std::istream& in) {
  std::ostringstream text;
  if (path == "-") {
    text << in.rdbuf();
    return parse_spec(text.str(), "<stdin>");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return {std::nullopt, path + ": cannot open: " + std::strerror(errno)};
  text << file.rdbuf();
  if (file.bad()) return {std::nullopt, path + ": cannot read: " + std::strerror(errno)};
  return parse_spec(text.str(), path);
}

}  // namespace orch::client
