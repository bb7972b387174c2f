// Fuzz target: what a client sends to spawn work, from the wire on: protobuf bytes -> request
// message -> the daemon's validation (orch/rpc/convert.h, schedule_convert.h). The first byte
// picks the request (even: SpawnRequest, odd: CreateIntervalRequest); the rest is the message.
// Beyond "no crash, no undefined behaviour": a spec the validator accepts, converted back to
// protobuf, must be accepted again.
#include <chrono>
#include <cstdint>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "orch/config/config.h"
#include "orch/rpc/convert.h"
#include "orch/rpc/schedule_convert.h"
#include "orch/v1/schedules.pb.h"
#include "orch/v1/tasks.pb.h"

namespace {

struct Policy {
  Policy() {
    // A tenant that may use every kind, so that every node's validation is reachable.
    tenant.name = "fuzz";
    tenant.allowed_kinds.assign(orch::config::kKnownKinds.begin(),
                                orch::config::kKnownKinds.end());
    tenant.exec_allowlist = {"/bin/true", "/usr/bin/env"};
  }
  orch::config::Limits limits;
  orch::config::TenantConfig tenant;
};

void check_accepted_again(const orch::engine::Node& node, const orch::rpc::SpecPolicy& policy) {
  orch::v1::TaskSpec back;
  orch::rpc::node_to_proto(node, back);
  if (!orch::rpc::node_from_proto(back, policy)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Silences protobuf's complaints about invalid UTF-8 in string fields (the parse fails,
  // which is all that matters here).
  [[maybe_unused]] static const bool kQuiet = (google::protobuf::SetLogHandler(nullptr), true);
  static const Policy* const kPolicy = new Policy();
  const orch::rpc::SpecPolicy policy{kPolicy->limits, kPolicy->tenant};
  if (size == 0) return 0;
  const bool schedule = (data[0] & 1) != 0;
  const auto* bytes = data + 1;
  const int length = static_cast<int>(size - 1);

  if (!schedule) {
    orch::v1::SpawnRequest request;
    if (!request.ParseFromArray(bytes, length)) return 0;
    const auto args = orch::rpc::spawn_args_from_proto(request, policy);
    if (args) check_accepted_again(args->spec, policy);
  } else {
    orch::v1::CreateIntervalRequest request;
    if (!request.ParseFromArray(bytes, length)) return 0;
    const auto now = orch::engine::TimePoint(std::chrono::hours(24 * 365 * 50));
    const auto spec = orch::rpc::schedule_spec_from_proto(request, policy, now);
    if (spec) check_accepted_again(spec->task_template, policy);
  }
  return 0;
}
