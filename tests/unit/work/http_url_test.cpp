// The URLs of http nodes, and redirect targets resolved against them.
#include "orch/work/http_url.h"

#include <gtest/gtest.h>

namespace orch::work {
namespace {

HttpUrl url(std::string_view text) {
  auto parsed = parse_http_url(text);
  EXPECT_TRUE(parsed.url.has_value()) << text << ": " << parsed.error;
  return parsed.url.value_or(HttpUrl{});
}

std::string error(std::string_view text) {
  auto parsed = parse_http_url(text);
  EXPECT_FALSE(parsed.url.has_value()) << text;
  return parsed.error;
}

std::string resolved(std::string_view base, std::string_view location) {
  auto parsed = resolve_location(url(base), location);
  if (!parsed.url) return "error: " + parsed.error;
  return parsed.url->text();
}

TEST(HttpUrl, SplitsSchemeHostPortAndTarget) {
  const auto plain = url("http://Example.COM/a/b?x=1#frag");
  EXPECT_FALSE(plain.tls);
  EXPECT_EQ(plain.host, "example.com");
  EXPECT_EQ(plain.port, 80);
  EXPECT_EQ(plain.target, "/a/b?x=1");
  EXPECT_EQ(plain.authority(), "example.com");
  EXPECT_EQ(plain.text(), "http://example.com/a/b?x=1");

  const auto tls = url("HTTPS://api.example.com:8443");
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.port, 8443);
  EXPECT_EQ(tls.target, "/");
  EXPECT_EQ(tls.authority(), "api.example.com:8443");

  const auto v6 = url("http://[::1]:8080?q");
  EXPECT_TRUE(v6.ipv6);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.target, "/?q");
  EXPECT_EQ(v6.text(), "http://[::1]:8080/?q");
  EXPECT_EQ(url("https://h:443/").authority(), "h");
}

TEST(HttpUrl, RewritesNumericIpv4ShorthandsAsTheAddressTheyReach) {
  EXPECT_EQ(url("http://127.1/").host, "127.0.0.1");
  EXPECT_EQ(url("http://0x7f.0.0.1/").host, "127.0.0.1");
  EXPECT_EQ(url("http://2852039166/").host, "169.254.169.254");
  EXPECT_EQ(url("http://0251.0376.0251.0376/").host, "169.254.169.254");
  EXPECT_EQ(url("http://cafe.example/").host, "cafe.example");
  EXPECT_EQ(error("http://999.1.1.1/"), "host \"999.1.1.1\" is not a valid IPv4 address");
}

TEST(HttpUrl, RefusesWhatCannotBeFetched) {
  EXPECT_EQ(error(""), "must not be empty");
  EXPECT_EQ(error("ftp://example.com/"), "scheme must be http or https, got \"ftp\"");
  EXPECT_EQ(error("example.com/path"),
            "not an absolute URL; write it as http://HOST/PATH or https://HOST/PATH");
  EXPECT_EQ(error("http:///path"), "no host");
  EXPECT_EQ(error("http://:80/"), "no host");
  EXPECT_EQ(error("http://h:0/"), "port must be a number from 1 to 65535, got \"0\"");
  EXPECT_EQ(error("http://h:65536/"), "port must be a number from 1 to 65535, got \"65536\"");
  EXPECT_EQ(error("http://h:x/"), "port must be a number from 1 to 65535, got \"x\"");
  EXPECT_EQ(error("http://user:pw@h/"),
            "user info (user:password@) is not supported; send an Authorization header");
  EXPECT_EQ(error("http://h/a b"),
            "contains a space, a control character or a byte outside ASCII; percent-encode it");
  EXPECT_EQ(error("http://h/\r\nX: y"),
            "contains a space, a control character or a byte outside ASCII; percent-encode it");
  EXPECT_EQ(error("http://[::1/"), "no ']' after the IPv6 address");
  EXPECT_EQ(error("http://[fe80::1%25eth0]/"), "IPv6 zone ids are not supported");
  EXPECT_EQ(error("http://[nope]/"), "not an IPv6 address between [ and ]");
  EXPECT_EQ(error("http://a::1/"),
            "host \"a:\" is not a name or an address (IPv6 goes in brackets: http://[::1]/)");
  EXPECT_EQ(error("http://" + std::string(kMaxUrlBytes, 'a')), "longer than 8192 bytes");
}

TEST(RedirectLocation, ResolvesEveryFormOfReference) {
  const std::string base = "http://h:8080/a/b/c?q=1";
  EXPECT_EQ(resolved(base, "https://other.example/x"), "https://other.example/x");
  EXPECT_EQ(resolved(base, "//other.example/x"), "http://other.example/x");
  EXPECT_EQ(resolved(base, "/root?z"), "http://h:8080/root?z");
  EXPECT_EQ(resolved(base, "d"), "http://h:8080/a/b/d");
  EXPECT_EQ(resolved(base, "../d"), "http://h:8080/a/d");
  EXPECT_EQ(resolved(base, "./d/./e/../f"), "http://h:8080/a/b/d/f");
  EXPECT_EQ(resolved(base, "../../../../d"), "http://h:8080/d");
  EXPECT_EQ(resolved(base, "?other"), "http://h:8080/a/b/c?other");
  EXPECT_EQ(resolved(base, "#frag"), "http://h:8080/a/b/c?q=1");
  EXPECT_EQ(resolved(base, "  /spaced  "), "http://h:8080/spaced");
  EXPECT_EQ(resolved(base, "ftp://h/"), "error: scheme must be http or https, got \"ftp\"");
  EXPECT_EQ(resolved(base, ""), "error: the Location header is empty");
}

}  // namespace
}  // namespace orch::work
