#pragma once
/// Tenants and their bearer tokens: which tenant is calling, from the `authorization`
/// metadata of a request and, with mTLS, the names of its client certificate.
///
/// Thread-safety: every member may be called from any thread at once. replace() swaps the whole
/// set of tenants atomically; a caller keeps the TenantConfig it authenticated as (a shared
/// snapshot) until it lets go, so a reload never changes a call in flight. sha256 and
/// sha256_hex are pure.

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
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

/// One tenant's configuration as it was when looked up; it outlives a reload that changes it.
using TenantPtr = std::shared_ptr<const config::TenantConfig>;

/// The configured tenants, looked up by token or by name.
class TenantRegistry {
 public:
  /// Copies `tenants`. Throws std::invalid_argument if they cannot be told apart: two with the
  /// same name, the same token digest or the same client certificate name, or more than one
  /// without a token (parse_config already refuses all of these, so this is an always-on check
  /// of its invariant).
  explicit TenantRegistry(std::vector<config::TenantConfig> tenants);

  /// Replaces every tenant at once (a configuration reload): new tokens, quotas and tenants
  /// apply to the next lookup; a removed tenant authenticates no more. Throws
  /// std::invalid_argument as the constructor does, and then nothing changes.
  void replace(std::vector<config::TenantConfig> tenants);

  /// Which tenant is calling. `authorization` is the raw `authorization` metadata value, or
  /// nullopt when the request has none.
  ///  - absent: the token-less tenant if one is configured, else an error;
  ///  - "Bearer TOKEN" (scheme case-insensitive, TOKEN without whitespace): the tenant whose
  ///    token_sha256 is SHA-256(TOKEN), else an error (never the token-less tenant);
  ///  - anything else, including "": an error.
  /// Returns the tenant, or an Error with code kUnauthenticated and a message fit for the
  /// caller that never contains the token. The digest is compared with every tenant's in
  /// constant time, so timing reveals neither a token nor which tenant matched.
  engine::Result<TenantPtr> authenticate(std::optional<std::string_view> authorization) const;

  /// The same with the names of the caller's verified client certificate (its common name and
  /// subject alternative names; empty without one), matched exactly against the tenants'
  /// `client_cert_names`:
  ///  - with a token: the token's tenant, as above; if the certificate names a tenant as well,
  ///    it must be the same one, else an error;
  ///  - without a token: the tenant the certificate names; an error if it names two; if it
  ///    names none, the token-less tenant if one is configured, else an error.
  engine::Result<TenantPtr> authenticate(std::optional<std::string_view> authorization,
                                         const std::vector<std::string>& cert_names) const;

  /// All tenants, in configuration order (a copy of the current set).
  std::vector<config::TenantConfig> tenants() const;

  /// The tenant called `name`, or nullptr.
  TenantPtr find(std::string_view name) const;

 private:
  struct Snapshot {
    std::vector<TenantPtr> tenants;
    std::optional<std::size_t> tokenless;  // index of the tenant without a token
    bool any_cert_names = false;           // some tenant has client_cert_names
  };
  static std::shared_ptr<const Snapshot> make_snapshot(std::vector<config::TenantConfig> tenants);
  std::shared_ptr<const Snapshot> snapshot() const;

  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace orch::tenants
