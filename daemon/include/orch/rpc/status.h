#pragma once
/// The one mapping from the engine's domain errors to gRPC statuses (DESIGN §3).

#include <grpcpp/support/status.h>

#include "orch/engine/error.h"

namespace orch::rpc {

grpc::Status to_status(const engine::Error& error);

}  // namespace orch::rpc
