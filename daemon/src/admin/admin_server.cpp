#include "orch/admin/admin_server.h"

#include <atomic>
#include <charconv>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "admin/admin_http.h"

namespace orch::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<beast::tcp_stream>;

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);
/// After a failed accept (e.g. EMFILE) wait before the next one instead of spinning.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

/// The completion handler of every co_spawn here: an escaped exception is a bug, logged.
auto log_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("admin server: {} failed: {}", what, e.what());
    } catch (...) {
      spdlog::error("admin server: {} failed with a non-standard exception", what);
    }
  };
}

[[noreturn]] void fail_listen(const std::string& host_port, const std::string& reason) {
  throw std::runtime_error("admin server: cannot listen on " + host_port + ": " + reason);
}

/// "127.0.0.1:0", "[::1]:9464", "localhost:9464" -> an endpoint; throws std::runtime_error.
tcp::endpoint listen_endpoint(const std::string& host_port, const asio::any_io_executor& executor) {
  std::string_view text = host_port;
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) fail_listen(host_port, "expected host:port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    fail_listen(host_port, "an IPv6 address must be written in brackets, e.g. [::1]:9464");
  }
  if (host.empty()) fail_listen(host_port, "missing host (use 0.0.0.0 for every interface)");
  std::uint16_t port = 0;
  const auto [end, parse_error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parse_error != std::errc() || end != port_text.data() + port_text.size() ||
      port_text.empty()) {
    fail_listen(host_port, "the port must be a number from 0 to 65535");
  }

  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port};
  // Not a literal address: resolve the name once (start-up only, so blocking is fine).
  tcp::resolver resolver(executor);
  const auto results = resolver.resolve(
      host, port_text, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) fail_listen(host_port, ec.message());
  if (results.empty()) fail_listen(host_port, "the host name has no address");
  return results.begin()->endpoint();
}

/// Closes our sending side so that the client reads the whole response, then EOF.
void shutdown_send(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

/// The same for HTTPS: TLS close_notify first (bounded by the stream's deadline), then EOF.
asio::awaitable<void> finish_sending(beast::tcp_stream& stream) {
  shutdown_send(stream);
  co_return;
}
asio::awaitable<void> finish_sending(TlsStream& stream) {
  co_await stream.async_shutdown(kUseAwaitable);  // errors: the client is gone, nothing to do
  shutdown_send(stream.next_layer());
}

/// An HTTPS context with the certificate and key; throws std::runtime_error when unusable.
std::unique_ptr<asio::ssl::context> make_tls_context(const AdminTls& tls) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  context->use_certificate_chain(asio::buffer(tls.cert_chain), ec);
  if (ec) throw std::runtime_error("admin server: unusable TLS certificate: " + ec.message());
  context->use_private_key(asio::buffer(tls.key), asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("admin server: unusable TLS key: " + ec.message());
  return context;
}

}  // namespace

struct AdminServer::Impl {
  Impl(asio::any_io_executor executor, const metrics::Metrics& metrics, std::function<bool()> ready,
       AdminServerOptions options)
      : strand_(asio::make_strand(std::move(executor))),
        metrics_(metrics),
        ready_(std::move(ready)),
        options_(std::move(options)),
        tls_(options_.tls ? make_tls_context(*options_.tls) : nullptr) {}

  /// Accepts until stop(); each connection gets its own coroutine on the strand.
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, tcp::acceptor acceptor);
  /// Serves the requests of one connection in order until it closes, times out, or stop().
  static asio::awaitable<void> serve_connection(std::shared_ptr<Impl> self, tcp::socket socket);
  /// The request loop of serve_connection on a plain or TLS stream; `self` outlives it.
  template <typename Stream>
  static asio::awaitable<void> serve_requests(Impl& self, Stream& stream);

  /// Runs on the strand.
  void close_all();

  asio::strand<asio::any_io_executor> strand_;
  const metrics::Metrics& metrics_;
  const std::function<bool()> ready_;
  ReloadHandler reload_;  // set before start()
  const AdminServerOptions options_;
  const std::unique_ptr<asio::ssl::context> tls_;  // null: plain HTTP
  std::atomic<bool> started_{false};
  std::atomic<bool> stop_requested_{false};

  // Owned by the strand: what stop() must close.
  bool stopped_ = false;
  tcp::acceptor* acceptor_ = nullptr;
  std::unordered_set<beast::tcp_stream*> connections_;
};

asio::awaitable<void> AdminServer::Impl::accept_loop(std::shared_ptr<Impl> self,
                                                     tcp::acceptor acceptor) {
  if (self->stopped_) co_return;  // stop() ran before this coroutine started
  self->acceptor_ = &acceptor;
  struct Unregister {
    Impl& impl;
    ~Unregister() { impl.acceptor_ = nullptr; }
  } unregister{*self};

  asio::steady_timer retry_timer(self->strand_);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseAwaitable);
    if (self->stopped_) co_return;
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or the like: keep serving the connections we have, retry shortly.
      spdlog::warn("admin server: accept failed: {}", ec.message());
      retry_timer.expires_after(kAcceptRetryDelay);
      co_await retry_timer.async_wait(kUseAwaitable);
      if (self->stopped_) co_return;
      continue;
    }
    asio::co_spawn(self->strand_, serve_connection(self, std::move(socket)),
                   log_failure("connection"));
  }
}

asio::awaitable<void> AdminServer::Impl::serve_connection(std::shared_ptr<Impl> self,
                                                          tcp::socket socket) {
  if (self->stopped_) co_return;
  if (!self->tls_) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve_requests(*self, stream);
  } else {
    TlsStream stream(beast::tcp_stream(std::move(socket)), *self->tls_);
    co_await serve_requests(*self, stream);
  }
}

template <typename Stream>
asio::awaitable<void> AdminServer::Impl::serve_requests(Impl& self, Stream& stream) {
  constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  beast::tcp_stream& tcp_stream = beast::get_lowest_layer(stream);
  // Registered so that stop() can close it; the frame's end unregisters it.
  self.connections_.insert(&tcp_stream);
  struct Unregister {
    Impl& impl;
    beast::tcp_stream* stream;
    ~Unregister() { impl.connections_.erase(stream); }
  } unregister{self, &tcp_stream};

  if constexpr (kTls) {
    // The handshake is bounded like a request: a client that never sends one is closed.
    tcp_stream.expires_after(self.options_.read_timeout);
    auto [handshake_ec] =
        co_await stream.async_handshake(asio::ssl::stream_base::server, kUseAwaitable);
    if (self.stopped_) co_return;
    if (handshake_ec) {
      spdlog::debug("admin server: TLS handshake failed: {}", handshake_ec.message());
      co_return;
    }
  }

  beast::flat_buffer buffer;
  for (;;) {
    // Read one request; the deadline bounds a slow or idle client, the parser the sizes.
    http::request_parser<http::string_body> parser;
    parser.body_limit(self.options_.body_limit);
    tcp_stream.expires_after(self.options_.read_timeout);
    auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, kUseAwaitable);
    if (self.stopped_) co_return;
    if (read_ec) {
      // A malformed or oversized request gets an answer, then the connection closes.
      const std::optional<http::status> status = status_for_read_error(read_ec);
      if (read_ec == http::error::end_of_stream) shutdown_send(tcp_stream);
      if (!status) co_return;
      spdlog::debug("admin server: refusing a request: {}", read_ec.message());
      Response res = refusal(*status);
      tcp_stream.expires_after(self.options_.read_timeout);
      co_await http::async_write(stream, res, kUseAwaitable);
      if (self.stopped_) co_return;
      co_await finish_sending(stream);
      co_return;
    }

    // Answer it; keep the connection only if both sides want to.
    Response res = respond(parser.get(), self.metrics_, self.ready_, self.reload_);
    tcp_stream.expires_after(self.options_.read_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, res, kUseAwaitable);
    if (write_ec || self.stopped_) co_return;
    if (!res.keep_alive()) {
      co_await finish_sending(stream);
      co_return;
    }
  }
}

void AdminServer::Impl::close_all() {
  stopped_ = true;
  beast::error_code ignored;
  if (acceptor_ != nullptr) acceptor_->close(ignored);
  // Closing completes pending operations with operation_aborted; it never runs their handlers
  // inline, so the set does not change while we iterate.
  for (beast::tcp_stream* stream : connections_) stream->close();
}

AdminServer::AdminServer(boost::asio::any_io_executor executor, const metrics::Metrics& metrics,
                         std::function<bool()> ready, AdminServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), metrics, std::move(ready),
                                   std::move(options))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::set_reload(std::function<std::pair<bool, std::string>()> reload) {
  impl_->reload_ = std::move(reload);
}

std::uint16_t AdminServer::start(const std::string& host_port) {
  if (impl_->stop_requested_) throw std::logic_error("admin server: start() after stop()");
  if (impl_->started_.exchange(true)) throw std::logic_error("admin server: started twice");
  try {
    const tcp::endpoint endpoint = listen_endpoint(host_port, impl_->strand_);
    tcp::acceptor acceptor(impl_->strand_);
    boost::system::error_code ec;
    // Each step names its own failure; all of them leave the acceptor closed.
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail_listen(host_port, ec.message());
    const std::uint16_t port = acceptor.local_endpoint(ec).port();
    if (ec) fail_listen(host_port, ec.message());

    // The acceptor moves into the loop's frame; from now on only the strand touches it.
    asio::co_spawn(impl_->strand_, Impl::accept_loop(impl_, std::move(acceptor)),
                   log_failure("accept loop"));
    spdlog::info("admin server listening on {} (port {}{})", host_port, port,
                 impl_->tls_ ? ", HTTPS" : "");
    return port;
  } catch (...) {
    impl_->started_ = false;
    throw;
  }
}

void AdminServer::stop() {
  if (impl_->stop_requested_.exchange(true)) return;
  asio::post(impl_->strand_, [self = impl_] { self->close_all(); });
}

}  // namespace orch::admin
