// Transport security: which listeners are loopback, what they do with tokens, and the checks
// of the server's TLS files, with certificates made by the openssl CLI at test time.
#include "orch/tls/tls.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "http_peer.h"
#include "subprocess.h"

namespace orch::tls {
namespace {

using test::TestPki;

TEST(LoopbackListen, OnlyLoopbackAddressesAndLocalhostAreLoopback) {
  for (const char* loopback : {"127.0.0.1:50051", "127.0.0.2:0", "127.255.255.254:1",
                               "localhost:50051", "LocalHost:1", "[::1]:50051",
                               "[::ffff:127.0.0.1]:1"}) {
    EXPECT_TRUE(is_loopback_listen(loopback)) << loopback;
  }
  for (const char* other : {"0.0.0.0:50051", "[::]:50051", "10.0.0.1:50051", "128.0.0.1:1",
                            "126.255.255.255:1", "192.168.1.2:1", "[fe80::1%eth0]:1",
                            "[::ffff:10.0.0.1]:1", "example.com:50051", "localhost.example:1",
                            "my-host:1", ""}) {
    EXPECT_FALSE(is_loopback_listen(other)) << other;
  }
}

TEST(TokenPolicy, PlaintextTokensAreRefusedOnlyOffLoopbackWithoutPermission) {
  EXPECT_EQ(token_policy("127.0.0.1:50051", false, false), TokenPolicy::kAccept);
  EXPECT_EQ(token_policy("[::1]:50051", false, false), TokenPolicy::kAccept);
  EXPECT_EQ(token_policy("0.0.0.0:50051", false, false), TokenPolicy::kRefuse);
  EXPECT_EQ(token_policy("[::]:50051", false, false), TokenPolicy::kRefuse);
  EXPECT_EQ(token_policy("0.0.0.0:50051", false, true), TokenPolicy::kAcceptInClear);
  EXPECT_EQ(token_policy("0.0.0.0:50051", true, false), TokenPolicy::kAccept);
  EXPECT_EQ(token_policy("0.0.0.0:50051", true, true), TokenPolicy::kAccept);
  EXPECT_EQ(token_policy("127.0.0.1:50051", false, true), TokenPolicy::kAccept);
}

std::string error_of(const config::TlsConfig& tls) {
  try {
    load_server_pem(tls);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

class ServerPemTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return pki_.dir() + "/" + name; }
  config::TlsConfig good() const {
    return {pki_.server().cert_file, pki_.server().key_file, pki_.ca_file()};
  }

  TestPki pki_;
};

TEST_F(ServerPemTest, ReadsMatchingFiles) {
  const ServerPem pem = load_server_pem(good());
  EXPECT_NE(pem.cert_chain.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(pem.key.find("PRIVATE KEY-----"), std::string::npos);
  EXPECT_NE(pem.client_ca.find("-----BEGIN CERTIFICATE-----"), std::string::npos);

  config::TlsConfig no_mtls = good();
  no_mtls.client_ca.clear();
  EXPECT_EQ(load_server_pem(no_mtls).client_ca, "");
}

TEST_F(ServerPemTest, MissingOrUnreadableFilesNameTheKeyAndThePath) {
  config::TlsConfig tls = good();
  tls.cert = file("missing.pem");
  EXPECT_EQ(error_of(tls),
            "tls.cert: cannot read " + file("missing.pem") + ": No such file or directory");
  tls = good();
  tls.key = pki_.dir();
  EXPECT_EQ(error_of(tls), "tls.key: cannot read " + pki_.dir() + ": Is a directory");
  tls = good();
  tls.client_ca = file("missing-ca.pem");
  EXPECT_EQ(error_of(tls),
            "tls.client_ca: cannot read " + file("missing-ca.pem") + ": No such file or directory");
}

TEST_F(ServerPemTest, WrongContentsAreRefused) {
  config::TlsConfig tls = good();
  tls.cert = pki_.server().key_file;  // a key where the certificate belongs
  EXPECT_EQ(error_of(tls), "tls.cert: " + tls.cert + " holds no PEM certificate");

  tls = good();
  tls.key = pki_.server().cert_file;
  EXPECT_EQ(error_of(tls), "tls.key: " + tls.key +
                               " holds no PEM private key (an encrypted key is not supported)");

  tls = good();
  tls.client_ca = pki_.server().key_file;
  EXPECT_EQ(error_of(tls), "tls.client_ca: " + tls.client_ca + " holds no PEM certificate");

  std::ofstream(file("empty.pem")).flush();
  tls = good();
  tls.cert = file("empty.pem");
  EXPECT_EQ(error_of(tls), "tls.cert: " + tls.cert + " holds no PEM certificate");
}

TEST_F(ServerPemTest, AKeyOfAnotherCertificateIsRefused) {
  config::TlsConfig tls = good();
  tls.key = pki_.other().key_file;
  EXPECT_EQ(error_of(tls), "tls.key: " + tls.key + " does not belong to the certificate in "
                                                   "tls.cert (" + tls.cert + ")");
}

TEST_F(ServerPemTest, AnEncryptedKeyIsRefusedWithoutAPrompt) {
  const auto made = test::run_command({"/usr/bin/openssl", "pkey", "-in", pki_.server().key_file,
                                       "-aes256", "-passout", "pass:secret", "-out",
                                       file("encrypted.key")});
  ASSERT_EQ(made.exit_code, 0) << test::describe(made);
  config::TlsConfig tls = good();
  tls.key = file("encrypted.key");
  EXPECT_EQ(error_of(tls), "tls.key: " + tls.key +
                               " holds no PEM private key (an encrypted key is not supported)");
}

}  // namespace
}  // namespace orch::tls
