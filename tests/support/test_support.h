#pragma once
// Test support: paths of the built binaries and the source tree.

namespace orch::test {

inline constexpr const char* kOrchestrd = ORCH_TEST_ORCHESTRD;
inline constexpr const char* kOrchctl = ORCH_TEST_ORCHCTL;
inline constexpr const char* kSourceDir = ORCH_TEST_SOURCE_DIR;

}  // namespace orch::test
