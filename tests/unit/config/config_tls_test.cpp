// The TLS keys of the configuration: `tls:`, `admin_tls`, `allow_plaintext_tokens` and the
// tenants' `client_cert_names`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "orch/config/config.h"

namespace orch::config {
namespace {

std::string error_of(std::string_view yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(TlsConfig, OffByDefault) {
  const Config config = parse_config("tenants:\n  - name: t\n");
  EXPECT_FALSE(config.tls.has_value());
  EXPECT_FALSE(config.admin_tls);
  EXPECT_FALSE(config.allow_plaintext_tokens);
  EXPECT_TRUE(config.tenants[0].client_cert_names.empty());
  EXPECT_FALSE(default_config().tls.has_value());
  EXPECT_FALSE(default_config().admin_tls);
  EXPECT_FALSE(default_config().allow_plaintext_tokens);
}

TEST(TlsConfig, ReadsEveryTlsKey) {
  const Config config = parse_config(R"(
tls: {cert: /etc/o/server.pem, key: /etc/o/server.key, client_ca: /etc/o/ca.pem}
admin_tls: true
allow_plaintext_tokens: true
tenants:
  - name: alpha
    client_cert_names: [alpha.clients.example, "CN with spaces inside"]
  - name: beta
    token_sha256: 3f8ad42d6dc52445378196cb2e49281f812253eaea7830fe46f4756f2ca0a3d4
)");
  ASSERT_TRUE(config.tls.has_value());
  EXPECT_EQ(config.tls->cert, "/etc/o/server.pem");
  EXPECT_EQ(config.tls->key, "/etc/o/server.key");
  EXPECT_EQ(config.tls->client_ca, "/etc/o/ca.pem");
  EXPECT_TRUE(config.admin_tls);
  EXPECT_TRUE(config.allow_plaintext_tokens);
  EXPECT_EQ(config.tenants[0].client_cert_names,
            (std::vector<std::string>{"alpha.clients.example", "CN with spaces inside"}));
  EXPECT_TRUE(config.tenants[1].client_cert_names.empty());
}

TEST(TlsConfig, ClientCaIsOptional) {
  const Config config = parse_config("tls: {cert: s.pem, key: s.key}\ntenants: [{name: t}]\n");
  ASSERT_TRUE(config.tls.has_value());
  EXPECT_EQ(config.tls->client_ca, "");
}

TEST(TlsConfig, ErrorsNameTheKey) {
  EXPECT_EQ(error_of("tls: {cert: s.pem}\ntenants: [{name: t}]\n"),
            "test.yaml: tls.key: missing; TLS needs the certificate's private key (PEM)");
  EXPECT_EQ(error_of("tls: {key: s.key}\ntenants: [{name: t}]\n"),
            "test.yaml: tls.cert: missing; TLS needs the server's certificate (PEM)");
  EXPECT_EQ(error_of("tls: {cert: s.pem, key: \"\"}\ntenants: [{name: t}]\n"),
            "test.yaml: tls.key: must be the path of a PEM file, got \"\"");
  EXPECT_EQ(error_of("tls: {cert: [a], key: k}\ntenants: [{name: t}]\n"),
            "test.yaml: tls.cert: must be the path of a PEM file, got a list");
  EXPECT_EQ(error_of("tls: {cert: c, key: k, client_cert: x}\ntenants: [{name: t}]\n"),
            "test.yaml: tls: unknown key \"client_cert\"; known keys: cert, key, client_ca");
  EXPECT_EQ(error_of("tls: {cert: c, keys: k}\ntenants: [{name: t}]\n"),
            "test.yaml: tls: unknown key \"keys\"; did you mean \"key\"?");
  EXPECT_EQ(error_of("tls: server.pem\ntenants: [{name: t}]\n"),
            "test.yaml: tls: expected a mapping of keys, got \"server.pem\"");
  EXPECT_EQ(error_of("admin_tls: true\ntenants: [{name: t}]\n"),
            "test.yaml: admin_tls: needs a tls: section (cert and key) to serve HTTPS with");
  EXPECT_EQ(error_of("admin_tls: yes please\ntenants: [{name: t}]\n"),
            "test.yaml: admin_tls: must be true or false, got \"yes please\"");
  EXPECT_EQ(error_of("allow_plaintext_tokens: 1\ntenants: [{name: t}]\n"),
            "test.yaml: allow_plaintext_tokens: must be true or false, got \"1\"");
}

TEST(TlsConfig, ClientCertNamesNeedMtlsAndTellTenantsApart) {
  EXPECT_EQ(error_of("tenants: [{name: t, client_cert_names: [a]}]\n"),
            "test.yaml: tenants[0].client_cert_names: needs tls.client_ca: client certificates "
            "are only asked for with mTLS");
  EXPECT_EQ(error_of("tls: {cert: c, key: k}\ntenants: [{name: t, client_cert_names: [a]}]\n"),
            "test.yaml: tenants[0].client_cert_names: needs tls.client_ca: client certificates "
            "are only asked for with mTLS");
  const std::string mtls = "tls: {cert: c, key: k, client_ca: ca}\n";
  EXPECT_EQ(error_of(mtls + "tenants: [{name: t, client_cert_names: [a, b, a]}]\n"),
            "test.yaml: tenants[0].client_cert_names[2]: \"a\" is listed twice");
  EXPECT_EQ(error_of(mtls + R"(tenants:
  - {name: t, client_cert_names: [a, b]}
  - {name: u, token_sha256: 3f8ad42d6dc52445378196cb2e49281f812253eaea7830fe46f4756f2ca0a3d4,
     client_cert_names: [c, b]}
)"),
            "test.yaml: tenants[1].client_cert_names[1]: \"b\" is already a certificate name of "
            "tenants[0] (t)");
  EXPECT_EQ(error_of(mtls + "tenants: [{name: t, client_cert_names: [\"\"]}]\n"),
            "test.yaml: tenants[0].client_cert_names[0]: must be a certificate name (CN or SAN), "
            "got \"\"");
  EXPECT_EQ(error_of(mtls + "tenants: [{name: t, client_cert_names: [\" padded\"]}]\n"),
            "test.yaml: tenants[0].client_cert_names[0]: \" padded\" is not a certificate name "
            "(printable, at most 1024 bytes, no spaces at either end)");
  EXPECT_EQ(error_of(mtls + "tenants: [{name: t, client_cert_names: a}]\n"),
            "test.yaml: tenants[0].client_cert_names: must be a list of certificate names (CN or "
            "SAN), got \"a\"");
  // The tls section may come after the tenants.
  EXPECT_EQ(error_of("tenants: [{name: t, client_cert_names: [a]}]\n" + mtls), "");
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "orch-config-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(TlsConfig, LoadConfigFindsRelativePathsNextToTheFile) {
  TempDir dir;
  const auto file = dir.path() / "orchestrd.yaml";
  std::ofstream(file) << "tls: {cert: certs/server.pem, key: /abs/server.key, client_ca: ca.pem}\n"
                         "http: {ca_file: peers.pem}\n"
                         "tenants: [{name: t}]\n";
  const Config config = load_config(file);
  ASSERT_TRUE(config.tls.has_value());
  EXPECT_EQ(config.tls->cert, (dir.path() / "certs/server.pem").string());
  EXPECT_EQ(config.tls->key, "/abs/server.key");
  EXPECT_EQ(config.tls->client_ca, (dir.path() / "ca.pem").string());
  EXPECT_EQ(config.http.ca_file, (dir.path() / "peers.pem").string());
  // parse_config has no file, so it keeps the text as written.
  EXPECT_EQ(parse_config("tls: {cert: a.pem, key: a.key}\ntenants: [{name: t}]\n").tls->cert,
            "a.pem");
}

}  // namespace
}  // namespace orch::config
