// orchctl mutex lock|unlock|get|refresh: named mutexes over MutexService.
#include <unistd.h>

#include <array>

#include "commands.h"
#include "exit_codes.h"
#include "orch/client/format.h"
#include "orch/client/specs.h"
#include "orch/common/duration.h"
#include "orch/v1/mutex.grpc.pb.h"

namespace orchctl {
namespace {

namespace v1 = orch::v1;
using orch::client::format_timestamp;
using orch::client::quote;
using orch::client::to_json;

void check(const grpc::Status& status) {
  if (!status.ok()) throw RpcError(status);
}

google::protobuf::Duration duration_flag(const std::string& text, const std::string& flag) {
  const auto d = orch::parse_duration(text);
  if (!d) {
    throw UsageError(flag + ": invalid duration \"" + text + "\" (use e.g. 250ms, 2s, 1m30s)");
  }
  return orch::client::to_proto(*d);
}

// "HOST:PID" of this process: who holds the lock, for people reading `mutex get`.
std::string default_holder() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  const std::string name = host[0] != '\0' ? host.data() : "orchctl";
  return name + ":" + std::to_string(::getpid());
}

std::string format_lock(const v1::LockResponse& lock) {
  std::string text;
  text += "guard: " + lock.guard() + '\n';
  text += "fencing_token: " + std::to_string(lock.fencing_token()) + '\n';
  text += "lease_expires_at: " + format_timestamp(lock.lease_expires_at()) + '\n';
  text += "value: " + quote(lock.value()) + '\n';
  return text;
}

std::string format_mutex(const v1::MutexInfo& info) {
  std::string text;
  text += "name: " + info.name() + '\n';
  text += std::string("locked: ") + (info.locked() ? "true" : "false") + '\n';
  if (info.locked()) {
    text += "holder: " + quote(info.holder().holder()) + '\n';
    text += "acquired_at: " + format_timestamp(info.holder().acquired_at()) + '\n';
    text += "lease_expires_at: " + format_timestamp(info.holder().lease_expires_at()) + '\n';
  }
  text += "waiters: " + std::to_string(info.waiters()) + '\n';
  text += "fencing_token: " + std::to_string(info.fencing_token()) + '\n';
  text += "value: " + quote(info.value()) + '\n';
  text += "value_fencing_token: " + std::to_string(info.value_fencing_token()) + '\n';
  text += "value_updated_at: " + format_timestamp(info.value_updated_at()) + '\n';
  return text;
}

}  // namespace

int Commands::mutex_lock(const MutexLockArgs& args) {
  v1::LockRequest request;
  request.set_name(args.name);
  if (!args.ttl.empty()) *request.mutable_lease_ttl() = duration_flag(args.ttl, "--ttl");
  if (args.no_wait && !args.wait.empty()) {
    throw UsageError("mutex lock: give either --wait or --no-wait, not both");
  }
  if (!args.wait.empty()) *request.mutable_wait_timeout() = duration_flag(args.wait, "--wait");
  request.set_no_wait(args.no_wait);
  request.set_holder(args.holder.empty() ? default_holder() : args.holder);

  auto ctx = client().context();
  v1::LockResponse response;
  check(client().mutexes().Lock(ctx.get(), request, &response));
  out_ << (json() ? to_json(response) + "\n" : format_lock(response));
  out_.flush();
  return kExitOk;
}

int Commands::mutex_unlock(const MutexUnlockArgs& args) {
  v1::UnlockRequest request;
  request.set_name(args.name);
  request.set_guard(args.guard);
  if (args.value_given) {
    request.set_set_value(true);
    request.set_value(args.value);
  }
  auto ctx = client().context();
  v1::UnlockResponse response;
  check(client().mutexes().Unlock(ctx.get(), request, &response));
  out_ << (json() ? to_json(response) + "\n" : args.name + " unlocked\n");
  out_.flush();
  return kExitOk;
}

int Commands::mutex_get(const std::string& name) {
  v1::GetMutexRequest request;
  request.set_name(name);
  auto ctx = client().context();
  v1::MutexInfo info;
  check(client().mutexes().Get(ctx.get(), request, &info));
  out_ << (json() ? to_json(info) + "\n" : format_mutex(info));
  out_.flush();
  return kExitOk;
}

int Commands::mutex_refresh(const MutexRefreshArgs& args) {
  v1::RefreshRequest request;
  request.set_name(args.name);
  request.set_guard(args.guard);
  if (!args.ttl.empty()) *request.mutable_lease_ttl() = duration_flag(args.ttl, "--ttl");
  auto ctx = client().context();
  v1::RefreshResponse response;
  check(client().mutexes().Refresh(ctx.get(), request, &response));
  out_ << (json() ? to_json(response) + "\n"
                  : "lease_expires_at: " + format_timestamp(response.lease_expires_at()) + "\n");
  out_.flush();
  return kExitOk;
}

}  // namespace orchctl
