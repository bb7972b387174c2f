#pragma once
/// Transport security of the daemon's listeners: the server's TLS files, read and checked at
/// start-up, and the rule for bearer tokens on plaintext listeners.
///
/// Thread-safety: pure functions (load_server_pem reads the files it is given).

#include <string>
#include <string_view>

#include "orch/config/config.h"

namespace orch::tls {

/// The PEM texts of `tls:`, each checked.
struct ServerPem {
  std::string cert_chain;  ///< tls.cert: one or more certificates, leaf first.
  std::string key;         ///< tls.key: the leaf's private key.
  std::string client_ca;   ///< tls.client_ca: CA certificates; empty without mTLS.
};

/// Reads tls.cert, tls.key and tls.client_ca and checks that they hold what they should: PEM
/// certificates, an unencrypted PEM private key, and a key that belongs to the first
/// certificate. Throws config::ConfigError with one line naming the key, e.g.
///   tls.key: /etc/orchestrd/server.key does not belong to the certificate in tls.cert
///   tls.cert: cannot read /etc/orchestrd/server.pem: No such file or directory
ServerPem load_server_pem(const config::TlsConfig& tls);

/// Whether a listener address (config `listen`, HOST:PORT) only accepts local connections:
/// a literal IPv4 address in 127.0.0.0/8, [::1] (or an IPv4-mapped loopback address), or the
/// name `localhost`. Everything else is not loopback, including 0.0.0.0, [::] and any other
/// name, since those accept (or may resolve to addresses that accept) other hosts.
bool is_loopback_listen(std::string_view host_port);

/// What a listener does with calls that carry a bearer token.
enum class TokenPolicy {
  kAccept,          ///< TLS, or a loopback listener: tokens never cross the network in clear.
  kAcceptInClear,   ///< Plaintext, not loopback, allowed by allow_plaintext_tokens (warned).
  kRefuse,          ///< Plaintext, not loopback: calls with a token are UNAUTHENTICATED.
};

TokenPolicy token_policy(std::string_view listen, bool tls, bool allow_plaintext_tokens);

}  // namespace orch::tls
