#pragma once
/// The daemon's configuration: plain values read from YAML (config/orchestrd.yaml documents
/// every key). Parsing checks everything up front, so the rest of the daemon can trust these
/// values; a bad file throws ConfigError with one line that names the key and the problem:
///   config/orchestrd.yaml: tenants[1].max_concurrency: must be an integer between 1 and
///   1000000, got "abc"
///
/// Thread-safety: the structs are plain values; the functions are pure (load_config reads the
/// file it is given) and may be called from any thread.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "orch/common/duration.h"

namespace orch::config {

/// Every task kind a tenant can be allowed to spawn.
inline constexpr std::array<std::string_view, 6> kKnownKinds = {"sleep",  "http", "exec",
                                                                "worker", "send", "recv"};

/// One tenant: who it is, how it authenticates, and its quotas.
struct TenantConfig {
  std::string name;  ///< [a-z0-9_-]{1,64}, unique.
  /// SHA-256 of the tenant's bearer token; nullopt for the token-less tenant (at most one),
  /// which callers without `authorization` metadata act as.
  std::optional<std::array<unsigned char, 32>> token_sha256;
  std::uint32_t max_concurrency = 16;         ///< Tasks running at once, 1..1'000'000.
  std::uint32_t max_queued = 10'000;          ///< Tasks waiting for a permit, 0..100'000'000.
  std::uint32_t max_schedules = 100;          ///< Interval schedules, 0..100'000.
  std::uint32_t max_channels = 100;           ///< Open channels, 0..1'000'000.
  std::uint64_t max_message_bytes = 1 << 20;  ///< Largest channel message, 1..1 GiB.
  std::uint32_t max_mutexes = 1000;            ///< Named mutexes with state, 0..1'000'000.
  std::uint64_t max_mutex_value_bytes = 65536;  ///< Largest mutex value, 0..8 MiB.
  std::uint32_t max_mutex_waiters = 10'000;    ///< Lock calls waiting at once, 0..1'000'000.
  std::uint32_t max_channel_capacity = 10'000;  ///< Largest channel capacity, 1..10'000'000.
  /// Kinds this tenant may spawn, each one of kKnownKinds; by default all but `exec`.
  std::vector<std::string> allowed_kinds = {"sleep", "http", "worker", "send", "recv"};
  /// Programs an `exec` node may run, as absolute, normalized paths (argv[0] must be one of
  /// them exactly); empty refuses every exec.
  std::vector<std::string> exec_allowlist = {};
  /// Hosts http nodes may reach and hosts they may not (deny wins): addresses, CIDR ranges or
  /// host-name globs, as orch/work/host_guard.h describes. By default every host but the
  /// link-local ranges and EC2's IPv6 metadata address.
  std::vector<std::string> http_allow_hosts = {"*"};
  std::vector<std::string> http_deny_hosts = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254"};
  /// mTLS: names of client certificates that act as this tenant without a token. A verified
  /// client certificate whose common name or one of whose subject alternative names equals one
  /// of these (exactly) is this tenant. Non-empty only with `tls.client_ca`; unique across
  /// tenants.
  std::vector<std::string> client_cert_names = {};

  bool operator==(const TenantConfig&) const = default;
};

/// Request limits that protect the daemon; YAML key `limits:` (every entry optional).
struct Limits {
  std::uint32_t max_spec_depth = 64;      ///< Nesting depth of a task spec, 1..10'000.
  std::uint32_t max_spec_nodes = 10'000;  ///< Nodes in one spec, 1..10'000'000.
  std::uint32_t max_labels = 64;          ///< Labels on one task, 0..10'000.
  std::uint32_t max_label_bytes = 256;    ///< Bytes in a label key or value, 1..65'536.
  std::uint32_t max_batch = 10'000;       ///< Tasks in one SpawnBatch, 1..1'000'000.
  /// Longest sleep or timeout a spec may ask for; greater than zero.
  Duration max_duration = std::chrono::hours(24 * 365);
  /// Longest lease a mutex Lock or Refresh may ask for; greater than zero, at most 365d.
  Duration max_lease_ttl = std::chrono::hours(1);
  /// exec: bytes kept of stdout and of stderr each, when the spec says 0, and the most it may
  /// ask for; 1..1 GiB.
  std::uint64_t max_exec_output_bytes = 1 << 20;
  /// exec: SIGTERM-to-SIGKILL grace when the spec sets no kill_grace; at most max_duration.
  Duration exec_kill_grace = std::chrono::seconds(5);
  /// http nodes: the largest `max_response_bytes` a spec may ask for (1..1 GiB), the cap of
  /// a spec that asks for none (at most the former), and the timeouts of a spec without them.
  std::uint64_t max_http_response_bytes = 2 << 20;
  std::uint64_t default_http_response_bytes = 1 << 20;
  Duration default_http_connect_timeout = std::chrono::seconds(10);
  Duration default_http_timeout = std::chrono::seconds(60);
  /// Largest gRPC message the server accepts, in bytes (4 KiB..1 GiB); a larger one is
  /// refused with RESOURCE_EXHAUSTED before it is parsed. Takes effect at restart only.
  std::uint64_t max_grpc_message_bytes = 16 << 20;
  /// Streaming calls (Watch, Ticks, Subscribe, worker Connect) one tenant may hold open at
  /// once, 1..1'000'000; one more is refused with RESOURCE_EXHAUSTED naming this key.
  std::uint32_t max_streams_per_tenant = 1000;
  /// Calls of one tenant that may wait at once (Join, Select, channel Send and Recv, mutex
  /// Lock), 1..10'000'000; one more is refused with RESOURCE_EXHAUSTED naming this key.
  std::uint32_t max_waiting_rpcs_per_tenant = 10'000;

  bool operator==(const Limits&) const = default;
};

/// The daemon's HTTP client; YAML key `http:`.
struct HttpConfig {
  /// PEM file of the CAs https peers are verified against; empty: the system's CA store.
  std::string ca_file;

  bool operator==(const HttpConfig&) const = default;
};

/// Server TLS of the gRPC listener (and of the admin listener with `admin_tls`); YAML key `tls:`.
/// load_config makes relative paths absolute against the config file's directory.
struct TlsConfig {
  std::string cert;       ///< PEM certificate chain of the server, leaf first; required.
  std::string key;        ///< PEM private key of `cert`, unencrypted; required.
  /// PEM CAs that client certificates must chain to. Set: every client must present a
  /// certificate they signed (mTLS). Empty: no client certificates are asked for.
  std::string client_ca;

  bool operator==(const TlsConfig&) const = default;
};

/// The whole configuration. Defaults here are the values of keys a file leaves out.
struct Config {
  std::string listen = "127.0.0.1:50051";              ///< gRPC API, HOST:PORT.
  std::string admin_listen = "127.0.0.1:9464";         ///< Admin HTTP (/metrics), HOST:PORT.
  unsigned threads = 0;                                ///< I/O threads; 0 = one per core.
  Duration retention = std::chrono::hours(1);          ///< How long finished results are kept.
  Duration shutdown_grace = std::chrono::seconds(10);  ///< Drain time on shutdown.
  std::string log_level = "info";                      ///< trace, debug, info, warn, error or off.
  Limits limits;
  HttpConfig http;
  std::optional<TlsConfig> tls;  ///< nullopt: the gRPC listener is plaintext.
  bool admin_tls = false;        ///< The admin listener serves HTTPS with tls.cert/tls.key.
  /// Accept bearer tokens on a plaintext listener that is not loopback (they travel in clear).
  bool allow_plaintext_tokens = false;
  std::vector<TenantConfig> tenants;  ///< At least one after parsing.

  bool operator==(const Config&) const = default;
};

/// A configuration that cannot be used. what() is one line: "SOURCE: KEY.PATH: PROBLEM", or
/// "SOURCE:LINE:COLUMN: invalid YAML: ..." for syntax errors.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses and validates YAML text. `source_name` prefixes error messages (usually the path).
/// Unknown keys are errors at every level; `tenants` is required.
/// Throws ConfigError.
Config parse_config(std::string_view yaml_text, std::string_view source_name = "<config>");

/// Reads and parses the file at `path`. Relative paths in it (tls.cert, tls.key, tls.client_ca,
/// http.ca_file) are made absolute against the file's directory. Throws ConfigError, also when
/// the file cannot be read.
Config load_config(const std::filesystem::path& path);

/// The embedded defaults, exactly what config/orchestrd.yaml says: loopback addresses and one
/// tenant `default` without a token.
Config default_config();

/// The embedded text of config/orchestrd.yaml.
std::string_view default_config_yaml();

}  // namespace orch::config
