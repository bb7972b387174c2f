#include "orch/tenants/tenant_registry.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace orch::tenants {
namespace {

using config::TenantConfig;

TenantConfig tenant(std::string name, std::optional<std::string_view> token) {
  TenantConfig config;
  config.name = std::move(name);
  if (token) config.token_sha256 = sha256(*token);
  return config;
}

// alpha and beta have tokens; `open` has none.
TenantRegistry registry_with_tokenless_tenant() {
  return TenantRegistry({tenant("alpha", "alpha-secret"), tenant("open", std::nullopt),
                         tenant("beta", "beta-secret")});
}

TenantRegistry registry_with_tokens_only() {
  return TenantRegistry({tenant("alpha", "alpha-secret"), tenant("beta", "beta-secret")});
}

// The error message of a failed authentication; fails the test if it succeeded.
std::string auth_error(const TenantRegistry& registry, std::optional<std::string_view> header) {
  const auto result = registry.authenticate(header);
  if (result.has_value()) {
    ADD_FAILURE() << "authenticated as tenant " << (*result)->name;
    return "";
  }
  EXPECT_EQ(result.error().code, engine::ErrorCode::kUnauthenticated);
  return result.error().message;
}

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("alpha-secret"),
            "3f8ad42d6dc52445378196cb2e49281f812253eaea7830fe46f4756f2ca0a3d4");
  const auto digest = sha256("abc");
  EXPECT_EQ(digest[0], 0xba);
  EXPECT_EQ(digest[31], 0xad);
}

TEST(TenantRegistry, RightTokenAuthenticatesItsTenant) {
  const TenantRegistry registry = registry_with_tokenless_tenant();
  EXPECT_EQ(registry.authenticate("Bearer alpha-secret").value()->name, "alpha");
  EXPECT_EQ(registry.authenticate("Bearer beta-secret").value()->name, "beta");
}

TEST(TenantRegistry, SchemeIsCaseInsensitiveAndSpacesAroundTheTokenAreAllowed) {
  const TenantRegistry registry = registry_with_tokens_only();
  for (const char* header : {"bearer beta-secret", "BEARER beta-secret", "BeArEr beta-secret",
                             "Bearer  beta-secret", "Bearer\tbeta-secret", "Bearer beta-secret "}) {
    const auto result = registry.authenticate(header);
    ASSERT_TRUE(result.has_value()) << header;
    EXPECT_EQ((*result)->name, "beta") << header;
  }
}

TEST(TenantRegistry, WrongTokenIsRefusedWithoutEchoingIt) {
  const TenantRegistry registry = registry_with_tokenless_tenant();
  for (const char* header : {"Bearer alpha-secreT", "Bearer alpha-secret2", "Bearer x"}) {
    const std::string message = auth_error(registry, header);
    EXPECT_EQ(message.find(std::string(header).substr(7)), std::string::npos) << message;
    EXPECT_FALSE(message.empty());
  }
}

TEST(TenantRegistry, WrongTokenNeverFallsBackToTheTokenlessTenant) {
  const TenantRegistry registry = registry_with_tokenless_tenant();
  EXPECT_FALSE(registry.authenticate("Bearer nope").has_value());
  EXPECT_FALSE(registry.authenticate("").has_value());
}

TEST(TenantRegistry, AbsentMetadataSelectsTheTokenlessTenant) {
  EXPECT_EQ(registry_with_tokenless_tenant().authenticate(std::nullopt).value()->name, "open");
  const TenantRegistry only_open({tenant("default", std::nullopt)});
  EXPECT_EQ(only_open.authenticate(std::nullopt).value()->name, "default");
}

TEST(TenantRegistry, AbsentMetadataIsRefusedWithoutATokenlessTenant) {
  const std::string message = auth_error(registry_with_tokens_only(), std::nullopt);
  EXPECT_NE(message.find("authorization"), std::string::npos) << message;
}

TEST(TenantRegistry, MalformedMetadataIsRefusedWithoutEchoingIt) {
  const TenantRegistry registry = registry_with_tokenless_tenant();
  for (const char* header :
       {"", " ", "Bearer", "Bearer ", "alpha-secret", "Basic alpha-secret",
        "Bearer alpha-secret extra", "Bearer: alpha-secret", "Bearerr alpha-secret"}) {
    const std::string message = auth_error(registry, header);
    EXPECT_NE(message.find("Bearer <token>"), std::string::npos) << header << ": " << message;
    EXPECT_EQ(message.find("alpha-secret"), std::string::npos) << message;
  }
}

TEST(TenantRegistry, FindsTenantsByName) {
  const TenantRegistry registry = registry_with_tokenless_tenant();
  ASSERT_NE(registry.find("beta"), nullptr);
  EXPECT_EQ(registry.find("beta")->name, "beta");
  EXPECT_EQ(registry.find("gamma"), nullptr);
  EXPECT_EQ(registry.find(""), nullptr);
  ASSERT_EQ(registry.tenants().size(), 3u);
  EXPECT_EQ(registry.tenants()[1].name, "open");
}

TEST(TenantRegistry, RefusesTenantsItCannotTellApart) {
  EXPECT_THROW(TenantRegistry({tenant("a", std::nullopt), tenant("b", std::nullopt)}),
               std::invalid_argument);
  EXPECT_THROW(TenantRegistry({tenant("a", "x"), tenant("a", "y")}), std::invalid_argument);
  EXPECT_THROW(TenantRegistry({tenant("a", "x"), tenant("b", "x")}), std::invalid_argument);
}

TEST(TenantRegistry, EmptyRegistryRefusesEveryone) {
  const TenantRegistry registry(std::vector<TenantConfig>{});
  EXPECT_FALSE(registry.authenticate(std::nullopt).has_value());
  EXPECT_FALSE(registry.authenticate("Bearer x").has_value());
}

TEST(TenantRegistry, ExampleConfigTokensAuthenticateTheirTenants) {
  const TenantRegistry registry(
      config::load_config(std::string(ORCH_TEST_SOURCE_DIR) + "/config/example.yaml").tenants);
  const auto alpha = registry.authenticate("Bearer alpha-secret");
  ASSERT_TRUE(alpha.has_value());
  EXPECT_EQ((*alpha)->name, "alpha");
  const auto beta = registry.authenticate("Bearer beta-secret");
  ASSERT_TRUE(beta.has_value());
  EXPECT_EQ((*beta)->name, "beta");
  EXPECT_FALSE(registry.authenticate(std::nullopt).has_value());
}

TEST(TenantRegistry, DefaultConfigLetsCallersInWithoutAToken) {
  const TenantRegistry registry(config::default_config().tenants);
  const auto index = registry.authenticate(std::nullopt);
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ((*index)->name, "default");
}

TEST(TenantRegistry, ReplaceSwapsTokensAndTenantsForTheNextLookup) {
  TenantRegistry registry = registry_with_tokenless_tenant();
  auto before = registry.authenticate("Bearer alpha-secret");
  ASSERT_TRUE(before.has_value());
  TenantConfig alpha = tenant("alpha", "alpha-rotated");
  alpha.max_concurrency = 3;
  registry.replace({alpha, tenant("gamma", "gamma-secret")});
  // The old token and the removed tenants are gone; the new ones are in.
  EXPECT_FALSE(registry.authenticate("Bearer alpha-secret").has_value());
  EXPECT_FALSE(registry.authenticate("Bearer beta-secret").has_value());
  EXPECT_FALSE(registry.authenticate(std::nullopt).has_value());
  EXPECT_EQ(registry.authenticate("Bearer alpha-rotated").value()->max_concurrency, 3u);
  EXPECT_EQ(registry.authenticate("Bearer gamma-secret").value()->name, "gamma");
  EXPECT_EQ(registry.find("beta"), nullptr);
  // A caller that authenticated before keeps the configuration it started with.
  EXPECT_EQ((*before)->max_concurrency, TenantConfig{}.max_concurrency);
}

TEST(TenantRegistry, ReplaceWithTenantsItCannotTellApartKeepsTheOldOnes) {
  TenantRegistry registry = registry_with_tokens_only();
  EXPECT_THROW(registry.replace({tenant("a", "x"), tenant("b", "x")}), std::invalid_argument);
  EXPECT_EQ(registry.authenticate("Bearer alpha-secret").value()->name, "alpha");
  EXPECT_EQ(registry.tenants().size(), 2u);
}

}  // namespace
}  // namespace orch::tenants
