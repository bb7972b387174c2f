#pragma once
/// The URLs an http node may fetch: absolute http:// and https:// URLs, parsed into what a
/// request needs, and the resolution of a redirect's Location against the URL it answered.
///
/// Refused: other schemes, user info ("user:pass@", send an Authorization header instead),
/// an empty host, a port outside 1..65535, spaces, control characters and bytes outside ASCII
/// (percent-encode them). A fragment ("#...") is dropped: it never reaches the server. A host
/// is kept in lower case; IPv4 in its numeric shorthand forms ("127.1", "0x7f.0.0.1") is
/// rewritten as the dotted quad it stands for, so host guards see the address it reaches.
///
/// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orch::work {

/// Longest URL accepted, in bytes.
inline constexpr std::size_t kMaxUrlBytes = 8192;

struct HttpUrl {
  bool tls = false;   // https
  std::string host;   // lower-case name, dotted-quad IPv4, or IPv6 without brackets
  bool ipv6 = false;  // `host` is an IPv6 address
  std::uint16_t port = 80;
  std::string target;  // path and query as sent in the request line; "/" at least

  /// host[:port] for the Host header (the port only when not the scheme's default).
  std::string authority() const;
  /// The whole URL, e.g. "https://api.example.com:8443/v1/items?x=1".
  std::string text() const;
};

/// An HttpUrl, or why the text is none.
struct ParsedUrl {
  std::optional<HttpUrl> url;
  std::string error;  // e.g. "scheme must be http or https, got \"ftp\""
};

ParsedUrl parse_http_url(std::string_view text);

/// The absolute URL a Location header value points to, relative to `base` (RFC 3986 §5.2:
/// "/a", "a", "../a", "?q", "//host/a" and absolute URLs), parsed as above.
ParsedUrl resolve_location(const HttpUrl& base, std::string_view location);

}  // namespace orch::work
