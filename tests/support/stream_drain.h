#pragma once
/// Ending a client stream in tests: what the server still sends is read and dropped, then the
/// stream's status is returned.

#include <grpcpp/grpcpp.h>

namespace orch::test {

template <typename Write, typename Read>
grpc::Status drain_and_finish(grpc::ClientReaderWriter<Write, Read>& stream) {
  Read ignored;
  while (stream.Read(&ignored)) {
  }
  return stream.Finish();
}

}  // namespace orch::test
