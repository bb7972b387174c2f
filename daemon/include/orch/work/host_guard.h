#pragma once
/// Which hosts a tenant's http nodes may reach: the tenant's `http_allow_hosts` and
/// `http_deny_hosts` patterns, checked against the URL's host when a spec is validated, against
/// every address the host resolves to right before connecting, and again on every redirect hop.
///
/// A pattern is one of
///   - an address range in CIDR notation: "10.0.0.0/8", "fc00::/7" (host bits must be zero);
///   - one IP address: "169.254.169.254", "fd00:ec2::254" (IPv6 also in brackets);
///   - a host-name glob, without regard to case: `*` matches any run of characters (dots
///     included, also none) and `?` one character, so "*" matches every host and
///     "*.example.com" every name under example.com (not example.com itself).
///
/// Deny wins over allow. A host is refused when
///   - its name, or the text of any address it resolves to, matches a deny glob, or
///   - it is an IP literal, or resolves to an address, inside a denied address or range, or
///   - it is not allowed: its name matches no allow glob, and it is not an IP literal inside an
///     allowed address or range, and it does not resolve only to addresses inside allowed ones.
/// IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are matched as the IPv4 address they carry.
///
/// Thread-safety: immutable after construction; every const member may be called from any
/// thread at once. The free functions are pure.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace orch::work {

/// An IPv4 or IPv6 address. IPv4 addresses, also those mapped into IPv6, have `v6 == false`
/// and their four bytes first.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  bool operator==(const IpAddress&) const = default;
};

/// Strict textual forms only: dotted-quad IPv4, or IPv6 as inet_pton reads it (no brackets,
/// no zone). nullopt for anything else.
std::optional<IpAddress> parse_ip_address(std::string_view text);

/// "10.0.0.1", "fd00:ec2::254".
std::string to_string(const IpAddress& address);

class HostPattern {
 public:
  /// Parses one pattern; nullopt with `why` set when it is none of the three forms.
  static std::optional<HostPattern> parse(std::string_view text, std::string& why);

  /// The pattern as written in the configuration (for messages).
  const std::string& text() const { return text_; }
  bool is_address() const { return !glob_; }

  /// A glob: whether it matches `name` (lower case). An address pattern never matches a name.
  bool matches_name(std::string_view name) const;
  /// An address pattern: whether `address` lies inside it. A glob: whether it matches the
  /// address's text.
  bool matches_address(const IpAddress& address) const;

 private:
  HostPattern() = default;

  std::string text_;
  bool glob_ = false;
  std::string lowered_;  // glob: the pattern in lower case
  IpAddress network_{};  // address pattern
  unsigned prefix_ = 0;  // address pattern: leading bits that must match
};

class HostGuard {
 public:
  /// The daemon's default lists: allow every host, deny the link-local ranges (cloud metadata
  /// services live there) and the IPv6 metadata address of EC2.
  static const std::vector<std::string>& default_allow();
  static const std::vector<std::string>& default_deny();

  /// Parses both lists. On failure, nullopt and `why` names the list, the index and the
  /// problem: `http_deny_hosts[2]: "10.0.0.0/33": the prefix must be 0 to 32 for IPv4`.
  static std::optional<HostGuard> parse(const std::vector<std::string>& allow,
                                        const std::vector<std::string>& deny, std::string& why);

  /// Checks a URL's host: a lower-case name, a dotted-quad IPv4 address, or an IPv6 address
  /// without brackets. nullopt when it may go on (its addresses are checked once resolved),
  /// else why not, e.g. `host 169.254.169.254 is denied by http_deny_hosts pattern
  /// "169.254.0.0/16"`.
  std::optional<std::string> check_host(std::string_view host) const;

  /// Checks the addresses `host` resolved to; refused when any one is denied, or when the host
  /// was allowed only by address patterns and some address lies outside all of them.
  std::optional<std::string> check_addresses(std::string_view host,
                                             std::span<const IpAddress> addresses) const;

 private:
  HostGuard() = default;
  bool allowed_by_name(std::string_view host) const;
  const HostPattern* allowing_address(const IpAddress& address) const;
  const HostPattern* denying_address(const IpAddress& address) const;
  std::string allow_list_text() const;

  std::vector<HostPattern> allow_;
  std::vector<HostPattern> deny_;
};

}  // namespace orch::work
