#pragma once
/// What a configuration reload (SIGHUP or the admin port's POST /reload) may change while the
/// daemon runs, and what waits for a restart.
///
/// Live: tenants (added, removed, tokens and every quota), every `limits:` key but
/// max_grpc_message_bytes, log_level and shutdown_grace. Restart only: listen, admin_listen,
/// threads, retention, http.ca_file and limits.max_grpc_message_bytes; a reload keeps their
/// running values and reports them, so nothing is silently ignored.
///
/// Thread-safety: pure functions.

#include <string>
#include <vector>

#include "orch/config/config.h"

namespace orch::config {

struct ReloadPlan {
  /// What the daemon runs with from now on: the new configuration, except that keys needing a
  /// restart keep their running values.
  Config effective;
  /// Keys whose new value waits for a restart, e.g. "listen", "limits.max_grpc_message_bytes".
  std::vector<std::string> restart_needed;
  std::vector<std::string> tenants_added;
  std::vector<std::string> tenants_removed;
  std::vector<std::string> tenants_changed;
  /// Other keys that changed and apply at once, e.g. "limits.max_batch", "log_level".
  std::vector<std::string> changed;

  /// Whether the reload changes nothing that runs (restart_needed may still be set).
  bool no_live_change() const;
  /// One line for the log and the admin endpoint, e.g. "tenants changed: alpha; limits
  /// changed: limits.max_batch; needs a restart: listen".
  std::string summary() const;
};

/// Compares the running configuration with a newly read (and validated) one.
ReloadPlan plan_reload(const Config& running, const Config& next);

}  // namespace orch::config
