#pragma once
/// The engine's domain errors: expected failures that cross boundaries as values.
/// Exactly one function (rpc/status.h) maps them to gRPC statuses.

#include <boost/system/result.hpp>
#include <string>

namespace orch::engine {

enum class ErrorCode {
  kInvalidArgument,     // a request field is malformed (the message names the field)
  kNotFound,            // no such object for this tenant (also for other tenants' objects)
  kAlreadyExists,       // a name is taken
  kResourceExhausted,   // a quota is full (the message names it)
  kDeadlineExceeded,    // a wait's timeout passed
  kFailedPrecondition,  // the object's state refuses the operation
  kPermissionDenied,    // the tenant may not do this
  kUnauthenticated,     // no or a wrong token
  kUnavailable,         // shutting down
  kUnimplemented,       // not in this build yet
  kCancelled,           // the caller went away
  kInternal,            // a bug: an invariant broke
};

struct Error {
  ErrorCode code;
  std::string message;
};

/// Lets boost::system::result<T, Error>::value() throw a readable exception.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <typename T>
using Result = boost::system::result<T, Error>;

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace orch::engine
