// TLS and mTLS on the real daemon, with certificates made by the openssl CLI at test time:
// orchctl and the C++ client over TLS, client certificates that pick a tenant, certificates
// the daemon must refuse, HTTPS on the admin port, and tokens refused over plaintext on a
// listener that is not loopback.
#include <gtest/gtest.h>

#include <fstream>

#include "daemon_process.h"
#include "http_get.h"
#include "http_peer.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "test_support.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

// Refusals at the TLS handshake surface as UNAVAILABLE after gRPC's connect attempt; a short
// deadline keeps such a test from waiting for reconnect back-off.
constexpr auto kRefusedDeadline = std::chrono::seconds(10);

// Tenants alpha and beta with tokens (and, with `mtls`, certificate names: alpha by a SAN DNS
// name, beta by its CN), the `tls:` section, and `extra` lines.
std::string tls_yaml(const TestPki& pki, bool mtls, const std::string& extra = {}) {
  std::string yaml = "threads: 2\nshutdown_grace: 200ms\nlog_level: debug\n";
  yaml += "tls:\n  cert: " + pki.server().cert_file + "\n  key: " + pki.server().key_file + "\n";
  if (mtls) yaml += "  client_ca: " + pki.ca_file() + "\n";
  yaml += extra;
  yaml += "tenants:\n";
  yaml += "  - name: alpha\n    token_sha256: " + token_sha256(kAlpha) + "\n";
  if (mtls) yaml += "    client_cert_names: [alpha.clients.test]\n";
  yaml += "  - name: beta\n    token_sha256: " + token_sha256(kBeta) + "\n";
  if (mtls) yaml += "    client_cert_names: [beta-client]\n";
  return yaml;
}

oc::ClientTls client_tls(const TestPki& pki, const std::optional<PeerTls>& cert = std::nullopt) {
  oc::ClientTls tls{.ca_pem = oc::read_pem_file(pki.ca_file())};
  if (cert) {
    tls.cert_pem = oc::read_pem_file(cert->cert_file);
    tls.key_pem = oc::read_pem_file(cert->key_file);
  }
  return tls;
}

oc::Client tls_client(const DaemonProcess& daemon, oc::ClientTls tls, std::string token = {}) {
  return oc::Client(oc::ClientOptions{daemon.grpc_address(), std::move(token), std::move(tls)});
}

grpc::Status who_am_i(oc::Client& client, v1::WhoAmIResponse& response) {
  return client.who_am_i(response, std::chrono::duration_cast<std::chrono::milliseconds>(
                                       kRefusedDeadline));
}

std::vector<std::string> tls_flags(const TestPki& pki, const std::optional<PeerTls>& cert = {}) {
  std::vector<std::string> flags = {"--tls-ca", pki.ca_file()};
  if (cert) {
    flags.insert(flags.end(), {"--tls-cert", cert->cert_file, "--tls-key", cert->key_file});
  }
  return flags;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Tls, OrchctlAndTheClientWorkOverTls) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/false));
  EXPECT_NE(daemon.log().find("gRPC TLS: certificate " + pki.server().cert_file +
                              ", no client certificates"),
            std::string::npos);

  const auto whoami = daemon.orchctl(kAlpha)(tls_flags(pki) + std::vector<std::string>{
                                                                  "-o", "json", "whoami"});
  ASSERT_EQ(whoami.exit_code, 0) << describe(whoami);
  EXPECT_EQ(parse_json<v1::WhoAmIResponse>(whoami.out).tenant(), "alpha");

  auto client = tls_client(daemon, client_tls(pki), kBeta);
  const std::string id = spawn_task(client, oc::sleep(std::chrono::milliseconds(10)));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(join_task(client, id).state(), v1::TASK_STATE_SUCCEEDED);

  // orchctl takes the same settings from the environment.
  const auto by_env = run_command(
      {"/usr/bin/env", "ORCH_TLS_CA=" + pki.ca_file(), "ORCH_TOKEN=" + std::string(kBeta),
       "ORCH_ADDR=" + daemon.grpc_address(), kOrchctl, "get", id});
  ASSERT_EQ(by_env.exit_code, 0) << describe(by_env);
  EXPECT_NE(by_env.out.find(id), std::string::npos) << by_env.out;
}

TEST(Tls, APlaintextClientCannotTalkToATlsServer) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/false));
  auto plain = daemon.client(kAlpha);
  v1::WhoAmIResponse response;
  const auto status = who_am_i(plain, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(status);
  EXPECT_EQ(response.tenant(), "");

  const auto run = daemon.orchctl(kAlpha)({"whoami"}, {}, std::chrono::seconds(30));
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(run.err.starts_with("UNAVAILABLE")) << run.err;
}

TEST(Tls, AClientThatDoesNotTrustTheServerRefusesIt) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/false));
  // Verified against another CA: the server's certificate does not chain to it.
  auto client = tls_client(
      daemon, oc::ClientTls{.ca_pem = oc::read_pem_file(pki.foreign_ca_file())}, kAlpha);
  v1::WhoAmIResponse response;
  EXPECT_EQ(who_am_i(client, response).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The right CA but a name the certificate does not have.
  oc::ClientTls wrong_name = client_tls(pki);
  wrong_name.server_name = "other.example";
  auto misnamed = tls_client(daemon, wrong_name, kAlpha);
  EXPECT_EQ(who_am_i(misnamed, response).error_code(), grpc::StatusCode::UNAVAILABLE);
  // ... which --tls-server-name fixes when it is one of the certificate's names.
  wrong_name.server_name = "localhost";
  auto renamed = tls_client(daemon, wrong_name, kAlpha);
  const auto status = who_am_i(renamed, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "alpha");
}

TEST(Mtls, AClientWithoutACertificateIsRefused) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/true));
  EXPECT_NE(daemon.log().find("client certificates required"), std::string::npos);
  auto client = tls_client(daemon, client_tls(pki), kAlpha);  // a valid token is not enough
  v1::WhoAmIResponse response;
  const auto status = who_am_i(client, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(status);
  EXPECT_EQ(response.tenant(), "");

  const auto run = daemon.orchctl(kAlpha)(tls_flags(pki) + std::vector<std::string>{"whoami"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
}

TEST(Mtls, ACertificateOfAnotherCaIsRefused) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/true));
  // Same names as alpha's mapped certificate, but signed by a CA the daemon does not trust.
  const PeerTls forged = pki.foreign_client("forged-alpha", "DNS:alpha.clients.test");
  auto client = tls_client(daemon, client_tls(pki, forged));
  v1::WhoAmIResponse response;
  const auto status = who_am_i(client, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(status);
  EXPECT_EQ(response.tenant(), "");

  const auto run = daemon.orchctl()(tls_flags(pki, forged) + std::vector<std::string>{"whoami"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
}

TEST(Mtls, AMappedCertificateActsAsItsTenantAndSeesOnlyItsTasks) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/true));
  const PeerTls alpha_cert = pki.client("alpha-laptop", "DNS:alpha.clients.test");
  const PeerTls beta_cert = pki.client("beta-client");  // mapped by its CN

  auto alpha = tls_client(daemon, client_tls(pki, alpha_cert));  // no token
  auto beta = tls_client(daemon, client_tls(pki, beta_cert));
  v1::WhoAmIResponse response;
  auto status = who_am_i(alpha, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "alpha");
  status = who_am_i(beta, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "beta");

  const std::string alpha_task = spawn_task(alpha, oc::sleep(std::chrono::seconds(30)), "mine");
  const std::string beta_task = spawn_task(beta, oc::sleep(std::chrono::seconds(30)), "theirs");
  ASSERT_FALSE(alpha_task.empty());
  ASSERT_FALSE(beta_task.empty());

  v1::ListTasksResponse listed;
  status = alpha.list(v1::ListTasksRequest{}, listed, std::chrono::seconds(10));
  ASSERT_TRUE(status.ok()) << describe(status);
  ASSERT_EQ(listed.tasks_size(), 1);
  EXPECT_EQ(listed.tasks(0).id(), alpha_task);

  v1::GetTaskRequest get;
  get.set_id(beta_task);
  v1::TaskInfo info;
  status = alpha.get(get, info, std::chrono::seconds(10));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << describe(status);

  // orchctl with the certificate and no token is alpha too.
  const auto run = daemon.orchctl()(tls_flags(pki, alpha_cert) +
                                    std::vector<std::string>{"-o", "json", "whoami"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(parse_json<v1::WhoAmIResponse>(run.out).tenant(), "alpha");
  EXPECT_EQ(parse_json<v1::WhoAmIResponse>(run.out).usage().live_tasks(), 1u);
}

TEST(Mtls, AnUnmappedCertificateNeedsAToken) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/true));
  const PeerTls gateway = pki.client("gateway", "DNS:gateway.test");

  auto anonymous = tls_client(daemon, client_tls(pki, gateway));
  v1::WhoAmIResponse response;
  auto status = who_am_i(anonymous, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(status);
  EXPECT_EQ(status.error_message(),
            "no authorization metadata, and no tenant has the client certificate's names "
            "(gateway, gateway.test) in client_cert_names");

  auto with_token = tls_client(daemon, client_tls(pki, gateway), kBeta);
  status = who_am_i(with_token, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "beta");

  // A mapped certificate with another tenant's token is refused.
  auto mixed = tls_client(daemon, client_tls(pki, pki.client("beta-client")), kAlpha);
  status = who_am_i(mixed, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(status);
  EXPECT_EQ(status.error_message(),
            "the token and the client certificate belong to different tenants");
}

// curl, never through a proxy, with its errors on stderr.
CommandResult curl(const std::vector<std::string>& args) {
  return run_command(std::vector<std::string>{"/usr/bin/curl", "--noproxy", "*", "-sS"} + args);
}

TEST(AdminTls, MetricsAreServedOverHttps) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/false, "admin_tls: true\n"));
  const std::string url = "https://127.0.0.1:" + std::to_string(daemon.admin_port()) + "/metrics";
  const auto fetched = curl({"--fail", "--cacert", pki.ca_file(), url});
  ASSERT_EQ(fetched.exit_code, 0) << describe(fetched);
  EXPECT_NE(fetched.out.find("orch_grpc_requests_total"), std::string::npos) << fetched.out;

  // A client that does not trust the certificate refuses it; plain HTTP gets no answer.
  const auto untrusted = curl({"--cacert", pki.foreign_ca_file(), url});
  EXPECT_NE(untrusted.exit_code, 0) << describe(untrusted);
  const auto plain = http_get(daemon.admin_port(), "/metrics", std::chrono::seconds(10));
  EXPECT_NE(plain.status, 200);
  // The daemon keeps serving HTTPS after that.
  const auto again = curl({"--fail", "--cacert", pki.ca_file(),
                           "https://127.0.0.1:" + std::to_string(daemon.admin_port()) + "/readyz"});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(again.out, "ready\n");
}

TEST(AdminTls, WithoutAdminTlsTheAdminPortStaysPlainHttp) {
  TestPki pki;
  DaemonProcess daemon(tls_yaml(pki, /*mtls=*/false));
  EXPECT_EQ(http_get(daemon.admin_port(), "/healthz").status, 200);
}

// Two token tenants and a token-less one, as YAML.
std::string plaintext_yaml(const std::string& extra = {}) {
  return "threads: 2\nshutdown_grace: 200ms\nlog_level: debug\n" + extra +
         "tenants:\n  - name: alpha\n    token_sha256: " + token_sha256(kAlpha) +
         "\n  - name: open\n";
}

TEST(PlaintextTokens, AreRefusedOnAListenerThatIsNotLoopback) {
  // 0.0.0.0 accepts other hosts; the test itself connects through 127.0.0.1, and the token is
  // refused all the same: the rule follows the listener, not the peer.
  DaemonProcess daemon(plaintext_yaml(), "0.0.0.0:0");
  EXPECT_NE(daemon.log().find("listen 0.0.0.0:0 is not loopback and has no TLS: calls with a "
                              "bearer token are refused"),
            std::string::npos)
      << daemon.log();

  auto alpha = daemon.client(kAlpha);
  v1::WhoAmIResponse response;
  auto status = who_am_i(alpha, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << describe(status);
  EXPECT_NE(status.error_message().find("bearer tokens are refused on this plaintext listener"),
            std::string::npos)
      << status.error_message();
  // A wrong token gets the same answer: nothing is learned about tokens in clear text.
  auto wrong = daemon.client("not-a-token");
  EXPECT_EQ(who_am_i(wrong, response).error_message(), status.error_message());

  // Calls without a token are unaffected.
  auto open = daemon.client();
  status = who_am_i(open, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "open");
}

TEST(PlaintextTokens, AllowPlaintextTokensAcceptsThemWithAWarning) {
  DaemonProcess daemon(plaintext_yaml("allow_plaintext_tokens: true\n"), "0.0.0.0:0");
  EXPECT_NE(daemon.log().find("[warning] listen 0.0.0.0:0 is not loopback and has no TLS, and "
                              "allow_plaintext_tokens is true: bearer tokens cross the network "
                              "in clear text"),
            std::string::npos)
      << daemon.log();
  auto alpha = daemon.client(kAlpha);
  v1::WhoAmIResponse response;
  const auto status = who_am_i(alpha, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "alpha");
}

TEST(PlaintextTokens, LoopbackListenersAcceptThemAsBefore) {
  DaemonProcess daemon(plaintext_yaml());
  EXPECT_EQ(daemon.log().find("is not loopback"), std::string::npos) << daemon.log();
  auto alpha = daemon.client(kAlpha);
  v1::WhoAmIResponse response;
  const auto status = who_am_i(alpha, response);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.tenant(), "alpha");
}

// orchestrd with `yaml` written to DIR/orchestrd.yaml; it must stop at start-up.
CommandResult start_failure(const TestPki& pki, const std::string& yaml) {
  const std::string path = pki.dir() + "/orchestrd.yaml";
  std::ofstream(path) << yaml;
  return run_command({kOrchestrd, "--config", path, "--listen", "127.0.0.1:0", "--admin-listen",
                      "127.0.0.1:0"},
                     {}, std::chrono::seconds(30));
}

TEST(TlsStartup, UnusableFilesStopStartUpNamingTheKey) {
  TestPki pki;
  const std::string tenants = "tenants: [{name: t}]\n";
  // Relative paths are found next to the config file.
  auto run = start_failure(pki, "tls: {cert: server.pem, key: missing.key}\n" + tenants);
  EXPECT_EQ(run.exit_code, 2) << describe(run);
  EXPECT_EQ(run.err, "orchestrd: tls.key: cannot read " + pki.dir() +
                         "/missing.key: No such file or directory\n");

  run = start_failure(pki, "tls: {cert: server.pem, key: other.key}\n" + tenants);
  EXPECT_EQ(run.exit_code, 2) << describe(run);
  EXPECT_EQ(run.err, "orchestrd: tls.key: " + pki.dir() +
                         "/other.key does not belong to the certificate in tls.cert (" +
                         pki.dir() + "/server.pem)\n");

  run = start_failure(pki, "tls: {cert: server.pem, key: server.key, client_ca: server.key}\n" +
                               tenants);
  EXPECT_EQ(run.exit_code, 2) << describe(run);
  EXPECT_EQ(run.err, "orchestrd: tls.client_ca: " + pki.dir() + "/server.key holds no PEM "
                     "certificate\n");

  run = start_failure(pki, "admin_tls: true\n" + tenants);
  EXPECT_EQ(run.exit_code, 2) << describe(run);
  EXPECT_NE(run.err.find("admin_tls: needs a tls: section"), std::string::npos) << run.err;
}

TEST(TlsStartup, OrchctlNamesAnUnreadableFile) {
  const auto run = run_orchctl({"--tls-ca", "/nonexistent/ca.pem", "whoami"});
  EXPECT_EQ(run.exit_code, 2) << describe(run);
  EXPECT_EQ(run.err,
            "error: --tls-ca: cannot read /nonexistent/ca.pem: No such file or directory\n");
  const auto half = run_orchctl({"--tls-cert", "/nonexistent/c.pem", "whoami"});
  EXPECT_EQ(half.exit_code, 2) << describe(half);
  EXPECT_EQ(half.err, "error: --tls-cert needs --tls-key\n");
}

}  // namespace
}  // namespace orch::test
