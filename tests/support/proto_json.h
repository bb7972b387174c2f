#pragma once
/// Reading orchctl's `-o json` output back into the proto types, exactly (unknown fields and
/// mistyped values are errors, so a renamed field fails the test instead of reading as empty).
///
/// Thread-safety: pure functions.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace orch::test {

/// Parses one JSON object into `Message`; a parse error is a test failure (and an empty
/// message is returned).
template <class Message>
Message parse_json(std::string_view json) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message);
  EXPECT_TRUE(status.ok()) << "cannot parse as " << Message::descriptor()->full_name() << ": "
                           << status.ToString() << "\n" << json;
  return message;
}

/// The non-empty lines of `text`.
inline std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl > pos) lines.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

}  // namespace orch::test
