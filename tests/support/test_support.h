#pragma once
// Test support: paths of the built binaries and the source tree, and small file helpers.

#include <string>
#include <string_view>

namespace orch::test {

inline constexpr const char* kOrchestrd = ORCH_TEST_ORCHESTRD;
inline constexpr const char* kOrchctl = ORCH_TEST_ORCHCTL;
inline constexpr const char* kSourceDir = ORCH_TEST_SOURCE_DIR;

/// A new empty directory `$TMPDIR/PREFIX-XXXXXX` (or under /tmp); the caller removes it.
/// Throws std::runtime_error naming errno when it cannot be made.
std::string make_temp_dir(std::string_view prefix);

/// The whole contents of the file at `path`; empty when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace orch::test
