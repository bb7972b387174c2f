#include "orch/tenants/tenant_registry.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace orch::tenants {
namespace {

constexpr std::string_view kBearerScheme = "bearer";
// Certificate names quoted in an error are cut after this many bytes.
constexpr std::size_t kMaxQuotedNames = 200;

bool is_space(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// The TOKEN of "Bearer TOKEN" (RFC 6750 §2.1, scheme case-insensitive), or nullopt.
std::optional<std::string_view> bearer_token(std::string_view value) {
  while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
  const auto space = std::find_if(value.begin(), value.end(), is_space);
  if (!equals_ignoring_case(std::string_view(value.begin(), space), kBearerScheme)) {
    return std::nullopt;
  }
  const auto token_begin = std::find_if_not(space, value.end(), is_space);
  const std::string_view token(token_begin, value.end());
  if (token.empty() || std::any_of(token.begin(), token.end(), is_space)) return std::nullopt;
  return token;
}

engine::Error unauthenticated(std::string message) {
  return engine::make_error(engine::ErrorCode::kUnauthenticated, std::move(message));
}

}  // namespace

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  return digest;
}

std::string sha256_hex(std::string_view data) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (const unsigned char byte : sha256(data)) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0x0f];
  }
  return hex;
}

TenantRegistry::TenantRegistry(std::vector<config::TenantConfig> tenants)
    : snapshot_(make_snapshot(std::move(tenants))) {}

std::shared_ptr<const TenantRegistry::Snapshot> TenantRegistry::make_snapshot(
    std::vector<config::TenantConfig> tenants) {
  auto snapshot = std::make_shared<Snapshot>();
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    const config::TenantConfig& tenant = tenants[i];
    if (!tenant.token_sha256) {
      if (snapshot->tokenless) {
        throw std::invalid_argument("tenants " + tenants[*snapshot->tokenless].name + " and " +
                                    tenant.name + " both have no token");
      }
      snapshot->tokenless = i;
    }
    if (!tenant.client_cert_names.empty()) snapshot->any_cert_names = true;
    for (std::size_t j = 0; j < i; ++j) {
      if (tenants[j].name == tenant.name) {
        throw std::invalid_argument("two tenants are named " + tenant.name);
      }
      if (tenant.token_sha256 && tenant.token_sha256 == tenants[j].token_sha256) {
        throw std::invalid_argument("tenants " + tenants[j].name + " and " + tenant.name +
                                    " have the same token");
      }
      for (const auto& name : tenant.client_cert_names) {
        const auto& other = tenants[j].client_cert_names;
        if (std::find(other.begin(), other.end(), name) != other.end()) {
          throw std::invalid_argument("tenants " + tenants[j].name + " and " + tenant.name +
                                      " have the same client certificate name " + name);
        }
      }
    }
  }
  snapshot->tenants.reserve(tenants.size());
  for (auto& tenant : tenants) {
    snapshot->tenants.push_back(std::make_shared<const config::TenantConfig>(std::move(tenant)));
  }
  return snapshot;
}

void TenantRegistry::replace(std::vector<config::TenantConfig> tenants) {
  auto next = make_snapshot(std::move(tenants));
  std::lock_guard lock(mutex_);
  snapshot_.swap(next);
}

std::shared_ptr<const TenantRegistry::Snapshot> TenantRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

engine::Result<TenantPtr> TenantRegistry::authenticate(
    std::optional<std::string_view> authorization) const {
  const auto current = snapshot();
  if (!authorization) {
    if (current->tokenless) return current->tenants[*current->tokenless];
    return unauthenticated("no authorization metadata; send \"authorization: Bearer <token>\"");
  }
  const auto token = bearer_token(*authorization);
  if (!token) {
    return unauthenticated("malformed authorization metadata; expected \"Bearer <token>\"");
  }
  const auto digest = sha256(*token);
  // Look at every tenant without stopping at a match, so timing does not tell which one it was.
  std::optional<std::size_t> match;
  for (std::size_t i = 0; i < current->tenants.size(); ++i) {
    const auto& expected = current->tenants[i]->token_sha256;
    if (expected && CRYPTO_memcmp(expected->data(), digest.data(), digest.size()) == 0) match = i;
  }
  if (!match) return unauthenticated("unknown token");
  return current->tenants[*match];
}

std::vector<config::TenantConfig> TenantRegistry::tenants() const {
  std::vector<config::TenantConfig> out;
  for (const auto& tenant : snapshot()->tenants) out.push_back(*tenant);
  return out;
}

TenantPtr TenantRegistry::find(std::string_view name) const {
  for (const auto& tenant : snapshot()->tenants) {
    if (tenant->name == name) return tenant;
  }
  return nullptr;
}

engine::Result<TenantPtr> TenantRegistry::authenticate(
    std::optional<std::string_view> authorization,
    const std::vector<std::string>& cert_names) const {
  // The tenants the certificate names (a tenant once, however many of its names match).
  const auto current = snapshot();
  std::vector<std::size_t> named;
  if (current->any_cert_names) {
    for (std::size_t i = 0; i < current->tenants.size(); ++i) {
      const auto& mine = current->tenants[i]->client_cert_names;
      const bool match = std::any_of(cert_names.begin(), cert_names.end(), [&](const auto& name) {
        return std::find(mine.begin(), mine.end(), name) != mine.end();
      });
      if (match) named.push_back(i);
    }
  }
  if (named.size() > 1) {
    return unauthenticated("the client certificate names tenants " +
                           current->tenants[named[0]]->name + " and " +
                           current->tenants[named[1]]->name + "; it may name only one");
  }
  if (authorization) {
    auto by_token = authenticate(authorization);
    if (by_token && !named.empty() &&
        (*by_token)->name != current->tenants[named.front()]->name) {
      return unauthenticated("the token and the client certificate belong to different tenants");
    }
    return by_token;
  }
  if (!named.empty()) return current->tenants[named.front()];
  if (current->tokenless) return current->tenants[*current->tokenless];
  if (cert_names.empty()) return authenticate(std::nullopt);
  std::string names;
  for (const auto& name : cert_names) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  if (names.size() > kMaxQuotedNames) names = names.substr(0, kMaxQuotedNames) + "...";
  return unauthenticated("no authorization metadata, and no tenant has the client certificate's "
                         "names (" + names + ") in client_cert_names");
}

}  // namespace orch::tenants
