// http nodes end to end: the real orchestrd sends requests to HttpPeer servers the tests start on
// loopback (plain and TLS with a CA made by the openssl CLI), and the tests read back what the
// daemon reports and what the server saw.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "daemon_process.h"
#include "http_peer.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

constexpr auto kWait = std::chrono::seconds(10);

// A daemon config with tenant alpha; `top` goes first (e.g. an `http:` section), `tenant`
// after alpha's own keys (e.g. http_deny_hosts).
std::string http_config(const std::string& tenant = {}, const std::string& top = {}) {
  TestConfig config;
  config.tenants = {TestTenant{.name = "alpha", .token = kAlpha}};
  return top + config.yaml() + tenant;
}

std::string ca_config(const TestPki& pki) { return "http:\n  ca_file: " + pki.ca_file() + "\n"; }

v1::TaskSpec get(const std::string& url) { return oc::http("GET", url); }

PeerReply reply(unsigned status, std::string body = {}, PeerHeaders headers = {}) {
  PeerReply r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

PeerReply hang() {
  PeerReply r;
  r.hang = true;
  return r;
}

v1::TaskInfo run(DaemonProcess& daemon, const v1::TaskSpec& spec) {
  auto client = daemon.client(kAlpha);
  return join_task(client, spawn_task(client, spec));
}

std::string header_of(const v1::HttpOutput& http, std::string_view name) {
  for (const auto& header : http.headers()) {
    if (header.name() == name) return header.value();
  }
  return {};
}

TEST(HttpNode, ReturnsStatusHeadersAndBodyAndSendsFencingHeaders) {
  HttpPeer peer([](const PeerRequest& r, std::size_t) {
    return reply(200, "hello from " + r.target,
                 {{"X-Reply", "yes"}, {"Content-Type", "text/plain"}});
  });
  DaemonProcess daemon(http_config());
  auto client = daemon.client(kAlpha);
  v1::TaskSpec spec = get(peer.url("/hello?x=1"));
  (*spec.mutable_http()->mutable_headers())["X-Test"] = "42";
  const std::string id = spawn_task(client, spec);
  const auto task = join_task(client, id);

  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.result().error();
  const auto& http = task.result().http();
  EXPECT_EQ(http.status(), 200u);
  EXPECT_EQ(http.reason(), "OK");
  EXPECT_EQ(http.body(), "hello from /hello?x=1");
  EXPECT_FALSE(http.truncated());
  EXPECT_EQ(http.url(), peer.url("/hello?x=1"));
  EXPECT_EQ(header_of(http, "X-Reply"), "yes");
  EXPECT_EQ(header_of(http, "Content-Type"), "text/plain");
  EXPECT_EQ(task.result().attempts(), 1u);
  EXPECT_GT(task.result().fencing_token(), 0u);
  EXPECT_EQ(task.spec().http().url(), peer.url("/hello?x=1"));

  const auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/hello?x=1");
  EXPECT_EQ(requests[0].header("X-Test"), "42");
  EXPECT_EQ(requests[0].header("Host"), "127.0.0.1:" + std::to_string(peer.port()));
  EXPECT_TRUE(starts_with(requests[0].header("User-Agent"), "orchestrd/"));
  EXPECT_EQ(requests[0].header("X-Orch-Task-Id"), id);
  EXPECT_EQ(requests[0].header("X-Orch-Attempt"), "1");
  EXPECT_EQ(requests[0].header("X-Orch-Fencing-Token"),
            std::to_string(task.result().fencing_token()));
}

TEST(HttpNode, SendsTheBodyAndReadsAChunkedReply) {
  HttpPeer peer([](const PeerRequest& r, std::size_t) {
    PeerReply echo = reply(201, r.method + " " + r.header("Content-Type") + " " + r.body);
    echo.chunked = true;
    return echo;
  });
  DaemonProcess daemon(http_config());
  v1::TaskSpec spec = oc::http("POST", peer.url("/items"));
  (*spec.mutable_http()->mutable_headers())["Content-Type"] = "application/json";
  spec.mutable_http()->set_body("{\"n\":1}");
  const auto task = run(daemon, spec);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.result().error();
  EXPECT_EQ(task.result().http().status(), 201u);
  EXPECT_EQ(task.result().http().body(), "POST application/json {\"n\":1}");
  EXPECT_EQ(peer.requests().at(0).header("Content-Length"), "7");
}

TEST(HttpNode, AStatusOf400OrMoreFailsKeepingTheResponseUnlessAccepted) {
  HttpPeer peer([](const PeerRequest&, std::size_t) { return reply(404, "no such thing"); });
  DaemonProcess daemon(http_config());
  const auto failed = run(daemon, get(peer.url("/missing")));
  EXPECT_EQ(failed.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(failed.result().error(), "status: 404 Not Found");
  EXPECT_EQ(failed.result().http().status(), 404u);
  EXPECT_EQ(failed.result().http().body(), "no such thing");

  v1::TaskSpec accepting = get(peer.url("/missing"));
  accepting.mutable_http()->add_accept_status(404);
  const auto accepted = run(daemon, accepting);
  EXPECT_EQ(accepted.state(), v1::TASK_STATE_SUCCEEDED) << accepted.result().error();
  EXPECT_EQ(accepted.result().http().status(), 404u);
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(),
                              "orch_http_responses_total{class=\"4xx\",tenant=\"alpha\"}", 2));
  EXPECT_TRUE(wait_for_sample(
      daemon.admin_port(),
      "orch_task_attempt_failures_total{kind=\"http\",reason=\"status\",tenant=\"alpha\"}", 1));
}

TEST(HttpNode, CutsTheBodyAtMaxResponseBytesAndClosesTheConnection) {
  HttpPeer peer([](const PeerRequest& r, std::size_t) {
    if (r.target == "/big") return reply(200, std::string(10'000, 'a'));
    if (r.target == "/exact") return reply(200, std::string(1000, 'b'));
    if (r.target == "/exact-chunked") {
      PeerReply chunked = reply(200, std::string(1000, 'c'));
      chunked.chunked = true;
      return chunked;
    }
    PeerReply endless = reply(200);
    endless.endless = true;
    return endless;
  });
  DaemonProcess daemon(http_config());
  const auto capped = [&](const std::string& path) {
    v1::TaskSpec spec = get(peer.url(path));
    spec.mutable_http()->set_max_response_bytes(1000);
    return run(daemon, spec);
  };

  const auto big = capped("/big");
  ASSERT_EQ(big.state(), v1::TASK_STATE_SUCCEEDED) << big.result().error();
  EXPECT_EQ(big.result().http().body(), std::string(1000, 'a'));
  EXPECT_TRUE(big.result().http().truncated());

  for (const char* path : {"/exact", "/exact-chunked"}) {
    const auto exact = capped(path);
    ASSERT_EQ(exact.state(), v1::TASK_STATE_SUCCEEDED) << exact.result().error();
    EXPECT_EQ(exact.result().http().body().size(), 1000u) << path;
    EXPECT_FALSE(exact.result().http().truncated()) << path;
  }

  // A body that never ends: cut at the cap, and the connection closed under the server.
  const auto endless = capped("/endless");
  ASSERT_EQ(endless.state(), v1::TASK_STATE_SUCCEEDED) << endless.result().error();
  EXPECT_EQ(endless.result().http().body(), std::string(1000, 'x'));
  EXPECT_TRUE(endless.result().http().truncated());
  EXPECT_TRUE(peer.wait_for_client_closes(1, kWait));
}

TEST(HttpNode, ConnectionRefusedFailsWithReasonConnect) {
  const std::uint16_t port = unused_port();
  DaemonProcess daemon(http_config());
  const auto task = run(daemon, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.result().error(),
            "connect: 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  EXPECT_EQ(task.result().http().status(), 0u);
  EXPECT_TRUE(wait_for_sample(
      daemon.admin_port(),
      "orch_task_attempt_failures_total{kind=\"http\",reason=\"connect\",tenant=\"alpha\"}", 1));
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(),
                              "orch_http_responses_total{class=\"error\",tenant=\"alpha\"}", 1));
}

TEST(HttpNode, AHostThatDoesNotResolveFailsWithReasonDns) {
  DaemonProcess daemon(http_config());
  v1::TaskSpec spec = get("http://no-such-host.invalid/");
  spec.mutable_http()->mutable_connect_timeout()->set_seconds(5);
  const auto task = run(daemon, spec);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_TRUE(starts_with(task.result().error(), "dns: ")) << task.result().error();
}

TEST(HttpNode, AConnectionClosedWithoutAResponseFailsWithReasonProtocol) {
  HttpPeer peer([](const PeerRequest&, std::size_t) {
    PeerReply silent;
    silent.close_without_reply = true;
    return silent;
  });
  DaemonProcess daemon(http_config());
  const auto task = run(daemon, get(peer.url("/")));
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_TRUE(starts_with(task.result().error(), "protocol: reading the response from 127.0.0.1:" +
                                                     std::to_string(peer.port()) + ": "))
      << task.result().error();
  EXPECT_TRUE(wait_for_sample(
      daemon.admin_port(),
      "orch_task_attempt_failures_total{kind=\"http\",reason=\"protocol\",tenant=\"alpha\"}", 1));
}

TEST(HttpNode, ASlowServerHitsTheTimeoutAndSeesTheConnectionClosed) {
  HttpPeer peer([](const PeerRequest&, std::size_t) { return hang(); });
  DaemonProcess daemon(http_config());
  v1::TaskSpec spec = get(peer.url("/slow"));
  spec.mutable_http()->mutable_timeout()->set_nanos(300'000'000);
  const auto task = run(daemon, spec);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.result().error(),
            "timeout: no complete response from " + peer.url("/slow") + " within 300ms");
  EXPECT_TRUE(peer.wait_for_client_closes(1, kWait));
}

TEST(HttpNode, FailedAttemptsAreRetriedWithGrowingFencingTokens) {
  HttpPeer peer([](const PeerRequest&, std::size_t n) {
    return n < 2 ? reply(503, "busy") : reply(200, "done");
  });
  DaemonProcess daemon(http_config());
  v1::TaskSpec spec = get(peer.url("/flaky"));
  spec.mutable_retry()->set_max_attempts(3);
  spec.mutable_retry()->mutable_initial_backoff()->set_nanos(10'000'000);
  const auto task = run(daemon, spec);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.result().error();
  EXPECT_EQ(task.result().attempts(), 3u);
  EXPECT_EQ(task.result().last_attempt_error(), "status: 503 Service Unavailable");
  EXPECT_EQ(task.result().http().body(), "done");

  const auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 3u);
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].header("X-Orch-Task-Id"), task.id());
    EXPECT_EQ(requests[i].header("X-Orch-Attempt"), std::to_string(i + 1));
    const std::uint64_t token = std::stoull(requests[i].header("X-Orch-Fencing-Token"));
    EXPECT_GT(token, previous) << "attempt " << i + 1;
    previous = token;
  }
  EXPECT_EQ(previous, task.result().fencing_token());
}

TEST(HttpNode, RedirectsAreFollowedOnlyWhenAskedWithBrowserMethodRules) {
  HttpPeer peer([](const PeerRequest& r, std::size_t) {
    if (r.target == "/start") return reply(302, {}, {{"Location", "/final"}});
    if (r.target == "/see-other") return reply(303, {}, {{"Location", "final"}});
    if (r.target == "/temporary") return reply(307, {}, {{"Location", "/final?kept"}});
    if (r.target == "/loop") return reply(302, {}, {{"Location", "/loop"}});
    return reply(200, r.method + " " + r.target + " " + r.body);
  });
  DaemonProcess daemon(http_config());

  const auto unfollowed = run(daemon, get(peer.url("/start")));
  ASSERT_EQ(unfollowed.state(), v1::TASK_STATE_SUCCEEDED) << unfollowed.result().error();
  EXPECT_EQ(unfollowed.result().http().status(), 302u);
  EXPECT_EQ(header_of(unfollowed.result().http(), "Location"), "/final");
  EXPECT_EQ(peer.requests().size(), 1u);

  v1::TaskSpec follow = get(peer.url("/start"));
  follow.mutable_http()->set_follow_redirects(true);
  const auto followed = run(daemon, follow);
  ASSERT_EQ(followed.state(), v1::TASK_STATE_SUCCEEDED) << followed.result().error();
  EXPECT_EQ(followed.result().http().status(), 200u);
  EXPECT_EQ(followed.result().http().body(), "GET /final ");
  EXPECT_EQ(followed.result().http().url(), peer.url("/final"));

  v1::TaskSpec see_other = oc::http("POST", peer.url("/see-other"));
  see_other.mutable_http()->set_body("payload");
  see_other.mutable_http()->set_follow_redirects(true);
  EXPECT_EQ(run(daemon, see_other).result().http().body(), "GET /final ");

  v1::TaskSpec temporary = oc::http("POST", peer.url("/temporary"));
  temporary.mutable_http()->set_body("payload");
  temporary.mutable_http()->set_follow_redirects(true);
  EXPECT_EQ(run(daemon, temporary).result().http().body(), "POST /final?kept payload");

  const std::size_t before = peer.requests().size();
  v1::TaskSpec loop = get(peer.url("/loop"));
  loop.mutable_http()->set_follow_redirects(true);
  const auto looped = run(daemon, loop);
  EXPECT_EQ(looped.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(looped.result().error(), "protocol: more than 5 redirects (the last one to /loop)");
  const auto requests = peer.requests();
  EXPECT_EQ(requests.size() - before, 6u);  // the first request and 5 redirects followed
  for (const auto& request : requests) EXPECT_EQ(request.header("X-Orch-Attempt"), "1");
}

TEST(HttpNode, LiteralMetadataAddressesAreRefusedAtValidation) {
  DaemonProcess daemon(http_config());
  auto client = daemon.client(kAlpha);
  v1::SpawnRequest request;
  *request.mutable_spec() = get("http://169.254.169.254/latest/meta-data/");
  v1::SpawnResponse response;
  const auto status = client.spawn(request, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "spec.http.url: host 169.254.169.254 is denied by http_deny_hosts pattern "
            "\"169.254.0.0/16\"");
}

TEST(HttpNode, ACidrDenyRefusesANameThatResolvesIntoIt) {
  HttpPeer peer([](const PeerRequest&, std::size_t) { return reply(200, "reached"); });
  DaemonProcess daemon(http_config("    http_deny_hosts: [\"127.0.0.0/8\"]\n"));
  const auto task = run(daemon, get(peer.url("/", "localhost")));
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.result().error(),
            "denied: host localhost resolves to 127.0.0.1, which is denied by http_deny_hosts "
            "pattern \"127.0.0.0/8\"");
  EXPECT_EQ(peer.connections(), 0u);
  EXPECT_TRUE(wait_for_sample(
      daemon.admin_port(),
      "orch_task_attempt_failures_total{kind=\"http\",reason=\"denied\",tenant=\"alpha\"}", 1));

  // The address itself is refused before the task exists.
  auto client = daemon.client(kAlpha);
  v1::SpawnRequest request;
  *request.mutable_spec() = get(peer.url("/"));
  v1::SpawnResponse response;
  const auto status = client.spawn(request, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(contains(status.error_message(), "pattern \"127.0.0.0/8\""));
}

TEST(HttpNode, ARedirectToADeniedHostIsRefusedBeforeConnecting) {
  HttpPeer peer([](const PeerRequest&, std::size_t) {
    return reply(302, {}, {{"Location", "http://169.254.169.254/latest/meta-data/"}});
  });
  DaemonProcess daemon(http_config());
  v1::TaskSpec spec = get(peer.url("/innocent"));
  spec.mutable_http()->set_follow_redirects(true);
  const auto task = run(daemon, spec);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.result().error(),
            "denied: host 169.254.169.254 is denied by http_deny_hosts pattern \"169.254.0.0/16\"");
}

TEST(HttpsNode, VerifiesThePeerAgainstTheConfiguredCaWithSni) {
  TestPki pki;
  HttpPeer peer(
      [](const PeerRequest& r, std::size_t) { return reply(200, "secure " + r.header("Host")); },
      pki.server());
  DaemonProcess daemon(http_config({}, ca_config(pki)));
  const auto by_address = run(daemon, get(peer.url("/")));
  ASSERT_EQ(by_address.state(), v1::TASK_STATE_SUCCEEDED) << by_address.result().error();
  EXPECT_EQ(by_address.result().http().body(), "secure 127.0.0.1:" + std::to_string(peer.port()));
  const auto by_name = run(daemon, get(peer.url("/", "localhost")));
  ASSERT_EQ(by_name.state(), v1::TASK_STATE_SUCCEEDED) << by_name.result().error();
  EXPECT_EQ(by_name.result().http().url(), peer.url("/", "localhost"));
  // SNI names a host, never an address.
  const auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].sni, "");
  EXPECT_EQ(requests[1].sni, "localhost");
}

TEST(HttpsNode, AnUnknownIssuerFailsWithReasonTls) {
  TestPki pki;
  HttpPeer peer([](const PeerRequest&, std::size_t) { return reply(200, "never"); }, pki.server());
  DaemonProcess daemon(http_config());  // the system's CA store knows nothing of the test CA
  const auto task = run(daemon, get(peer.url("/")));
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_TRUE(starts_with(task.result().error(),
                          "tls: handshake with 127.0.0.1:" + std::to_string(peer.port()) +
                              " failed: certificate verify failed: "))
      << task.result().error();
  EXPECT_TRUE(peer.requests().empty());
  EXPECT_TRUE(wait_for_sample(
      daemon.admin_port(),
      "orch_task_attempt_failures_total{kind=\"http\",reason=\"tls\",tenant=\"alpha\"}", 1));
}

TEST(HttpsNode, ACertificateForAnotherHostFailsVerification) {
  TestPki pki;
  HttpPeer peer([](const PeerRequest&, std::size_t) { return reply(200, "never"); }, pki.other());
  DaemonProcess daemon(http_config({}, ca_config(pki)));
  const auto by_address = run(daemon, get(peer.url("/")));
  EXPECT_EQ(by_address.state(), v1::TASK_STATE_FAILED);
  EXPECT_TRUE(
      contains(by_address.result().error(), "certificate verify failed: IP address mismatch"))
      << by_address.result().error();
  const auto by_name = run(daemon, get(peer.url("/", "localhost")));
  EXPECT_TRUE(contains(by_name.result().error(), "certificate verify failed: hostname mismatch"))
      << by_name.result().error();
}

TEST(HttpsNode, AStalledHandshakeHitsTheConnectTimeout) {
  SilentListener silent;
  DaemonProcess daemon(http_config());
  const std::string where = "127.0.0.1:" + std::to_string(silent.port());
  v1::TaskSpec spec = get("https://" + where + "/");
  spec.mutable_http()->mutable_connect_timeout()->set_nanos(300'000'000);
  const auto task = run(daemon, spec);
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.result().error(),
            "tls: connect_timeout of 300ms passed in the TLS handshake with " + where);

  // Over plain http the request is sent, and the silence hits `timeout` instead.
  v1::TaskSpec plain = get("http://" + where + "/");
  plain.mutable_http()->mutable_connect_timeout()->set_nanos(300'000'000);
  plain.mutable_http()->mutable_timeout()->set_nanos(400'000'000);
  const auto waited = run(daemon, plain);
  EXPECT_EQ(waited.result().error(),
            "timeout: no complete response from http://" + where + "/ within 400ms");
}

TEST(HttpCancellation, ALosingSelectClosesTheConnection) {
  HttpPeer peer([](const PeerRequest&, std::size_t) { return hang(); });
  DaemonProcess daemon(http_config());
  // The sleep leaves the request far more time than a loopback round trip needs.
  const auto task =
      run(daemon, oc::select({get(peer.url("/slow")), oc::sleep(std::chrono::milliseconds(500))}));
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.result().error();
  EXPECT_EQ(task.result().select().winner(), 1u);
  const auto& loser = task.result().select().children(0);
  EXPECT_EQ(loser.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(loser.error(), "cancelled: lost the select to child 1");
  ASSERT_TRUE(peer.wait_for_requests(1, kWait));
  EXPECT_TRUE(peer.wait_for_client_closes(1, kWait)) << "the losing request is still open";
}

TEST(HttpCancellation, AbortAndATimeoutNodeCloseTheConnection) {
  HttpPeer peer([](const PeerRequest&, std::size_t) { return hang(); });
  DaemonProcess daemon(http_config());
  auto client = daemon.client(kAlpha);

  const std::string id = spawn_task(client, get(peer.url("/aborted")));
  ASSERT_TRUE(peer.wait_for_requests(1, kWait));
  v1::AbortRequest abort;
  abort.add_ids(id);
  v1::AbortResponse aborted;
  ASSERT_TRUE(client.abort(abort, aborted).ok());
  EXPECT_EQ(join_task(client, id).state(), v1::TASK_STATE_CANCELLED);
  EXPECT_TRUE(peer.wait_for_client_closes(1, kWait));

  const std::string timed =
      spawn_task(client, oc::timeout(std::chrono::seconds(2), get(peer.url("/timed"))));
  ASSERT_TRUE(peer.wait_for_requests(2, kWait));
  const auto task = join_task(client, timed);
  EXPECT_EQ(task.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(task.result().timeout().child().state(), v1::TASK_STATE_CANCELLED);
  EXPECT_TRUE(peer.wait_for_client_closes(2, kWait));
}

TEST(HttpCancellation, ShutdownClosesTheConnection) {
  HttpPeer peer([](const PeerRequest&, std::size_t) { return hang(); });
  DaemonProcess daemon(http_config());
  auto client = daemon.client(kAlpha);
  spawn_task(client, get(peer.url("/held")));
  ASSERT_TRUE(peer.wait_for_requests(1, kWait));
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_TRUE(peer.wait_for_client_closes(1, kWait));
}

TEST(OrchctlHttp, SpawnWaitPrintsTheStatusLineAndTheBody) {
  HttpPeer peer([](const PeerRequest& r, std::size_t) {
    if (r.target == "/missing") return reply(404, "gone\n");
    if (r.method == "POST") return reply(200, "got " + r.body + " as " + r.header("X-Kind"));
    return reply(200, "hello\nworld\n");
  });
  DaemonProcess daemon(http_config());
  const auto orchctl = daemon.orchctl(kAlpha);

  const auto hello =
      orchctl({"spawn", "--wait", "http", "GET", peer.url("/hello"), "-H", "X-A: b"});
  ASSERT_EQ(hello.exit_code, 0) << describe(hello);
  EXPECT_TRUE(contains(hello.out, "result:\n  http SUCCEEDED took="));
  EXPECT_TRUE(contains(hello.out, "\n    status: 200 OK\n    url: " + peer.url("/hello") +
                                      "\n    body: 12 bytes\n      hello\n      world\n"))
      << hello.out;
  EXPECT_EQ(peer.requests().at(0).header("X-A"), "b");

  const std::string file = daemon.dir() + "/payload.json";
  std::ofstream(file) << "{\"n\":2}";
  const auto posted = orchctl({"spawn", "--wait", "http", "POST", peer.url("/jobs"), "--data",
                               "@" + file, "-H", "X-Kind: job", "--timeout", "5s"});
  ASSERT_EQ(posted.exit_code, 0) << describe(posted);
  EXPECT_TRUE(contains(posted.out, "      got {\"n\":2} as job\n")) << posted.out;

  const auto missing = orchctl({"spawn", "--wait", "http", "GET", peer.url("/missing")});
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_TRUE(contains(missing.out, "http FAILED took=")) << missing.out;
  EXPECT_TRUE(
      contains(missing.out, "error=\"status: 404 Not Found\"\n    status: 404 Not Found\n"));
  const auto accepted =
      orchctl({"spawn", "--wait", "http", "GET", peer.url("/missing"), "--accept-status", "404"});
  EXPECT_EQ(accepted.exit_code, 0) << describe(accepted);

  const auto json = orchctl({"-o", "json", "spawn", "--wait", "http", "GET", peer.url("/hello")});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  const auto task = parse_json<v1::TaskInfo>(json.out);
  EXPECT_EQ(task.result().http().status(), 200u);
  EXPECT_EQ(task.result().http().body(), "hello\nworld\n");
  EXPECT_FALSE(task.result().http().headers().empty());
  EXPECT_EQ(task.spec().http().method(), "GET");

  const auto bad = orchctl({"spawn", "http", "GET", peer.url("/"), "-H", "no colon"});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  EXPECT_TRUE(contains(bad.err, "-H: invalid header \"no colon\" (use 'Name: value')"));
  const auto denied = orchctl({"spawn", "http", "GET", "http://169.254.169.254/"});
  EXPECT_EQ(denied.exit_code, 3) << describe(denied);
  EXPECT_TRUE(
      starts_with(denied.err, "PERMISSION_DENIED: spec.http.url: host 169.254.169.254 is denied"));
}

}  // namespace
}  // namespace orch::test
