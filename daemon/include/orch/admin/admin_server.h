#pragma once
/// The admin HTTP/1.1 endpoint (HTTPS with AdminServerOptions::tls): `GET /metrics` (Prometheus
/// text format 0.0.4), `GET /healthz` (the process is up), `GET /readyz` (the daemon accepts
/// work) and, once set_reload() gave it a handler, `POST /reload` (re-read the configuration
/// file; 200 with what changed, or 500 with why the new configuration was refused). HEAD is
/// served as well; any
/// other method on these paths gets 405 with `Allow`, any other path 404. Connections are kept
/// alive; each request must arrive within the read timeout and stay under the body limit, and a
/// malformed request is answered 400 and the connection closed.
///
/// Thread-safety: all member functions may be called from any thread. All I/O, the `ready`
/// callback and `Metrics::serialize` run on a strand of the given executor.
/// Lifetime: the executor's io_context and `metrics` must outlive the server's handlers; call
/// `stop()` (the destructor does) and let the io_context run or be destroyed before destroying
/// `metrics`.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/any_io_executor.hpp>

namespace orch::metrics {
class Metrics;
}

namespace orch::admin {

/// The certificate of an HTTPS admin listener, as PEM text.
struct AdminTls {
  std::string cert_chain;  ///< Certificates, leaf first.
  std::string key;         ///< The leaf's private key, unencrypted.
};

/// Limits of one connection, and TLS; the defaults suit production, tests shorten them.
struct AdminServerOptions {
  /// Time allowed to receive one whole request (and to write one response); also the keep-alive
  /// idle time. A client that is slower is disconnected.
  std::chrono::steady_clock::duration read_timeout = std::chrono::seconds(10);
  /// Largest request body accepted; a larger one is answered 413 and the connection closed.
  std::size_t body_limit = 64 * 1024;
  /// Serve HTTPS: every connection starts with a TLS handshake (within read_timeout), and one
  /// that fails is closed. nullopt: plain HTTP.
  std::optional<AdminTls> tls = std::nullopt;
};

class AdminServer {
 public:
  /// Serves on `executor` (an io_context executor). `ready` answers /readyz; it is called on the
  /// server's strand and must not block. `metrics` is rendered per request. Throws
  /// std::runtime_error when `options.tls` holds an unusable certificate or key.
  AdminServer(boost::asio::any_io_executor executor, const metrics::Metrics& metrics,
              std::function<bool()> ready, AdminServerOptions options = {});
  /// Calls `stop()`.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// The handler of `POST /reload`: returns whether the reload was applied and a one-line
  /// message for the caller. Called on the server's strand (it may block briefly: it reads a
  /// file). Set it before start(); without one, /reload is 404.
  void set_reload(std::function<std::pair<bool, std::string>()> reload);

  /// Binds and listens on `host_port` ("127.0.0.1:0", "[::1]:9464", "localhost:9464") and starts
  /// accepting. Returns the bound port. Throws std::runtime_error naming the address and the
  /// reason when it cannot listen; std::logic_error when called twice.
  std::uint16_t start(const std::string& host_port);

  /// Stops accepting and closes every open connection, which makes in-flight reads and writes
  /// complete at once with operation_aborted. Returns immediately: the work is posted to the
  /// strand. Idempotent; the server cannot be started again.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the accept loop and each connection's coroutine
};

}  // namespace orch::admin
