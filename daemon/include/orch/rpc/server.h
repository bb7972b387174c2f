#pragma once
/// The gRPC server: TaskService, TenantService, ScheduleService, ChannelService, MutexService
/// and WorkerService, the standard health service and server reflection.
///
/// Each call is a reactor of gRPC's callback API that runs its handler as a coroutine on the
/// runtime; a client that goes away (or whose deadline passes) cancels that coroutine, never
/// the tasks it was waiting for.
///
/// Thread-safety: start(), shutdown() and wait() are called once each, from the thread that
/// owns the server (not an io thread).

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace orch::config {
struct Limits;
struct TenantConfig;
template <typename T>
class LiveValue;
}
namespace orch::engine {
class Engine;
}
namespace orch::metrics {
class Metrics;
}
namespace orch::tenants {
class TenantRegistry;
}
namespace orch::channels {
class ChannelRegistry;
}
namespace orch::workers {
class WorkerHubs;
}
namespace orch::tls {
struct ServerPem;
}

namespace orch::rpc {

struct ServerDeps {
  engine::Engine& engine;
  const tenants::TenantRegistry& tenants;
  /// Request limits; a configuration reload replaces them (see config/live_value.h).
  const config::LiveValue<config::Limits>& limits;
  metrics::Metrics* metrics;  // may be null
  boost::asio::any_io_executor executor;
  /// The tenants' channels; null: every ChannelService call is UNAVAILABLE.
  channels::ChannelRegistry* channels = nullptr;
  workers::WorkerHubs* workers = nullptr;  // WorkerService; null: it answers UNAVAILABLE
  /// Serve TLS with these (checked) PEM texts; null: plaintext. With client_ca, every client
  /// must present a certificate it signed, and its names pick the tenant (client_cert_names).
  const tls::ServerPem* tls = nullptr;
  /// Refuse calls that carry a bearer token (tls::TokenPolicy::kRefuse).
  bool refuse_tokens = false;
};

class RpcServer {
 public:
  explicit RpcServer(ServerDeps deps);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  /// Binds `listen` (HOST:PORT, port 0 = any free port) and starts serving; returns the bound
  /// port. Throws std::runtime_error naming the address when it cannot bind.
  std::uint16_t start(const std::string& listen);
  /// Ends every worker stream with UNAVAILABLE, then stops accepting calls; calls still running after `deadline` are cancelled. Must be called
  /// while the io_context still runs, from a thread that is not one of its threads.
  void shutdown(std::chrono::milliseconds deadline);
  /// Marks the health service NOT_SERVING and stops every schedule from firing (first step of
  /// a graceful stop).
  void set_not_serving();
  /// A configuration reload: mutex quotas of `tenants` (new ones added) and the lease limit.
  /// The tenant registry and `limits` that calls read are replaced by the caller.
  void apply(const std::vector<config::TenantConfig>& tenants, const config::Limits& limits);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::rpc
