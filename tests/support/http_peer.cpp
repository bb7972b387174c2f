#include "http_peer.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "subprocess.h"

namespace orch::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string PeerRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

// Members are destroyed in reverse order: the io_context (and with it every connection still
// open) goes before the TLS context its streams use and the records.
struct HttpPeer::Impl {
  PeerHandler handler;
  std::optional<ssl::context> tls;
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<PeerRequest> requests;
  std::size_t connections = 0;
  std::size_t client_closes = 0;
  asio::io_context io;
  tcp::acceptor acceptor{io};

  std::size_t record(PeerRequest request) {
    std::lock_guard lock(mutex);
    requests.push_back(std::move(request));
    changed.notify_all();
    return requests.size() - 1;
  }

  void count_client_close() {
    std::lock_guard lock(mutex);
    ++client_closes;
    changed.notify_all();
  }

  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, const std::string& sni) {
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kAwait);
    if (read_ec) co_return;
    const auto& message = parser.get();
    PeerRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = message.body();
    request.sni = sni;
    const std::size_t index = record(request);
    const PeerReply reply = handler(request, index);

    if (reply.delay.count() > 0) {
      asio::steady_timer timer(io, reply.delay);
      co_await timer.async_wait(kAwait);
    }
    if (reply.close_without_reply) co_return;
    if (reply.hang) {
      // Until the client goes away: a read that ends with EOF or a reset.
      char byte = 0;
      for (;;) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(&byte, 1), kAwait);
        if (ec) break;
      }
      count_client_close();
      co_return;
    }

    http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
    if (!reply.reason.empty()) response.reason(reply.reason);
    for (const auto& [name, value] : reply.headers) response.insert(name, value);
    response.keep_alive(false);
    if (reply.endless) {
      response.chunked(true);
      http::response_serializer<http::string_body> serializer(response);
      auto [header_ec, header_bytes] =
          co_await http::async_write_header(stream, serializer, kAwait);
      const std::string chunk(16 * 1024, 'x');
      while (!header_ec) {
        auto [ec, n] =
            co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)), kAwait);
        if (ec) break;
      }
      count_client_close();
      co_return;
    }
    response.body() = reply.body;
    if (reply.chunked) {
      response.chunked(true);
    } else {
      response.prepare_payload();
    }
    co_await http::async_write(stream, response, kAwait);
  }

  asio::awaitable<void> connection(tcp::socket socket) {
    if (!tls) {
      const std::string no_sni;
      co_await serve(socket, no_sni);
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kAwait);
    if (ec) co_return;
    const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    // (Bound to a name first: GCC 12 mishandles such temporaries inside a co_await expression.)
    const std::string sni = name != nullptr ? name : "";
    co_await serve(stream, sni);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kAwait);
      if (ec) co_return;
      {
        std::lock_guard lock(mutex);
        ++connections;
      }
      asio::co_spawn(io, connection(std::move(socket)), asio::detached);
    }
  }

  template <typename Predicate>
  bool wait(std::chrono::milliseconds timeout, Predicate predicate) const {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, predicate);
  }
};

HttpPeer::HttpPeer(PeerHandler handler, std::optional<PeerTls> tls)
    : impl_(std::make_shared<Impl>()) {
  impl_->handler = std::move(handler);
  if (tls) {
    impl_->tls.emplace(ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(tls->cert_file);
    impl_->tls->use_private_key_file(tls->key_file, ssl::context::pem);
  }
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  thread_ = std::thread([impl = impl_.get()] { impl->io.run(); });
}

HttpPeer::~HttpPeer() {
  impl_->io.stop();
  thread_.join();
}

std::uint16_t HttpPeer::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string HttpPeer::url(const std::string& path, const std::string& host) const {
  return std::string(impl_->tls ? "https://" : "http://") + host + ":" + std::to_string(port()) +
         path;
}

std::vector<PeerRequest> HttpPeer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t HttpPeer::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

bool HttpPeer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  return impl_->wait(timeout, [&] { return impl_->requests.size() >= n; });
}

bool HttpPeer::wait_for_client_closes(std::size_t n, std::chrono::milliseconds timeout) const {
  return impl_->wait(timeout, [&] { return impl_->client_closes >= n; });
}

std::uint16_t unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // closed on return: nothing listens there
}

SilentListener::SilentListener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd_, 16) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot listen on loopback");
  }
  port_ = ntohs(address.sin_port);
}

SilentListener::~SilentListener() { ::close(fd_); }

namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run_command(argv);
  if (result.exit_code != 0) throw std::runtime_error("openssl failed: " + describe(result));
}

void make_ca(const std::string& dir, const std::string& name, const std::string& subject) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days", "2",
           "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
}

// A certificate `name`.pem (CN=name) and its key `name`.key, signed by the CA `ca`.pem.
void make_leaf(const std::string& dir, const std::string& name, const std::string& san,
               const std::string& usage = "serverAuth", const std::string& ca = "ca") {
  const std::string base = dir + "/" + name;
  openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=" + name});
  {
    std::ofstream ext(base + ".ext");
    if (!san.empty()) ext << "subjectAltName=" << san << "\n";
    ext << "basicConstraints=CA:FALSE\n"
        << "keyUsage=critical,digitalSignature\nextendedKeyUsage=" << usage << "\n";
  }
  openssl({"x509", "-req", "-in", base + ".csr", "-CA", dir + "/" + ca + ".pem", "-CAkey",
           dir + "/" + ca + ".key", "-CAcreateserial", "-out", base + ".pem", "-days", "2",
           "-extfile", base + ".ext"});
}

}  // namespace

TestPki::TestPki() : dir_(make_temp_dir("orch-pki")) {
  make_ca(dir_, "ca", "/CN=orchestrd test CA");
  make_leaf(dir_, "server", "IP:127.0.0.1,DNS:localhost");
  make_leaf(dir_, "other", "DNS:other.example");
}

PeerTls TestPki::client(const std::string& name, const std::string& san) const {
  make_leaf(dir_, name, san, "clientAuth");
  return {dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
}

std::string TestPki::foreign_ca_file() const {
  const std::string file = dir_ + "/foreign-ca.pem";
  if (!std::filesystem::exists(file)) make_ca(dir_, "foreign-ca", "/CN=orchestrd foreign CA");
  return file;
}

PeerTls TestPki::foreign_client(const std::string& name, const std::string& san) const {
  foreign_ca_file();
  make_leaf(dir_, name, san, "clientAuth", "foreign-ca");
  return {dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace orch::test
