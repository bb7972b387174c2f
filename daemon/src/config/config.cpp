#include "orch/config/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <sstream>
#include <system_error>

#include "orch/work/host_guard.h"

namespace orch::config {
namespace {

// The text of config/orchestrd.yaml; a unit test keeps the two identical.
constexpr std::string_view kDefaultConfigYaml =
    R"yaml(# orchestrd's default configuration: loopback only, one tenant without a token.
# `orchestrd` uses this when started without --config; the daemon embeds the same text,
# and a unit test keeps the two identical.
#
# Every key is optional except `tenants`. Unknown keys are errors, so a typo stops start-up
# with a message that names it. Durations are written like 250ms, 10s, 1m30s, 1h, 2d (or 0).
# See config/example.yaml for tokens, several tenants and the `limits:` section.
#
# SIGHUP (or POST /reload on the admin port) re-reads this file while the daemon runs: tenants
# and limits change without touching running work; listen, admin_listen, threads, retention,
# http and limits.max_grpc_message_bytes keep their values until a restart. A file with an
# error is refused and the running configuration stays.

# gRPC API address, HOST:PORT. HOST is an IPv4 address, a name, or [IPv6]; port 0 picks a
# free port. Use 0.0.0.0:50051 or [::]:50051 to accept connections from other hosts.
listen: 127.0.0.1:50051

# Admin HTTP address (Prometheus /metrics, health), HOST:PORT like `listen`.
admin_listen: 127.0.0.1:9464

# I/O threads running tasks and RPCs; 0 means one per CPU core.
threads: 0

# How long a finished task's result stays available to Wait/Get before it is forgotten.
retention: 1h

# On SIGTERM/SIGINT: how long running tasks and RPCs get to finish before they are cancelled.
shutdown_grace: 10s

# trace, debug, info, warn, error or off.
log_level: info

# Request limits that protect the daemon (all optional; these are the defaults):
# limits:
#   max_spec_depth: 64          # nesting depth of a task spec
#   max_spec_nodes: 10000       # nodes in one task spec
#   max_labels: 64              # labels on one task
#   max_label_bytes: 256        # bytes in one label key or value
#   max_batch: 10000            # tasks in one SpawnBatch
#   max_duration: 365d          # longest sleep or timeout a spec may ask for
#   max_lease_ttl: 1h           # longest lease a mutex Lock or Refresh may ask for
#   max_exec_output_bytes: 1048576  # exec: stdout and stderr bytes kept, each (default and most)
#   exec_kill_grace: 5s         # exec: SIGTERM-to-SIGKILL grace when the spec sets none
#   max_http_response_bytes: 2097152      # largest max_response_bytes an http node may ask for
#   default_http_response_bytes: 1048576  # response body cap of an http node that sets none
#   default_http_connect_timeout: 10s     # connect_timeout of an http node that sets none
#   default_http_timeout: 60s             # timeout of an http node that sets none
#   max_grpc_message_bytes: 16777216      # largest gRPC request, in bytes (restart to change)
#   max_streams_per_tenant: 1000          # Watch/Ticks/Subscribe/worker Connect streams open
#                                         # at once per tenant
#   max_waiting_rpcs_per_tenant: 10000    # Join/Select/Send/Recv/Lock calls waiting at once
#                                         # per tenant

# The HTTP client of http nodes (optional):
# http:
#   ca_file: /etc/orchestrd/ca.pem   # verify https peers against these CAs (PEM) instead of
#                                    # the system's CA store

# TLS for the gRPC API (optional). Without it the API is plaintext; then bearer tokens are
# refused on a `listen` address that is not loopback (127.0.0.0/8, [::1], localhost) unless
# allow_plaintext_tokens is true. Relative paths are read next to this file.
# tls:
#   cert: server.pem        # the server's certificate chain (PEM, leaf first)
#   key: server.key         # its private key (PEM, unencrypted)
#   client_ca: ca.pem       # optional: require client certificates signed by these CAs (mTLS);
#                           # a tenant's client_cert_names then pick it without a token
# admin_tls: false          # true: the admin port serves HTTPS with tls.cert and tls.key
# allow_plaintext_tokens: false  # true: accept tokens in clear text off loopback (logs a warning)

# Who may call the API. Each tenant sees only its own tasks, channels, schedules and mutexes.
tenants:
  - name: default               # [a-z0-9_-], 1 to 64 characters, unique
    # No token_sha256: callers that send no `authorization` metadata act as this tenant.
    # At most one tenant may be token-less. To require a token instead, add
    #   token_sha256: <64 hex digits>     # printf %s 'TOKEN' | sha256sum
    # and send the metadata `authorization: Bearer TOKEN`. With mTLS (tls.client_ca), a client
    # certificate can stand for this tenant instead: list its CN or SAN names, e.g.
    #   client_cert_names: [ci-runner.example.com]
    max_concurrency: 64         # tasks running at once (1 to 1000000)
    max_queued: 100000          # tasks waiting for a slot; beyond that Spawn is refused
    max_schedules: 100          # interval schedules at once
    max_channels: 100           # open channels
    max_message_bytes: 1048576  # largest channel message, in bytes
    max_channel_capacity: 10000 # largest capacity of one channel (messages it may hold)
    max_mutexes: 1000           # named mutexes held, waited for or holding a value
    max_mutex_value_bytes: 65536  # largest value a mutex Unlock may store, in bytes
    max_mutex_waiters: 10000    # mutex Lock calls waiting at once
    # Task kinds this tenant may spawn. `exec` (run a local program) is left out by default.
    allowed_kinds: [sleep, http, worker, send, recv]
    # Hosts http nodes may reach: host-name globs, IP addresses and CIDR ranges (see
    # docs/kinds/http.md). Deny wins, and is checked against every address a name resolves to.
    # These defaults deny the link-local ranges, where cloud metadata services answer.
    http_allow_hosts: ["*"]
    http_deny_hosts: ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254"]
    # To keep http nodes off this host and private networks as well, add to the deny list:
    #   "127.0.0.0/8", "0.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    #   "100.64.0.0/10", "::1/128", "::/128", "fc00::/7"
    # To let it run local programs, add `exec` above and list every program it may start,
    # as absolute paths (argv[0] must match one exactly; empty = exec refused):
    #   allowed_kinds: [sleep, http, exec, worker, send, recv]
    #   exec_allowlist: [/bin/echo, /usr/bin/env]
    exec_allowlist: []
)yaml";

constexpr std::array<std::string_view, 12> kTopLevelKeys = {
    "listen",         "admin_listen", "threads", "retention", "shutdown_grace",
    "log_level",      "limits",       "http",    "tenants",   "tls",
    "admin_tls",      "allow_plaintext_tokens"};
constexpr std::array<std::string_view, 16> kLimitsKeys = {
    "max_spec_depth",          "max_spec_nodes",              "max_labels",
    "max_label_bytes",         "max_batch",                   "max_duration",
    "max_lease_ttl",           "max_exec_output_bytes",       "exec_kill_grace",
    "max_http_response_bytes", "default_http_response_bytes", "default_http_connect_timeout",
    "default_http_timeout",    "max_grpc_message_bytes",      "max_streams_per_tenant",
    "max_waiting_rpcs_per_tenant"};
constexpr std::array<std::string_view, 1> kHttpKeys = {"ca_file"};
constexpr std::array<std::string_view, 3> kTlsKeys = {"cert", "key", "client_ca"};
constexpr std::array<std::string_view, 16> kTenantKeys = {
    "name",          "token_sha256",      "max_concurrency",       "max_queued",
    "max_schedules", "max_channels",      "max_message_bytes",     "max_channel_capacity",
    "allowed_kinds", "exec_allowlist",    "max_mutexes",           "max_mutex_value_bytes",
    "max_mutex_waiters", "http_allow_hosts", "http_deny_hosts",   "client_cert_names"};
constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};

constexpr std::size_t kMaxTenantNameBytes = 64;
constexpr std::size_t kSha256HexDigits = 64;
// Scalars quoted back in messages are cut after this many bytes to keep errors on one line.
constexpr std::size_t kMaxQuotedBytes = 80;

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text.substr(0, kMaxQuotedBytes)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (text.size() > kMaxQuotedBytes) out += "...";
  out += '"';
  return out;
}

// What a node holds, for "got ..." in messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (const auto word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

std::string child_path(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool is_tenant_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxTenantNameBytes &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// An IPv6 address, optionally with a zone: "::1", "fe80::1%eth0".
bool is_ipv6_host(std::string_view host) {
  const auto percent = host.find('%');
  const auto address = host.substr(0, percent);
  const bool address_ok = address.find(':') != std::string_view::npos &&
                          std::all_of(address.begin(), address.end(), [](char c) {
                            return hex_value(c) >= 0 || c == ':' || c == '.';
                          });
  if (percent == std::string_view::npos) return address_ok;
  const auto zone = host.substr(percent + 1);
  return address_ok && !zone.empty() && std::all_of(zone.begin(), zone.end(), is_host_name_char);
}

// Why `text` is not HOST:PORT, or nullopt when it is. Loose on purpose: the listener reports
// addresses it cannot bind; this only catches what is plainly not an address.
std::optional<std::string> host_port_problem(std::string_view text) {
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "no \"]\" after the IPv6 address";
    const auto host = text.substr(1, close - 1);
    if (!is_ipv6_host(host)) {
      return "not an IPv6 address between [ and ]";
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') return "no :PORT";
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return "no :PORT";
    const auto host = text.substr(0, colon);
    if (host.empty()) return "no HOST";
    if (host.find(':') != std::string_view::npos) return "write an IPv6 HOST in brackets: [::1]";
    if (!std::all_of(host.begin(), host.end(), is_host_name_char)) return "HOST is not a name";
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return "PORT must be a number from 0 to 65535";
  }
  return std::nullopt;
}

// Turns a YAML tree into a Config. Every failure throws ConfigError naming the key path.
class ConfigReader {
 public:
  explicit ConfigReader(std::string_view source_name) : source_name_(source_name) {}

  Config read(const YAML::Node& root) const {
    if (root.IsNull()) fail("", "the configuration is empty; at least \"tenants\" is required");
    Config config;
    bool has_tenants = false;
    const auto read_entry = [&](std::string_view key, const YAML::Node& value,
                                const std::string& path) {
      if (key == "listen") {
        config.listen = read_host_port(value, path);
      } else if (key == "admin_listen") {
        config.admin_listen = read_host_port(value, path);
      } else if (key == "threads") {
        config.threads = static_cast<unsigned>(read_uint(value, path, 0, 4096));
      } else if (key == "retention") {
        config.retention = read_duration(value, path);
      } else if (key == "shutdown_grace") {
        config.shutdown_grace = read_duration(value, path);
      } else if (key == "log_level") {
        config.log_level = read_log_level(value, path);
      } else if (key == "limits") {
        config.limits = read_limits(value, path);
      } else if (key == "http") {
        config.http = read_http(value, path);
      } else if (key == "tenants") {
        config.tenants = read_tenants(value, path);
        has_tenants = true;
      } else if (key == "tls") {
        config.tls = read_tls(value, path);
      } else if (key == "admin_tls") {
        config.admin_tls = read_bool(value, path);
      } else if (key == "allow_plaintext_tokens") {
        config.allow_plaintext_tokens = read_bool(value, path);
      } else {
        return false;
      }
      return true;
    };
    for_each_entry(root, "", kTopLevelKeys, read_entry);
    if (!has_tenants) fail("tenants", "missing; list at least one tenant");
    check_tls_use(config);
    return config;
  }

  [[noreturn]] void fail(std::string_view path, std::string_view problem) const {
    std::string message(source_name_);
    message += ": ";
    if (!path.empty()) {
      message += path;
      message += ": ";
    }
    message += problem;
    throw ConfigError(message);
  }

 private:
  // Calls `on_entry(key, value, path)` for every entry of the mapping `node`; it returns false
  // for a key it does not know. Refuses non-mappings, duplicate keys and unknown keys.
  template <typename OnEntry>
  void for_each_entry(const YAML::Node& node, const std::string& path,
                      std::span<const std::string_view> known_keys, OnEntry&& on_entry) const {
    if (!node.IsMap()) fail(path, "expected a mapping of keys, got " + describe(node));
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) fail(path, "a key must be a name, got " + describe(entry.first));
      const std::string& key = entry.first.Scalar();
      const std::string key_path = child_path(path, key);
      if (!seen.insert(key).second) fail(key_path, "given twice");
      if (!on_entry(std::string_view(key), entry.second, key_path)) {
        fail(path, "unknown key " + quote(key) + suggestion(key, known_keys));
      }
    }
  }

  static std::string suggestion(std::string_view key, std::span<const std::string_view> known) {
    if (key == "token") {
      return "; write the token's SHA-256 as token_sha256 (printf %s TOKEN | sha256sum)";
    }
    const auto nearest = std::min_element(known.begin(), known.end(), [&](auto a, auto b) {
      return edit_distance(key, a) < edit_distance(key, b);
    });
    if (nearest != known.end() && edit_distance(key, *nearest) <= 2) {
      return "; did you mean " + quote(*nearest) + "?";
    }
    return "; known keys: " + join(known, ", ");
  }

  std::uint64_t read_uint(const YAML::Node& node, const std::string& path, std::uint64_t min,
                          std::uint64_t max) const {
    if (node.IsScalar()) {
      const std::string& text = node.Scalar();
      std::uint64_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && value >= min &&
          value <= max) {
        return value;
      }
    }
    fail(path, "must be an integer between " + std::to_string(min) + " and " + std::to_string(max) +
                   ", got " + describe(node));
  }

  Duration read_duration(const YAML::Node& node, const std::string& path) const {
    if (node.IsScalar()) {
      if (const auto duration = parse_duration(node.Scalar())) return *duration;
    }
    fail(path, "not a duration (" + describe(node) + "); write e.g. 250ms, 10s, 1h");
  }

  std::string read_host_port(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(path, "expected HOST:PORT, got " + describe(node));
    const std::string& text = node.Scalar();
    if (const auto problem = host_port_problem(text)) {
      fail(path, "expected HOST:PORT, got " + quote(text) + " (" + *problem + ")");
    }
    return text;
  }

  std::string read_log_level(const YAML::Node& node, const std::string& path) const {
    if (node.IsScalar() &&
        std::find(kLogLevels.begin(), kLogLevels.end(), node.Scalar()) != kLogLevels.end()) {
      return node.Scalar();
    }
    fail(path, "must be one of " + join(kLogLevels, ", ") + "; got " + describe(node));
  }

  Limits read_limits(const YAML::Node& node, const std::string& path) const {
    Limits limits;
    const auto read_entry = [&](std::string_view key, const YAML::Node& value,
                                const std::string& key_path) {
      if (key == "max_spec_depth") {
        limits.max_spec_depth = read_u32(value, key_path, 1, 10'000);
      } else if (key == "max_spec_nodes") {
        limits.max_spec_nodes = read_u32(value, key_path, 1, 10'000'000);
      } else if (key == "max_labels") {
        limits.max_labels = read_u32(value, key_path, 0, 10'000);
      } else if (key == "max_label_bytes") {
        limits.max_label_bytes = read_u32(value, key_path, 1, 65'536);
      } else if (key == "max_batch") {
        limits.max_batch = read_u32(value, key_path, 1, 1'000'000);
      } else if (key == "max_duration") {
        limits.max_duration = read_positive_duration(value, key_path);
      } else if (key == "max_lease_ttl") {
        limits.max_lease_ttl = read_duration(value, key_path);
        if (limits.max_lease_ttl <= Duration::zero() ||
            limits.max_lease_ttl > std::chrono::hours(24 * 365)) {
          fail(key_path, "must be greater than 0 and at most 365d");
        }
      } else if (key == "max_exec_output_bytes") {
        limits.max_exec_output_bytes = read_uint(value, key_path, 1, 1ULL << 30);
      } else if (key == "exec_kill_grace") {
        limits.exec_kill_grace = read_duration(value, key_path);
      } else if (key == "max_http_response_bytes") {
        limits.max_http_response_bytes = read_uint(value, key_path, 1, 1ULL << 30);
      } else if (key == "default_http_response_bytes") {
        limits.default_http_response_bytes = read_uint(value, key_path, 1, 1ULL << 30);
      } else if (key == "default_http_connect_timeout") {
        limits.default_http_connect_timeout = read_positive_duration(value, key_path);
      } else if (key == "default_http_timeout") {
        limits.default_http_timeout = read_positive_duration(value, key_path);
      } else if (key == "max_grpc_message_bytes") {
        limits.max_grpc_message_bytes = read_uint(value, key_path, 4096, 1ULL << 30);
      } else if (key == "max_streams_per_tenant") {
        limits.max_streams_per_tenant = read_u32(value, key_path, 1, 1'000'000);
      } else if (key == "max_waiting_rpcs_per_tenant") {
        limits.max_waiting_rpcs_per_tenant = read_u32(value, key_path, 1, 10'000'000);
      } else {
        return false;
      }
      return true;
    };
    for_each_entry(node, path, kLimitsKeys, read_entry);
    if (limits.exec_kill_grace > limits.max_duration) {
      fail(child_path(path, "exec_kill_grace"),
           "must be at most max_duration (" + format_duration(limits.max_duration) + ")");
    }
    if (limits.default_http_response_bytes > limits.max_http_response_bytes) {
      fail(child_path(path, "default_http_response_bytes"),
           "must not exceed max_http_response_bytes (" +
               std::to_string(limits.max_http_response_bytes) + ")");
    }
    return limits;
  }

  Duration read_positive_duration(const YAML::Node& node, const std::string& path) const {
    const Duration value = read_duration(node, path);
    if (value <= Duration::zero()) fail(path, "must be greater than 0");
    return value;
  }

  bool read_bool(const YAML::Node& node, const std::string& path) const {
    if (node.IsScalar() && node.Scalar() == "true") return true;
    if (node.IsScalar() && node.Scalar() == "false") return false;
    fail(path, "must be true or false, got " + describe(node));
  }

  TlsConfig read_tls(const YAML::Node& node, const std::string& path) const {
    TlsConfig tls;
    const auto read_entry = [&](std::string_view key, const YAML::Node& value,
                                const std::string& key_path) {
      std::string* target = key == "cert"        ? &tls.cert
                            : key == "key"       ? &tls.key
                            : key == "client_ca" ? &tls.client_ca
                                                 : nullptr;
      if (target == nullptr) return false;
      if (!value.IsScalar() || value.Scalar().empty()) {
        fail(key_path, "must be the path of a PEM file, got " + describe(value));
      }
      *target = value.Scalar();
      return true;
    };
    for_each_entry(node, path, kTlsKeys, read_entry);
    if (tls.cert.empty()) {
      fail(child_path(path, "cert"), "missing; TLS needs the server's certificate (PEM)");
    }
    if (tls.key.empty()) {
      fail(child_path(path, "key"), "missing; TLS needs the certificate's private key (PEM)");
    }
    return tls;
  }

  // Settings that only mean something with TLS, and certificate names that must tell tenants
  // apart.
  void check_tls_use(const Config& config) const {
    if (config.admin_tls && !config.tls) {
      fail("admin_tls", "needs a tls: section (cert and key) to serve HTTPS with");
    }
    const bool mtls = config.tls && !config.tls->client_ca.empty();
    std::vector<std::pair<std::string_view, std::size_t>> seen;  // name, tenant index
    for (std::size_t i = 0; i < config.tenants.size(); ++i) {
      const auto& names = config.tenants[i].client_cert_names;
      const std::string path = child_path(index_path("tenants", i), "client_cert_names");
      if (!names.empty() && !mtls) {
        fail(path, "needs tls.client_ca: client certificates are only asked for with mTLS");
      }
      for (std::size_t k = 0; k < names.size(); ++k) {
        for (const auto& [name, tenant] : seen) {
          if (name == names[k]) {
            fail(index_path(path, k), quote(names[k]) + " is already a certificate name of " +
                                          index_path("tenants", tenant) + " (" +
                                          config.tenants[tenant].name + ")");
          }
        }
        seen.emplace_back(names[k], i);
      }
    }
  }

  // Common names or subject alternative names of client certificates: distinct, non-empty,
  // printable, without spaces at either end.
  std::vector<std::string> read_cert_names(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence()) {
      fail(path, "must be a list of certificate names (CN or SAN), got " + describe(node));
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = index_path(path, i);
      if (!item.IsScalar() || item.Scalar().empty()) {
        fail(item_path, "must be a certificate name (CN or SAN), got " + describe(item));
      }
      const std::string& name = item.Scalar();
      const bool printable = std::all_of(name.begin(), name.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
      });
      if (!printable || name.front() == ' ' || name.back() == ' ' || name.size() > 1024) {
        fail(item_path, quote(name) +
                            " is not a certificate name (printable, at most 1024 bytes, no "
                            "spaces at either end)");
      }
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        fail(item_path, quote(name) + " is listed twice");
      }
      names.push_back(name);
    }
    return names;
  }

  HttpConfig read_http(const YAML::Node& node, const std::string& path) const {
    HttpConfig http;
    const auto read_entry = [&](std::string_view key, const YAML::Node& value,
                                const std::string& key_path) {
      if (key == "ca_file") {
        if (!value.IsScalar() || value.Scalar().empty()) {
          fail(key_path, "must be the path of a PEM file, got " + describe(value));
        }
        http.ca_file = value.Scalar();
      } else {
        return false;
      }
      return true;
    };
    for_each_entry(node, path, kHttpKeys, read_entry);
    return http;
  }

  // A list of host patterns (orch/work/host_guard.h), each checked.
  std::vector<std::string> read_host_patterns(const YAML::Node& node,
                                              const std::string& path) const {
    if (!node.IsSequence()) {
      fail(path, "must be a list of host patterns (globs, addresses, CIDR ranges), got " +
                     describe(node));
    }
    std::vector<std::string> patterns;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = index_path(path, i);
      if (!item.IsScalar()) fail(item_path, "must be a host pattern, got " + describe(item));
      std::string why;
      if (!work::HostPattern::parse(item.Scalar(), why)) {
        fail(item_path, quote(item.Scalar()) + ": " + why);
      }
      patterns.push_back(item.Scalar());
    }
    return patterns;
  }

  std::uint32_t read_u32(const YAML::Node& node, const std::string& path, std::uint32_t min,
                         std::uint32_t max) const {
    return static_cast<std::uint32_t>(read_uint(node, path, min, max));
  }

  std::vector<TenantConfig> read_tenants(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence()) fail(path, "must be a list of tenants, got " + describe(node));
    if (node.size() == 0) fail(path, "must list at least one tenant");
    std::vector<TenantConfig> tenants;
    tenants.reserve(node.size());
    for (std::size_t i = 0; i < node.size(); ++i) {
      tenants.push_back(read_tenant(node[i], index_path(path, i)));
    }
    check_tenants_apart(tenants, path);
    return tenants;
  }

  TenantConfig read_tenant(const YAML::Node& node, const std::string& path) const {
    TenantConfig tenant;
    bool has_name = false;
    const auto read_entry = [&](std::string_view key, const YAML::Node& value,
                                const std::string& key_path) {
      if (key == "name") {
        tenant.name = read_tenant_name(value, key_path);
        has_name = true;
      } else if (key == "token_sha256") {
        tenant.token_sha256 = read_sha256(value, key_path);
      } else if (key == "max_concurrency") {
        tenant.max_concurrency = read_u32(value, key_path, 1, 1'000'000);
      } else if (key == "max_queued") {
        tenant.max_queued = read_u32(value, key_path, 0, 100'000'000);
      } else if (key == "max_schedules") {
        tenant.max_schedules = read_u32(value, key_path, 0, 100'000);
      } else if (key == "max_channels") {
        tenant.max_channels = read_u32(value, key_path, 0, 1'000'000);
      } else if (key == "max_message_bytes") {
        tenant.max_message_bytes = read_uint(value, key_path, 1, 1ULL << 30);
      } else if (key == "max_channel_capacity") {
        tenant.max_channel_capacity = read_u32(value, key_path, 1, 10'000'000);
      } else if (key == "allowed_kinds") {
        tenant.allowed_kinds = read_kinds(value, key_path);
      } else if (key == "max_mutexes") {
        tenant.max_mutexes = read_u32(value, key_path, 0, 1'000'000);
      } else if (key == "max_mutex_value_bytes") {
        tenant.max_mutex_value_bytes = read_uint(value, key_path, 0, 8ULL << 20);
      } else if (key == "max_mutex_waiters") {
        tenant.max_mutex_waiters = read_u32(value, key_path, 0, 1'000'000);
      } else if (key == "exec_allowlist") {
        tenant.exec_allowlist = read_exec_allowlist(value, key_path);
      } else if (key == "http_allow_hosts") {
        tenant.http_allow_hosts = read_host_patterns(value, key_path);
      } else if (key == "http_deny_hosts") {
        tenant.http_deny_hosts = read_host_patterns(value, key_path);
      } else if (key == "client_cert_names") {
        tenant.client_cert_names = read_cert_names(value, key_path);
      } else {
        return false;
      }
      return true;
    };
    for_each_entry(node, path, kTenantKeys, read_entry);
    if (!has_name) fail(child_path(path, "name"), "missing; every tenant needs a name");
    return tenant;
  }

  std::string read_tenant_name(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar() || !is_tenant_name(node.Scalar())) {
      fail(path, "must be 1 to 64 characters from a-z, 0-9, _ and -, got " + describe(node));
    }
    return node.Scalar();
  }

  std::array<unsigned char, 32> read_sha256(const YAML::Node& node, const std::string& path) const {
    const std::string how = "; compute it with: printf %s 'TOKEN' | sha256sum";
    if (!node.IsScalar()) fail(path, "must be 64 hex digits, got " + describe(node) + how);
    // The digest is not secret, but a pasted token might be: never quote this value back.
    const std::string& text = node.Scalar();
    if (text.size() != kSha256HexDigits) {
      fail(path, "must be 64 hex digits, got " + std::to_string(text.size()) + " characters" + how);
    }
    std::array<unsigned char, 32> digest{};
    for (std::size_t i = 0; i < digest.size(); ++i) {
      const int high = hex_value(text[2 * i]);
      const int low = hex_value(text[2 * i + 1]);
      if (high < 0 || low < 0) fail(path, "must be 64 hex digits, got a character that is not one");
      digest[i] = static_cast<unsigned char>(high * 16 + low);
    }
    return digest;
  }

  std::vector<std::string> read_kinds(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence()) fail(path, "must be a list of task kinds, got " + describe(node));
    std::vector<std::string> kinds;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = index_path(path, i);
      if (!item.IsScalar() ||
          std::find(kKnownKinds.begin(), kKnownKinds.end(), item.Scalar()) == kKnownKinds.end()) {
        fail(item_path,
             "unknown kind " + describe(item) + "; known kinds: " + join(kKnownKinds, ", "));
      }
      if (std::find(kinds.begin(), kinds.end(), item.Scalar()) != kinds.end()) {
        fail(item_path, quote(item.Scalar()) + " is listed twice");
      }
      kinds.push_back(item.Scalar());
    }
    return kinds;
  }

  // Absolute, normalized program paths, each once: argv[0] is compared to them as text, so a
  // path like /bin/../bin/rm could never match and is refused here rather than ignored.
  std::vector<std::string> read_exec_allowlist(const YAML::Node& node,
                                               const std::string& path) const {
    if (!node.IsSequence()) fail(path, "must be a list of absolute program paths, got " + describe(node));
    std::vector<std::string> programs;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = index_path(path, i);
      if (!item.IsScalar() || !item.Scalar().starts_with('/')) {
        fail(item_path, "must be an absolute path like /usr/bin/env, got " + describe(item));
      }
      const std::string& program = item.Scalar();
      const std::string normal = std::filesystem::path(program).lexically_normal().string();
      if (normal != program || program.ends_with('/')) {
        fail(item_path, quote(program) + " is not a normalized path (no ., .., // or trailing /)");
      }
      if (std::find(programs.begin(), programs.end(), program) != programs.end()) {
        fail(item_path, quote(program) + " is listed twice");
      }
      programs.push_back(program);
    }
    return programs;
  }

  // Names and tokens must tell tenants apart; at most one tenant may go without a token.
  void check_tenants_apart(const std::vector<TenantConfig>& tenants,
                           const std::string& path) const {
    std::vector<std::string_view> tokenless;
    for (std::size_t i = 0; i < tenants.size(); ++i) {
      const TenantConfig& tenant = tenants[i];
      if (!tenant.token_sha256) tokenless.push_back(tenant.name);
      for (std::size_t j = 0; j < i; ++j) {
        if (tenants[j].name == tenant.name) {
          fail(child_path(index_path(path, i), "name"),
               quote(tenant.name) + " is already the name of " + index_path(path, j));
        }
        if (tenant.token_sha256 && tenant.token_sha256 == tenants[j].token_sha256) {
          fail(child_path(index_path(path, i), "token_sha256"),
               "same token as " + index_path(path, j) + " (" + tenants[j].name +
                   "); each tenant needs its own");
        }
      }
    }
    if (tokenless.size() > 1) {
      const std::string count = tokenless.size() == 2 ? "two" : std::to_string(tokenless.size());
      fail(path, count + " tenants have no token (" + join(tokenless, ", ") + "): at most one may");
    }
  }

  std::string_view source_name_;
};

/// Counts the documents of a YAML stream, building nothing. Used instead of YAML::LoadAll,
/// which in yaml-cpp 0.7 loops forever, allocating, on some malformed input (e.g.
/// `!eN4YAML,8Epec_0`): the parser stops consuming tokens and reports one empty document
/// after another, each starting at the same place. Throws YAML::ParserException there.
std::size_t count_documents(const std::string& text) {
  struct Starts : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
    YAML::Mark start = YAML::Mark::null_mark();
  };
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  Starts starts;
  std::size_t count = 0;
  int previous_start = -1;
  while (parser.HandleNextDocument(starts)) {
    if (count > 0 && starts.start.pos == previous_start) {
      throw YAML::ParserException(starts.start, "unexpected text");
    }
    previous_start = starts.start.pos;
    ++count;
  }
  return count;
}

}  // namespace

Config parse_config(std::string_view yaml_text, std::string_view source_name) {
  const ConfigReader reader(source_name);
  const std::string text(yaml_text);
  std::size_t documents = 0;
  YAML::Node root;
  try {
    documents = count_documents(text);
    if (documents > 0) root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    std::string where(source_name);
    if (!e.mark.is_null()) {
      where += ':' + std::to_string(e.mark.line + 1) + ':' + std::to_string(e.mark.column + 1);
    }
    throw ConfigError(where + ": invalid YAML: " + e.msg);
  }
  if (documents > 1) {
    reader.fail("", "expected one YAML document, found " + std::to_string(documents));
  }
  return reader.read(root);
}

Config load_config(const std::filesystem::path& path) {
  const std::string source_name = path.string();
  const auto cannot_read = [&](int error) {
    throw ConfigError(source_name + ": cannot read: " + std::generic_category().message(error));
  };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) cannot_read(errno);
  std::string text;
  std::array<char, 8192> buffer;
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    text.append(buffer.data(), n);
  }
  // Reading a directory "opens" fine and fails here with EISDIR.
  if (std::ferror(file.get())) cannot_read(errno);
  Config config = parse_config(text, source_name);
  // Files named in the config are found next to it, wherever the daemon was started.
  const std::filesystem::path base = path.parent_path();
  const auto resolve = [&](std::string& file) {
    if (!file.empty() && std::filesystem::path(file).is_relative()) file = (base / file).string();
  };
  if (config.tls) {
    resolve(config.tls->cert);
    resolve(config.tls->key);
    resolve(config.tls->client_ca);
  }
  resolve(config.http.ca_file);
  return config;
}

Config default_config() { return parse_config(kDefaultConfigYaml, "<default config>"); }

std::string_view default_config_yaml() { return kDefaultConfigYaml; }

}  // namespace orch::config
