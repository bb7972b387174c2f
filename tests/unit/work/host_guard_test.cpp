// Host patterns of http_allow_hosts / http_deny_hosts: globs, addresses and CIDR ranges.
#include "orch/work/host_guard.h"

#include <gtest/gtest.h>

namespace orch::work {
namespace {

HostPattern pattern(std::string_view text) {
  std::string why;
  auto parsed = HostPattern::parse(text, why);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << why;
  if (!parsed) std::abort();
  return *parsed;
}

std::string parse_error(std::string_view text) {
  std::string why;
  EXPECT_FALSE(HostPattern::parse(text, why).has_value()) << text;
  return why;
}

IpAddress ip(std::string_view text) {
  auto address = parse_ip_address(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

HostGuard guard(const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
  std::string why;
  auto parsed = HostGuard::parse(allow, deny, why);
  EXPECT_TRUE(parsed.has_value()) << why;
  if (!parsed) std::abort();
  return *parsed;
}

TEST(IpAddress, ParsesBothFamiliesAndFoldsMappedIpv4) {
  EXPECT_FALSE(ip("10.1.2.3").v6);
  EXPECT_TRUE(ip("fd00:ec2::254").v6);
  EXPECT_EQ(ip("::ffff:10.1.2.3"), ip("10.1.2.3"));
  EXPECT_EQ(to_string(ip("::ffff:10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(to_string(ip("FD00:EC2:0::254")), "fd00:ec2::254");
  EXPECT_FALSE(parse_ip_address("10.1.2").has_value());
  EXPECT_FALSE(parse_ip_address("example.com").has_value());
  EXPECT_FALSE(parse_ip_address("[::1]").has_value());
  EXPECT_FALSE(parse_ip_address("").has_value());
}

TEST(HostPattern, GlobsMatchNamesWithoutRegardToCase) {
  const auto any = pattern("*");
  EXPECT_TRUE(any.matches_name("example.com"));
  EXPECT_TRUE(any.matches_address(ip("10.0.0.1")));
  const auto sub = pattern("*.Example.COM");
  EXPECT_TRUE(sub.matches_name("api.example.com"));
  EXPECT_TRUE(sub.matches_name("a.b.example.com"));
  EXPECT_FALSE(sub.matches_name("example.com"));
  EXPECT_FALSE(sub.matches_name("evil-example.com"));
  const auto one = pattern("api-?.internal");
  EXPECT_TRUE(one.matches_name("api-1.internal"));
  EXPECT_FALSE(one.matches_name("api-12.internal"));
  EXPECT_FALSE(sub.is_address());
}

TEST(HostPattern, CidrRangesMatchAddressesOfTheirFamily) {
  const auto ten = pattern("10.0.0.0/8");
  EXPECT_TRUE(ten.is_address());
  EXPECT_TRUE(ten.matches_address(ip("10.255.1.2")));
  EXPECT_FALSE(ten.matches_address(ip("11.0.0.1")));
  EXPECT_TRUE(ten.matches_address(ip("::ffff:10.9.9.9")));
  EXPECT_FALSE(ten.matches_name("10.0.0.1"));  // names are for globs; addresses are checked as such
  const auto twelve = pattern("172.16.0.0/12");
  EXPECT_TRUE(twelve.matches_address(ip("172.31.255.255")));
  EXPECT_FALSE(twelve.matches_address(ip("172.32.0.0")));
  const auto ula = pattern("fc00::/7");
  EXPECT_TRUE(ula.matches_address(ip("fd00:ec2::254")));
  EXPECT_FALSE(ula.matches_address(ip("fe80::1")));
  EXPECT_FALSE(ula.matches_address(ip("10.0.0.1")));
  const auto one = pattern("169.254.169.254");
  EXPECT_TRUE(one.matches_address(ip("169.254.169.254")));
  EXPECT_FALSE(one.matches_address(ip("169.254.169.253")));
  EXPECT_TRUE(pattern("[::1]").matches_address(ip("::1")));
  EXPECT_TRUE(pattern("0.0.0.0/0").matches_address(ip("8.8.8.8")));
}

TEST(HostPattern, RefusesWhatIsNoneOfTheForms) {
  EXPECT_EQ(parse_error(""), "a pattern must not be empty");
  EXPECT_EQ(parse_error("10.0.0.0/33"), "the prefix must be 0 to 32 for IPv4");
  EXPECT_EQ(parse_error("fc00::/129"), "the prefix must be 0 to 128 for IPv6");
  EXPECT_EQ(parse_error("10.0.0.1/8"),
            "host bits are set after the /8 prefix; did you mean \"10.0.0.0/8\"?");
  EXPECT_EQ(parse_error("10.0.0.0/x"),
            "not a CIDR range: the prefix length after '/' must be a number");
  EXPECT_EQ(parse_error("example.com/8"),
            "not a CIDR range: the part before '/' must be an IPv4 or IPv6 address");
  EXPECT_TRUE(
      parse_error("exa mple.com").starts_with("not an address, a CIDR range or a host-name glob"));
}

TEST(HostGuard, ParseNamesTheListAndIndexOfABadPattern) {
  std::string why;
  EXPECT_FALSE(HostGuard::parse({"*"}, {"169.254.0.0/16", "10.0.0.0/33"}, why).has_value());
  EXPECT_EQ(why, "http_deny_hosts[1]: \"10.0.0.0/33\": the prefix must be 0 to 32 for IPv4");
}

TEST(HostGuard, TheDefaultsDenyLinkLocalMetadataAddresses) {
  const auto defaults = guard(HostGuard::default_allow(), HostGuard::default_deny());
  EXPECT_EQ(defaults.check_host("169.254.169.254"),
            "host 169.254.169.254 is denied by http_deny_hosts pattern \"169.254.0.0/16\"");
  EXPECT_EQ(defaults.check_host("fd00:ec2::254"),
            "host fd00:ec2::254 is denied by http_deny_hosts pattern \"fd00:ec2::254\"");
  EXPECT_EQ(defaults.check_host("::ffff:169.254.169.254"),
            "host ::ffff:169.254.169.254 is denied by http_deny_hosts pattern \"169.254.0.0/16\"");
  EXPECT_EQ(defaults.check_host("example.com"), std::nullopt);
  EXPECT_EQ(defaults.check_host("127.0.0.1"), std::nullopt);
  const std::vector<IpAddress> metadata = {ip("93.184.216.34"), ip("169.254.169.254")};
  EXPECT_EQ(defaults.check_addresses("metadata.example", metadata),
            "host metadata.example resolves to 169.254.169.254, which is denied by http_deny_hosts "
            "pattern \"169.254.0.0/16\"");
}

TEST(HostGuard, DenyWinsOverAllow) {
  const auto g = guard({"*.example.com", "10.0.0.0/8"}, {"secret.example.com", "10.0.0.5"});
  EXPECT_EQ(g.check_host("secret.example.com"),
            "host secret.example.com is denied by http_deny_hosts pattern \"secret.example.com\"");
  EXPECT_EQ(g.check_host("10.0.0.5"),
            "host 10.0.0.5 is denied by http_deny_hosts pattern \"10.0.0.5\"");
  EXPECT_EQ(g.check_host("10.0.0.6"), std::nullopt);
  EXPECT_EQ(g.check_host("api.example.com"), std::nullopt);
}

TEST(HostGuard, ANameMatchingNoAllowGlobIsRefusedUnlessAddressesMayAllowIt) {
  const auto names_only = guard({"*.example.com"}, {});
  EXPECT_EQ(names_only.check_host("evil.test"),
            "host evil.test is not in http_allow_hosts [\"*.example.com\"]");
  EXPECT_EQ(names_only.check_host("10.0.0.1"),
            "host 10.0.0.1 is not in http_allow_hosts [\"*.example.com\"]");
  // A glob-allowed name may resolve anywhere that is not denied.
  const std::vector<IpAddress> anywhere = {ip("192.0.2.1")};
  EXPECT_EQ(names_only.check_addresses("api.example.com", anywhere), std::nullopt);

  const auto ranges = guard({"10.0.0.0/8"}, {});
  EXPECT_EQ(ranges.check_host("internal.svc"), std::nullopt);  // decided once resolved
  const std::vector<IpAddress> inside = {ip("10.1.2.3"), ip("10.3.2.1")};
  const std::vector<IpAddress> outside = {ip("10.1.2.3"), ip("192.0.2.1")};
  EXPECT_EQ(ranges.check_addresses("internal.svc", inside), std::nullopt);
  EXPECT_EQ(ranges.check_addresses("internal.svc", outside),
            "host internal.svc resolves to 192.0.2.1, which is not in http_allow_hosts "
            "[\"10.0.0.0/8\"]");
}

TEST(HostGuard, DenyGlobsAlsoMatchTheTextOfResolvedAddresses) {
  const auto g = guard({"*"}, {"10.*"});
  const std::vector<IpAddress> ten = {ip("10.9.8.7")};
  EXPECT_EQ(g.check_host("10.9.8.7"),
            "host 10.9.8.7 is denied by http_deny_hosts pattern \"10.*\"");
  EXPECT_EQ(g.check_addresses("db.internal", ten),
            "host db.internal resolves to 10.9.8.7, which is denied by http_deny_hosts pattern "
            "\"10.*\"");
}

}  // namespace
}  // namespace orch::work
