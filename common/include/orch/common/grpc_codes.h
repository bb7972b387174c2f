#pragma once
/// The canonical names of gRPC status codes ("OK", "CANCELLED", ..., "UNAUTHENTICATED"), as the
/// daemon's metrics and orchctl's error lines print them.
///
/// Thread-safety: pure functions.

#include <cstddef>
#include <string_view>

namespace orch {

/// Codes 0 (OK) .. 16 (UNAUTHENTICATED).
inline constexpr std::size_t kGrpcCodeCount = 17;

/// The name of numeric code `code`; "UNKNOWN" outside 0..16.
std::string_view grpc_code_name(int code) noexcept;

}  // namespace orch
