#include "orch/config/reload.h"

#include <algorithm>
#include <functional>

namespace orch::config {
namespace {

// Each `limits:` key with how to read it; `restart` marks the keys read only at start-up.
struct LimitField {
  const char* key;
  std::function<bool(const Limits&, const Limits&)> differs;
  bool restart = false;
};

template <auto Member>
std::function<bool(const Limits&, const Limits&)> member_differs() {
  return [](const Limits& a, const Limits& b) { return a.*Member != b.*Member; };
}

const std::vector<LimitField>& limit_fields() {
  static const std::vector<LimitField> fields = {
      {"max_spec_depth", member_differs<&Limits::max_spec_depth>()},
      {"max_spec_nodes", member_differs<&Limits::max_spec_nodes>()},
      {"max_labels", member_differs<&Limits::max_labels>()},
      {"max_label_bytes", member_differs<&Limits::max_label_bytes>()},
      {"max_batch", member_differs<&Limits::max_batch>()},
      {"max_duration", member_differs<&Limits::max_duration>()},
      {"max_lease_ttl", member_differs<&Limits::max_lease_ttl>()},
      {"max_exec_output_bytes", member_differs<&Limits::max_exec_output_bytes>()},
      {"exec_kill_grace", member_differs<&Limits::exec_kill_grace>()},
      {"max_http_response_bytes", member_differs<&Limits::max_http_response_bytes>()},
      {"default_http_response_bytes", member_differs<&Limits::default_http_response_bytes>()},
      {"default_http_connect_timeout", member_differs<&Limits::default_http_connect_timeout>()},
      {"default_http_timeout", member_differs<&Limits::default_http_timeout>()},
      {"max_grpc_message_bytes", member_differs<&Limits::max_grpc_message_bytes>(), true},
      {"max_streams_per_tenant", member_differs<&Limits::max_streams_per_tenant>()},
      {"max_waiting_rpcs_per_tenant", member_differs<&Limits::max_waiting_rpcs_per_tenant>()},
  };
  return fields;
}

const TenantConfig* find(const std::vector<TenantConfig>& tenants, const std::string& name) {
  auto it = std::find_if(tenants.begin(), tenants.end(),
                         [&](const TenantConfig& t) { return t.name == name; });
  return it == tenants.end() ? nullptr : &*it;
}

void append(std::string& out, const char* title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  if (!out.empty()) out += "; ";
  out += title;
  out += ": ";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
}

}  // namespace

bool ReloadPlan::no_live_change() const {
  return tenants_added.empty() && tenants_removed.empty() && tenants_changed.empty() &&
         changed.empty();
}

std::string ReloadPlan::summary() const {
  std::string out;
  append(out, "tenants added", tenants_added);
  append(out, "tenants removed", tenants_removed);
  append(out, "tenants changed", tenants_changed);
  append(out, "changed", changed);
  append(out, "needs a restart (running value kept)", restart_needed);
  return out.empty() ? "no change" : out;
}

ReloadPlan plan_reload(const Config& running, const Config& next) {
  ReloadPlan plan;
  plan.effective = next;
  Config& effective = plan.effective;

  // Read once at start-up: keep the running value, say that it waits for a restart.
  const auto keep = [&](const char* key, auto Config::*member) {
    if (running.*member != next.*member) {
      plan.restart_needed.emplace_back(key);
      effective.*member = running.*member;
    }
  };
  keep("listen", &Config::listen);
  keep("admin_listen", &Config::admin_listen);
  keep("threads", &Config::threads);
  keep("retention", &Config::retention);
  keep("http.ca_file", &Config::http);
  // The certificate files are read once, and the listeners' security is fixed when they open.
  keep("tls", &Config::tls);
  keep("admin_tls", &Config::admin_tls);
  keep("allow_plaintext_tokens", &Config::allow_plaintext_tokens);

  if (running.log_level != next.log_level) plan.changed.emplace_back("log_level");
  if (running.shutdown_grace != next.shutdown_grace) plan.changed.emplace_back("shutdown_grace");

  for (const auto& field : limit_fields()) {
    if (!field.differs(running.limits, next.limits)) continue;
    const std::string key = std::string("limits.") + field.key;
    if (field.restart) {
      plan.restart_needed.push_back(key);
    } else {
      plan.changed.push_back(key);
    }
  }
  effective.limits.max_grpc_message_bytes = running.limits.max_grpc_message_bytes;

  for (const auto& tenant : next.tenants) {
    const TenantConfig* before = find(running.tenants, tenant.name);
    if (!before) {
      plan.tenants_added.push_back(tenant.name);
    } else if (!(*before == tenant)) {
      plan.tenants_changed.push_back(tenant.name);
    }
  }
  for (const auto& tenant : running.tenants) {
    if (!find(next.tenants, tenant.name)) plan.tenants_removed.push_back(tenant.name);
  }
  return plan;
}

}  // namespace orch::config
