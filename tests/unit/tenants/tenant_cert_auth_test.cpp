// mTLS: the tenant picked by the names of a verified client certificate.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "orch/tenants/tenant_registry.h"

namespace orch::tenants {
namespace {

using config::TenantConfig;
using Names = std::vector<std::string>;

TenantConfig tenant(std::string name, std::optional<std::string_view> token, Names cert_names) {
  TenantConfig config;
  config.name = std::move(name);
  if (token) config.token_sha256 = sha256(*token);
  config.client_cert_names = std::move(cert_names);
  return config;
}

// alpha: a token and two certificate names; beta: a token and one; gamma: a token only.
std::vector<TenantConfig> mapped_tenants() {
  return {tenant("alpha", "alpha-secret", {"alpha.clients.example", "alpha-client"}),
          tenant("beta", "beta-secret", {"beta-client"}),
          tenant("gamma", "gamma-secret", {})};
}

// The tenant's name, or "" (and the message) when authentication failed.
std::string name_of(const engine::Result<TenantPtr>& result) {
  if (!result.has_value()) {
    ADD_FAILURE() << "not authenticated: " << result.error().message;
    return "";
  }
  return (*result)->name;
}

std::string error_of(const engine::Result<TenantPtr>& result) {
  if (result.has_value()) {
    ADD_FAILURE() << "authenticated as tenant " << (*result)->name;
    return "";
  }
  EXPECT_EQ(result.error().code, engine::ErrorCode::kUnauthenticated);
  return result.error().message;
}

TEST(CertAuth, ACertificateNameActsAsItsTenantWithoutAToken) {
  const TenantRegistry registry(mapped_tenants());
  // The common name or any subject alternative name may match.
  EXPECT_EQ(name_of(registry.authenticate(std::nullopt, {"alpha-client"})), "alpha");
  EXPECT_EQ(name_of(registry.authenticate(std::nullopt, {"some-cn", "alpha.clients.example"})), "alpha");
  EXPECT_EQ(name_of(registry.authenticate(std::nullopt, {"beta-client", "beta.example"})), "beta");
  // Exact matches only.
  EXPECT_EQ(error_of(registry.authenticate(std::nullopt, {"Alpha-Client"})),
            "no authorization metadata, and no tenant has the client certificate's names "
            "(Alpha-Client) in client_cert_names");
  EXPECT_EQ(error_of(registry.authenticate(std::nullopt, {"x.alpha.clients.example", "other"})),
            "no authorization metadata, and no tenant has the client certificate's names "
            "(x.alpha.clients.example, other) in client_cert_names");
}

TEST(CertAuth, ACertificateNamingTwoTenantsIsRefused) {
  const TenantRegistry registry(mapped_tenants());
  EXPECT_EQ(error_of(registry.authenticate(std::nullopt, {"alpha-client", "beta-client"})),
            "the client certificate names tenants alpha and beta; it may name only one");
  EXPECT_EQ(error_of(registry.authenticate("Bearer alpha-secret", {"alpha-client", "beta-client"})),
            "the client certificate names tenants alpha and beta; it may name only one");
}

TEST(CertAuth, ATokenMustAgreeWithTheCertificate) {
  const TenantRegistry registry(mapped_tenants());
  EXPECT_EQ(name_of(registry.authenticate("Bearer alpha-secret", {"alpha-client"})), "alpha");
  EXPECT_EQ(error_of(registry.authenticate("Bearer beta-secret", {"alpha-client"})),
            "the token and the client certificate belong to different tenants");
  // A certificate that names no tenant leaves the choice to the token.
  EXPECT_EQ(name_of(registry.authenticate("Bearer gamma-secret", {"gateway.example"})), "gamma");
  EXPECT_EQ(error_of(registry.authenticate("Bearer wrong", {"alpha-client"})), "unknown token");
}

TEST(CertAuth, AnUnmappedCertificateFallsBackToTheTokenlessTenant) {
  std::vector<TenantConfig> tenants = mapped_tenants();
  tenants.push_back(tenant("open", std::nullopt, {}));
  const TenantRegistry registry(std::move(tenants));
  EXPECT_EQ(name_of(registry.authenticate(std::nullopt, {"gateway.example"})), "open");
  EXPECT_EQ(name_of(registry.authenticate(std::nullopt, {"beta-client"})), "beta");
  EXPECT_EQ(name_of(registry.authenticate(std::nullopt, Names{})), "open");
}

TEST(CertAuth, WithoutACertificateNothingChanges) {
  const TenantRegistry registry(mapped_tenants());
  EXPECT_EQ(name_of(registry.authenticate("Bearer beta-secret", Names{})), "beta");
  EXPECT_EQ(error_of(registry.authenticate(std::nullopt, Names{})),
            error_of(registry.authenticate(std::nullopt)));
}

TEST(CertAuth, LongNameListsAreCutInMessages) {
  const TenantRegistry registry(mapped_tenants());
  const std::string message =
      error_of(registry.authenticate(std::nullopt, {std::string(500, 'x')}));
  EXPECT_LT(message.size(), 320u) << message;
  EXPECT_NE(message.find("xxx..."), std::string::npos) << message;
}

TEST(CertAuth, TheRegistryRefusesACertificateNameOfTwoTenants) {
  EXPECT_THROW(TenantRegistry({tenant("a", "a-secret", {"shared"}),
                               tenant("b", "b-secret", {"other", "shared"})}),
               std::invalid_argument);
}

}  // namespace
}  // namespace orch::tenants
