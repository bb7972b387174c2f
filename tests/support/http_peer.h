#pragma once
/// HttpPeer: a scripted HTTP/1.1 server on 127.0.0.1 port 0, plain or TLS, that tests of http
/// nodes talk to. It runs on its own thread; a handler decides each reply, and the peer records
/// every request and whether the client closed a connection the peer was still holding open
/// (a hanging or endless reply), which is how a test sees that a cancelled attempt really
/// stopped.
///
///   HttpPeer peer([](const PeerRequest& r, std::size_t n) {
///     return n < 2 ? PeerReply{.status = 503} : PeerReply{.body = "ok"};
///   });
///   peer.url("/path")   // "http://127.0.0.1:PORT/path"
///
/// Thread-safety: every member may be called from the test's thread while the peer serves; the
/// handler runs on the peer's thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace orch::test {

using PeerHeaders = std::vector<std::pair<std::string, std::string>>;

struct PeerRequest {
  std::string method;
  std::string target;
  PeerHeaders headers;
  std::string body;
  /// TLS peers: the server name the client sent (SNI); "" when it sent none.
  std::string sni;

  /// The first value of header `name` (any case); "" when absent.
  std::string header(std::string_view name) const;
};

struct PeerReply {
  unsigned status = 200;
  std::string reason;  // empty: the standard phrase
  PeerHeaders headers;
  std::string body;
  bool chunked = false;  // send `body` with chunked transfer encoding
  /// Wait this long before replying.
  std::chrono::milliseconds delay{0};
  /// Never reply: hold the connection until the client closes it.
  bool hang = false;
  /// After the headers, send chunks of 'x' until the client closes the connection.
  bool endless = false;
  /// Close the connection without a reply.
  bool close_without_reply = false;
};

using PeerHandler = std::function<PeerReply(const PeerRequest& request, std::size_t index)>;

/// Paths of a PEM certificate chain and its key, for a TLS peer.
struct PeerTls {
  std::string cert_file;
  std::string key_file;
};

class HttpPeer {
 public:
  /// Starts serving at once. `handler` gets each request and its index (from 0, in arrival
  /// order). With `tls`, every connection starts with a TLS handshake.
  explicit HttpPeer(PeerHandler handler, std::optional<PeerTls> tls = std::nullopt);
  ~HttpPeer();
  HttpPeer(const HttpPeer&) = delete;
  HttpPeer& operator=(const HttpPeer&) = delete;

  std::uint16_t port() const;
  /// "http://127.0.0.1:PORT" + path (https:// for a TLS peer); `host` replaces 127.0.0.1.
  std::string url(const std::string& path = "/", const std::string& host = "127.0.0.1") const;

  /// Every request read so far, in arrival order.
  std::vector<PeerRequest> requests() const;
  /// Connections accepted so far.
  std::size_t connections() const;
  /// Waits until `n` requests have been read; false after `timeout`.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  /// Waits until the client has closed `n` connections that the peer held open (hang or
  /// endless replies); false after `timeout`.
  bool wait_for_client_closes(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

/// A loopback port that nothing listens on: bound, read, closed.
std::uint16_t unused_port();

/// A loopback port that listens but never accepts: the kernel completes connections, and then
/// nothing is ever read or written (a stalled TLS handshake, a server that never answers).
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// A CA and certificates made with the openssl CLI in a fresh temporary directory, removed by
/// the destructor: `server` for 127.0.0.1 and localhost, `other` for other.example only, both
/// signed by `ca_file`; client certificates on demand. Throws std::runtime_error when openssl
/// fails.
class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  PeerTls server() const { return {dir_ + "/server.pem", dir_ + "/server.key"}; }
  PeerTls other() const { return {dir_ + "/other.pem", dir_ + "/other.key"}; }

  /// A client certificate (extendedKeyUsage clientAuth) with CN=`name` and the subjectAltName
  /// `san` ("DNS:a.example,URI:spiffe://x"; empty: none), signed by ca_file(); its files are
  /// `name`.pem and `name`.key.
  PeerTls client(const std::string& name, const std::string& san = {}) const;
  /// The same, signed by a second CA (foreign-ca.pem) that ca_file() knows nothing of.
  PeerTls foreign_client(const std::string& name, const std::string& san = {}) const;
  /// A self-signed CA made on first use, unrelated to ca_file().
  std::string foreign_ca_file() const;

 private:
  std::string dir_;
};

}  // namespace orch::test
