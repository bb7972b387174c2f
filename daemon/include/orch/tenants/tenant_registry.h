#pragma once
/// Tenants and their bearer tokens: which tenant is calling, from the `authorization`
/// metadata of a request and, with mTLS, the names of its client certificate.
///
/// Thread-safety: TenantRegistry is immutable after construction, so any number of threads may
/// call its const members at once; sha256 and sha256_hex are pure.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/config/config.h"
#include "orch/engine/error.h"

namespace orch::tenants {

/// Raw SHA-256 digest of `data` (what TenantConfig::token_sha256 holds for a token).
std::array<unsigned char, 32> sha256(std::string_view data);

/// Lower-case hex SHA-256 of `data`, as written in config files and by `sha256sum`.
std::string sha256_hex(std::string_view data);

/// The configured tenants, looked up by token or by name.
class TenantRegistry {
 public:
  /// Copies `tenants`. Throws std::invalid_argument if they cannot be told apart: two with the
  /// same name, the same token digest or the same client certificate name, or more than one
  /// without a token (parse_config already refuses all of these, so this is an always-on check
  /// of its invariant).
  explicit TenantRegistry(std::vector<config::TenantConfig> tenants);

  /// Which tenant is calling. `authorization` is the raw `authorization` metadata value, or
  /// nullopt when the request has none.
  ///  - absent: the token-less tenant if one is configured, else an error;
  ///  - "Bearer TOKEN" (scheme case-insensitive, TOKEN without whitespace): the tenant whose
  ///    token_sha256 is SHA-256(TOKEN), else an error (never the token-less tenant);
  ///  - anything else, including "": an error.
  /// Returns the tenant's index into tenants(), or an Error with code kUnauthenticated and a
  /// message fit for the caller that never contains the token. The digest is compared with
  /// every tenant's in constant time, so timing reveals neither a token nor which tenant matched.
  engine::Result<std::size_t> authenticate(std::optional<std::string_view> authorization) const;

  /// The same with the names of the caller's verified client certificate (its common name and
  /// subject alternative names; empty without one), matched exactly against the tenants'
  /// `client_cert_names`:
  ///  - with a token: the token's tenant, as above; if the certificate names a tenant as well,
  ///    it must be the same one, else an error;
  ///  - without a token: the tenant the certificate names; an error if it names two; if it
  ///    names none, the token-less tenant if one is configured, else an error.
  engine::Result<std::size_t> authenticate(std::optional<std::string_view> authorization,
                                           const std::vector<std::string>& cert_names) const;

  /// All tenants, in configuration order.
  const std::vector<config::TenantConfig>& tenants() const { return tenants_; }

  /// The tenant called `name`, or nullptr. The pointer lives as long as the registry.
  const config::TenantConfig* find(std::string_view name) const;

 private:
  std::vector<config::TenantConfig> tenants_;
  std::optional<std::size_t> tokenless_;  // index of the tenant without a token
  bool any_cert_names_ = false;            // some tenant has client_cert_names
};

}  // namespace orch::tenants
