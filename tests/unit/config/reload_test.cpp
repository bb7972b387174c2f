#include "orch/config/reload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace orch::config {
namespace {

using Keys = std::vector<std::string>;

Config two_tenants() {
  return parse_config(R"yaml(
listen: 127.0.0.1:0
tenants:
  - name: alpha
    token_sha256: 3f8ad42d6dc52445378196cb2e49281f812253eaea7830fe46f4756f2ca0a3d4
    max_concurrency: 4
  - name: beta
)yaml");
}

TEST(ReloadPlan, TheSameConfigurationChangesNothing) {
  const auto plan = plan_reload(two_tenants(), two_tenants());
  EXPECT_TRUE(plan.no_live_change());
  EXPECT_TRUE(plan.restart_needed.empty());
  EXPECT_EQ(plan.summary(), "no change");
  EXPECT_EQ(plan.effective, two_tenants());
}

TEST(ReloadPlan, TenantsAddedRemovedAndChangedAreNamed) {
  Config next = two_tenants();
  next.tenants[0].max_concurrency = 1;         // alpha changed
  next.tenants.erase(next.tenants.begin() + 1);  // beta removed
  TenantConfig gamma;
  gamma.name = "gamma";
  next.tenants.push_back(gamma);               // gamma added
  const auto plan = plan_reload(two_tenants(), next);
  EXPECT_EQ(plan.tenants_changed, Keys{"alpha"});
  EXPECT_EQ(plan.tenants_removed, Keys{"beta"});
  EXPECT_EQ(plan.tenants_added, Keys{"gamma"});
  EXPECT_EQ(plan.effective.tenants, next.tenants);
  EXPECT_FALSE(plan.no_live_change());
  EXPECT_EQ(plan.summary(), "tenants added: gamma; tenants removed: beta; tenants changed: alpha");
}

TEST(ReloadPlan, EveryTenantFieldCountsAsAChange) {
  Config next = two_tenants();
  next.tenants[1].allowed_kinds = {"sleep"};
  EXPECT_EQ(plan_reload(two_tenants(), next).tenants_changed, Keys{"beta"});
  next = two_tenants();
  next.tenants[0].token_sha256.reset();
  next.tenants[1].token_sha256 = std::array<unsigned char, 32>{};
  EXPECT_EQ(plan_reload(two_tenants(), next).tenants_changed, (Keys{"alpha", "beta"}));
}

TEST(ReloadPlan, LiveLimitsApplyAndAreNamed) {
  Config next = two_tenants();
  next.limits.max_batch = 5;
  next.limits.max_streams_per_tenant = 2;
  next.limits.max_waiting_rpcs_per_tenant = 3;
  next.log_level = "warn";
  next.shutdown_grace = std::chrono::seconds(1);
  const auto plan = plan_reload(two_tenants(), next);
  EXPECT_EQ(plan.changed, (Keys{"log_level", "shutdown_grace", "limits.max_batch",
                                "limits.max_streams_per_tenant",
                                "limits.max_waiting_rpcs_per_tenant"}));
  EXPECT_TRUE(plan.restart_needed.empty());
  EXPECT_EQ(plan.effective, next);
}

TEST(ReloadPlan, KeysReadAtStartUpKeepTheirRunningValueAndAskForARestart) {
  const Config running = two_tenants();
  Config next = running;
  next.listen = "127.0.0.1:7000";
  next.admin_listen = "127.0.0.1:7001";
  next.threads = 7;
  next.retention = std::chrono::minutes(5);
  next.http.ca_file = "/etc/ca.pem";
  next.limits.max_grpc_message_bytes = 4096;
  next.limits.max_labels = 3;  // live, applied alongside
  const auto plan = plan_reload(running, next);
  EXPECT_EQ(plan.restart_needed, (Keys{"listen", "admin_listen", "threads", "retention",
                                       "http.ca_file", "limits.max_grpc_message_bytes"}));
  EXPECT_EQ(plan.changed, Keys{"limits.max_labels"});
  EXPECT_EQ(plan.effective.listen, running.listen);
  EXPECT_EQ(plan.effective.admin_listen, running.admin_listen);
  EXPECT_EQ(plan.effective.threads, running.threads);
  EXPECT_EQ(plan.effective.retention, running.retention);
  EXPECT_EQ(plan.effective.http, running.http);
  EXPECT_EQ(plan.effective.limits.max_grpc_message_bytes, running.limits.max_grpc_message_bytes);
  EXPECT_EQ(plan.effective.limits.max_labels, 3u);
  EXPECT_NE(plan.summary().find("needs a restart (running value kept): listen, admin_listen"),
            std::string::npos)
      << plan.summary();
}

}  // namespace
}  // namespace orch::config
