#include "orch/work/http_url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "orch/work/host_guard.h"

namespace orch::work {
namespace {

constexpr std::size_t kMaxHostBytes = 253;

ParsedUrl fail(std::string error) { return ParsedUrl{std::nullopt, std::move(error)}; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool is_scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '-' || c == '.';
}

// The scheme of an absolute reference ("http" of "http://..."), or nullopt for a relative one.
std::optional<std::string_view> scheme_of(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const auto scheme = text.substr(0, colon);
  const bool letter_first =
      (scheme[0] >= 'a' && scheme[0] <= 'z') || (scheme[0] >= 'A' && scheme[0] <= 'Z');
  if (!letter_first || !std::all_of(scheme.begin(), scheme.end(), is_scheme_char))
    return std::nullopt;
  return scheme;
}

// RFC 3986 §5.2.4: "/a/b/../c/./d" -> "/a/c/d".
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const auto last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const auto next = in.find('/', in.front() == '/' ? 1 : 0);
      const auto segment = in.substr(0, next);
      out += segment;
      in.remove_prefix(segment.size());
    }
  }
  return out;
}

// The dotted quad of a host written in one of IPv4's numeric forms ("127.1", "0x7f.0.0.1",
// "2130706433"); nullopt for a name. A host made only of digits and dots that is no address
// is an error rather than a name.
std::optional<std::string> numeric_ipv4(const std::string& host, bool& invalid) {
  invalid = false;
  const bool numeric = std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == 'x' || c == '.';
  });
  if (!numeric) return std::nullopt;
  in_addr address{};
  if (::inet_aton(host.c_str(), &address) == 0) {
    invalid = std::all_of(host.begin(), host.end(),
                          [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    return std::nullopt;
  }
  char buffer[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, buffer, sizeof buffer);
  return std::string(buffer);
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string out = ipv6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

std::string HttpUrl::text() const {
  return std::string(tls ? "https://" : "http://") + authority() + target;
}

ParsedUrl parse_http_url(std::string_view text) {
  if (text.empty()) return fail("must not be empty");
  if (text.size() > kMaxUrlBytes) {
    return fail("longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  }
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return fail(
          "contains a space, a control character or a byte outside ASCII; "
          "percent-encode it");
    }
  }
  const auto scheme = scheme_of(text);
  const auto sep = text.find("://");
  if (!scheme || sep != scheme->size()) {
    return fail("not an absolute URL; write it as http://HOST/PATH or https://HOST/PATH");
  }
  std::string scheme_lower(*scheme);
  std::transform(scheme_lower.begin(), scheme_lower.end(), scheme_lower.begin(), lower);
  HttpUrl url;
  if (scheme_lower == "https") {
    url.tls = true;
    url.port = 443;
  } else if (scheme_lower != "http") {
    return fail("scheme must be http or https, got \"" + std::string(*scheme) + "\"");
  }

  std::string_view rest = text.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  const auto authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  if (authority.find('@') != std::string_view::npos) {
    return fail("user info (user:password@) is not supported; send an Authorization header");
  }
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("no ']' after the IPv6 address");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 address");
      port = after.substr(1);
      has_port = true;
    }
    if (host.find('%') != std::string_view::npos) return fail("IPv6 zone ids are not supported");
    const auto address = parse_ip_address(host);
    if (!address) return fail("not an IPv6 address between [ and ]");
    url.host = std::string(host);
    std::transform(url.host.begin(), url.host.end(), url.host.begin(), lower);
    url.ipv6 = true;
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return fail("no host");
    if (host.size() > kMaxHostBytes) {
      return fail("host longer than " + std::to_string(kMaxHostBytes) + " characters");
    }
    url.host = std::string(host);
    std::transform(url.host.begin(), url.host.end(), url.host.begin(), lower);
    if (!std::all_of(url.host.begin(), url.host.end(), is_name_char)) {
      return fail("host \"" + std::string(host) +
                  "\" is not a name or an address (IPv6 goes in brackets: http://[::1]/)");
    }
    bool invalid = false;
    if (auto dotted = numeric_ipv4(url.host, invalid)) {
      url.host = std::move(*dotted);
    } else if (invalid) {
      return fail("host \"" + std::string(host) + "\" is not a valid IPv4 address");
    }
  }
  if (has_port && !port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return fail("port must be a number from 1 to 65535, got \"" + std::string(port) + "\"");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  url.target =
      target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return ParsedUrl{std::move(url), {}};
}

ParsedUrl resolve_location(const HttpUrl& base, std::string_view location) {
  while (!location.empty() && (location.front() == ' ' || location.front() == '\t'))
    location.remove_prefix(1);
  while (!location.empty() && (location.back() == ' ' || location.back() == '\t'))
    location.remove_suffix(1);
  if (location.empty()) return fail("the Location header is empty");
  if (scheme_of(location)) return parse_http_url(location);
  const std::string origin = std::string(base.tls ? "https:" : "http:");
  if (location.starts_with("//")) return parse_http_url(origin + std::string(location));

  location = location.substr(0, location.find('#'));
  const auto query_at = location.find('?');
  const std::string_view path = location.substr(0, query_at);
  const std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  std::string target;
  if (path.empty()) {
    target = std::string(base_path);
    target += query_at == std::string_view::npos
                  ? std::string(std::string_view(base.target).substr(base_path.size()))
                  : std::string(location.substr(query_at));
  } else {
    std::string merged;
    if (path.front() == '/') {
      merged = std::string(path);
    } else {
      merged = std::string(base_path.substr(0, base_path.rfind('/') + 1)) + std::string(path);
    }
    target = remove_dot_segments(merged);
    if (target.empty() || target.front() != '/') target.insert(0, "/");
    if (query_at != std::string_view::npos) target += location.substr(query_at);
  }
  return parse_http_url(origin + "//" + base.authority() + target);
}

}  // namespace orch::work
