#include "orch/work/host_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace orch::work {
namespace {

// IPv4 addresses mapped into IPv6: ::ffff:0:0/96.
constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::size_t kMaxPatternBytes = 253;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool is_glob_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
         c == '*' || c == '?' || c == ':';
}

// `*` matches any run of characters, `?` one; everything else itself. Iterative with one
// backtrack point, so a pattern of many stars cannot blow up.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool in_network(const IpAddress& address, const IpAddress& network, unsigned prefix) {
  if (address.v6 != network.v6) return false;
  const unsigned full = prefix / 8;
  if (!std::equal(network.bytes.begin(), network.bytes.begin() + full, address.bytes.begin())) {
    return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (address.bytes[full] & mask) == (network.bytes[full] & mask);
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN] = {};
  std::memcpy(buffer, text.data(), text.size());
  IpAddress address;
  if (text.find(':') == std::string_view::npos) {
    if (::inet_pton(AF_INET, buffer, address.bytes.data()) != 1) return std::nullopt;
    return address;
  }
  if (::inet_pton(AF_INET6, buffer, address.bytes.data()) != 1) return std::nullopt;
  if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), address.bytes.begin())) {
    std::array<std::uint8_t, 16> v4{};
    std::copy_n(address.bytes.begin() + 12, 4, v4.begin());
    address.bytes = v4;
    return address;
  }
  address.v6 = true;
  return address;
}

std::string to_string(const IpAddress& address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), buffer, sizeof buffer);
  return buffer;
}

std::optional<HostPattern> HostPattern::parse(std::string_view text, std::string& why) {
  HostPattern pattern;
  pattern.text_ = std::string(text);
  if (text.empty()) {
    why = "a pattern must not be empty";
    return std::nullopt;
  }
  if (text.size() > kMaxPatternBytes) {
    why = "longer than " + std::to_string(kMaxPatternBytes) + " characters";
    return std::nullopt;
  }
  std::string_view address_text = text;
  std::optional<unsigned> prefix;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    const auto digits = text.substr(slash + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      why = "not a CIDR range: the prefix length after '/' must be a number";
      return std::nullopt;
    }
    prefix = value;
  }
  if (address_text.size() > 2 && address_text.front() == '[' && address_text.back() == ']') {
    address_text = address_text.substr(1, address_text.size() - 2);
  }
  if (const auto address = parse_ip_address(address_text)) {
    const unsigned bits = address->v6 ? 128 : 32;
    const unsigned length = prefix.value_or(bits);
    if (length > bits) {
      why = std::string("the prefix must be 0 to ") + std::to_string(bits) + " for " +
            (address->v6 ? "IPv6" : "IPv4");
      return std::nullopt;
    }
    IpAddress network = *address;
    for (unsigned bit = length; bit < bits; ++bit) {
      network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    }
    if (network != *address) {
      why = "host bits are set after the /" + std::to_string(length) + " prefix; did you mean " +
            quoted(to_string(network) + "/" + std::to_string(length)) + "?";
      return std::nullopt;
    }
    pattern.network_ = network;
    pattern.prefix_ = length;
    return pattern;
  }
  if (prefix) {
    why = "not a CIDR range: the part before '/' must be an IPv4 or IPv6 address";
    return std::nullopt;
  }
  pattern.lowered_ = lowered(text);
  if (!std::all_of(pattern.lowered_.begin(), pattern.lowered_.end(), is_glob_char)) {
    why =
        "not an address, a CIDR range or a host-name glob (letters, digits, '.', '-', '_', "
        "'*' and '?')";
    return std::nullopt;
  }
  pattern.glob_ = true;
  return pattern;
}

bool HostPattern::matches_name(std::string_view name) const {
  return glob_ && glob_match(lowered_, name);
}

bool HostPattern::matches_address(const IpAddress& address) const {
  if (glob_) return glob_match(lowered_, to_string(address));
  return in_network(address, network_, prefix_);
}

const std::vector<std::string>& HostGuard::default_allow() {
  static const std::vector<std::string> list = {"*"};
  return list;
}

const std::vector<std::string>& HostGuard::default_deny() {
  static const std::vector<std::string> list = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254"};
  return list;
}

std::optional<HostGuard> HostGuard::parse(const std::vector<std::string>& allow,
                                          const std::vector<std::string>& deny, std::string& why) {
  HostGuard guard;
  const auto read = [&why](const std::vector<std::string>& texts, std::string_view list,
                           std::vector<HostPattern>& out) {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      std::string problem;
      auto pattern = HostPattern::parse(texts[i], problem);
      if (!pattern) {
        why =
            std::string(list) + "[" + std::to_string(i) + "]: " + quoted(texts[i]) + ": " + problem;
        return false;
      }
      out.push_back(std::move(*pattern));
    }
    return true;
  };
  if (!read(allow, "http_allow_hosts", guard.allow_) ||
      !read(deny, "http_deny_hosts", guard.deny_)) {
    return std::nullopt;
  }
  return guard;
}

bool HostGuard::allowed_by_name(std::string_view host) const {
  return std::any_of(allow_.begin(), allow_.end(),
                     [host](const HostPattern& p) { return p.matches_name(host); });
}

const HostPattern* HostGuard::allowing_address(const IpAddress& address) const {
  for (const auto& pattern : allow_) {
    if (pattern.is_address() && pattern.matches_address(address)) return &pattern;
  }
  return nullptr;
}

const HostPattern* HostGuard::denying_address(const IpAddress& address) const {
  for (const auto& pattern : deny_) {
    if (pattern.matches_address(address)) return &pattern;
  }
  return nullptr;
}

std::string HostGuard::allow_list_text() const {
  std::string out;
  for (const auto& pattern : allow_) {
    if (!out.empty()) out += ", ";
    out += quoted(pattern.text());
  }
  return "http_allow_hosts [" + out + "]";
}

std::optional<std::string> HostGuard::check_host(std::string_view host) const {
  if (const auto address = parse_ip_address(host)) {
    if (const auto* pattern = denying_address(*address)) {
      return "host " + std::string(host) + " is denied by http_deny_hosts pattern " +
             quoted(pattern->text());
    }
    if (allowed_by_name(host) || allowing_address(*address) != nullptr) return std::nullopt;
    return "host " + std::string(host) + " is not in " + allow_list_text();
  }
  for (const auto& pattern : deny_) {
    if (pattern.matches_name(host)) {
      return "host " + std::string(host) + " is denied by http_deny_hosts pattern " +
             quoted(pattern.text());
    }
  }
  if (allowed_by_name(host)) return std::nullopt;
  // Address patterns may still allow the name once it is resolved.
  if (std::any_of(allow_.begin(), allow_.end(),
                  [](const HostPattern& p) { return p.is_address(); })) {
    return std::nullopt;
  }
  return "host " + std::string(host) + " is not in " + allow_list_text();
}

std::optional<std::string> HostGuard::check_addresses(std::string_view host,
                                                      std::span<const IpAddress> addresses) const {
  const bool by_name = allowed_by_name(host);
  for (const auto& address : addresses) {
    const std::string text = to_string(address);
    const std::string which =
        text == host ? "host " + text
                     : "host " + std::string(host) + " resolves to " + text + ", which";
    if (const auto* pattern = denying_address(address)) {
      return which + " is denied by http_deny_hosts pattern " + quoted(pattern->text());
    }
    if (!by_name && allowing_address(address) == nullptr) {
      return which + " is not in " + allow_list_text();
    }
  }
  return std::nullopt;
}

}  // namespace orch::work
