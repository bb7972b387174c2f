#include "orch/admin/admin_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sys/wait.h>

#include "orch/metrics/metrics.h"

namespace orch::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// The server side: an io_context on its own thread, Metrics, and an AdminServer on port 0.
class ServerFixture {
 public:
  explicit ServerFixture(AdminServerOptions options = {})
      : server_(
            io_.get_executor(), metrics_, [this] { return ready_.load(); }, options) {
    port_ = server_.start("127.0.0.1:0");
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerFixture() {
    server_.stop();
    work_.reset();
    thread_.join();
  }

  /// Stops the server and waits until the stop has run on the io thread.
  void stop_and_wait() {
    server_.stop();
    // One io thread: a post queued after stop()'s runs after it.
    std::promise<void> done;
    asio::post(io_, [&] { done.set_value(); });
    done.get_future().wait();
  }

  metrics::Metrics& metrics() { return metrics_; }
  void set_ready(bool ready) { ready_ = ready; }
  std::uint16_t port() const { return port_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  metrics::Metrics metrics_;
  std::atomic<bool> ready_{false};
  AdminServer server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

/// A blocking HTTP client whose every operation gives up after 5 s, so a server bug fails the
/// test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(io_) {
    beast::error_code ec;
    run([&](auto done) {
      stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                            [&, done](beast::error_code e) { ec = e, done(); });
    });
    if (ec) throw beast::system_error(ec);
  }

  void send(const std::string& raw) {
    beast::error_code ec;
    run([&](auto done) {
      asio::async_write(stream_, asio::buffer(raw),
                        [&, done](beast::error_code e, std::size_t) { ec = e, done(); });
    });
    if (ec) throw beast::system_error(ec);
  }

  void send(http::verb method, const std::string& target, bool keep_alive = true) {
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    beast::error_code ec;
    run([&](auto done) {
      http::async_write(stream_, req,
                        [&, done](beast::error_code e, std::size_t) { ec = e, done(); });
    });
    if (ec) throw beast::system_error(ec);
  }

  /// The next response; `head` for the answer to a HEAD request (headers only).
  http::response<http::string_body> read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    beast::error_code ec;
    run([&](auto done) {
      http::async_read(stream_, buffer_, parser,
                       [&, done](beast::error_code e, std::size_t) { ec = e, done(); });
    });
    if (ec) throw beast::system_error(ec);
    return parser.release();
  }

  http::response<http::string_body> get(const std::string& target, bool keep_alive = true) {
    send(http::verb::get, target, keep_alive);
    return read();
  }

  /// Reads until the server closes; the error that ended it (eof for an orderly close).
  beast::error_code wait_for_close() {
    beast::error_code ec;
    char scratch[1024];
    while (!ec) {
      run([&](auto done) {
        stream_.async_read_some(asio::buffer(scratch),
                                [&, done](beast::error_code e, std::size_t) { ec = e, done(); });
      });
    }
    return ec;
  }

 private:
  template <typename Start>
  void run(Start start) {
    bool finished = false;
    stream_.expires_after(5s);
    start([&finished] { finished = true; });
    io_.restart();
    io_.run();
    ASSERT_TRUE(finished);
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

TEST(AdminServer, HealthzAnswersOk) {
  ServerFixture server;
  Client client(server.port());
  const auto res = client.get("/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_EQ(res[http::field::content_type], "text/plain; charset=utf-8");
}

TEST(AdminServer, ReadyzFollowsTheReadyCallback) {
  ServerFixture server;
  Client client(server.port());
  auto res = client.get("/readyz");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res.body(), "not ready\n");

  server.set_ready(true);
  res = client.get("/readyz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ready\n");
}

TEST(AdminServer, MetricsAreServedInTheTextFormat) {
  ServerFixture server;
  server.metrics().add_tenant("acme").spawned(metrics::KindLabel::kSleep).Increment();
  Client client(server.port());
  const auto res = client.get("/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res.body().find("orch_tasks_spawned_total{kind=\"sleep\",tenant=\"acme\"} 1\n"),
            std::string::npos)
      << res.body();
  EXPECT_NE(res.body().find("process_resident_memory_bytes "), std::string::npos);
}

TEST(AdminServer, MetricsIgnoreTheQueryString) {
  ServerFixture server;
  Client client(server.port());
  EXPECT_EQ(client.get("/metrics?name[]=up").result(), http::status::ok);
}

TEST(AdminServer, HeadAnswersHeadersWithoutBody) {
  ServerFixture server;
  Client client(server.port());
  client.send(http::verb::head, "/healthz");
  const auto res = client.read(/*head=*/true);
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_length], "3");
  EXPECT_TRUE(res.body().empty());
  // The connection is still in step: the next answer is the next request's.
  EXPECT_EQ(client.get("/healthz").body(), "ok\n");
}

// Found by the admin fuzz target (tests/fuzz/admin/head-unknown-path): a HEAD's 404 carried
// its body, which a keep-alive client then read as the next response.
TEST(AdminServer, HeadOfAnUnknownPathHasNoBody) {
  ServerFixture server;
  Client client(server.port());
  client.send(http::verb::head, "/nope");
  const auto res = client.read(/*head=*/true);
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(client.get("/healthz").body(), "ok\n");
}

TEST(AdminServer, UnknownPathIsNotFound) {
  ServerFixture server;
  Client client(server.port());
  EXPECT_EQ(client.get("/nope").result(), http::status::not_found);
  EXPECT_EQ(client.get("/metrics/extra").result(), http::status::not_found);
}

TEST(AdminServer, OtherMethodsAreNotAllowedAndSayWhatIs) {
  ServerFixture server;
  Client client(server.port());
  for (http::verb method : {http::verb::post, http::verb::put, http::verb::delete_}) {
    client.send(method, "/metrics");
    const auto res = client.read();
    EXPECT_EQ(res.result(), http::status::method_not_allowed) << method;
    EXPECT_EQ(res[http::field::allow], "GET, HEAD");
  }
}

TEST(AdminServer, KeepAliveServesManyRequestsOnOneConnection) {
  ServerFixture server;
  Client client(server.port());
  for (int i = 0; i < 5; ++i) {
    const auto res = client.get(i % 2 == 0 ? "/healthz" : "/metrics");
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST(AdminServer, PipelinedRequestsAreAnsweredInOrder) {
  ServerFixture server;
  Client client(server.port());
  client.send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.read().result(), http::status::ok);
  EXPECT_EQ(client.read().result(), http::status::service_unavailable);
  EXPECT_EQ(client.read().result(), http::status::not_found);
}

TEST(AdminServer, ConnectionCloseIsHonoured) {
  ServerFixture server;
  Client client(server.port());
  const auto res = client.get("/healthz", /*keep_alive=*/false);
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(client.wait_for_close(), asio::error::eof);
}

TEST(AdminServer, MalformedRequestIsABadRequestAndClosesTheConnection) {
  ServerFixture server;
  Client client(server.port());
  client.send("THIS IS NOT HTTP\r\n\r\n");
  const auto res = client.read();
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(client.wait_for_close(), asio::error::eof);
}

TEST(AdminServer, OversizedBodyIsRefusedBeforeItIsRead) {
  ServerFixture server;
  Client client(server.port());
  // Only the header: the server must answer from Content-Length alone.
  client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  const auto res = client.read();
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_EQ(client.wait_for_close(), asio::error::eof);
}

TEST(AdminServer, SmallBodyIsAcceptedAndIgnored) {
  ServerFixture server;
  Client client(server.port());
  client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(client.read().body(), "ok\n");
}

TEST(AdminServer, ASilentClientIsDisconnectedAfterTheReadTimeout) {
  ServerFixture server(AdminServerOptions{.read_timeout = 200ms});
  Client client(server.port());
  client.send("GET /healthz HTTP/1.1\r\n");  // and never the rest
  const auto started = std::chrono::steady_clock::now();
  const beast::error_code ec = client.wait_for_close();
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
}

TEST(AdminServer, StopClosesOpenConnectionsAndRefusesNewOnes) {
  ServerFixture server;
  Client client(server.port());
  EXPECT_EQ(client.get("/healthz").result(), http::status::ok);
  server.stop_and_wait();
  const beast::error_code ec = client.wait_for_close();
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_THROW(Client{server.port()}, beast::system_error);
}

TEST(AdminServer, StartReportsAnAddressItCannotUse) {
  asio::io_context io;
  metrics::Metrics metrics;
  ServerFixture taken;
  AdminServer server(io.get_executor(), metrics, [] { return true; });
  const std::string address = "127.0.0.1:" + std::to_string(taken.port());
  try {
    server.start(address);
    FAIL() << "start() succeeded on a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(address), std::string::npos) << e.what();
  }
  EXPECT_THROW(server.start("127.0.0.1"), std::runtime_error);
  EXPECT_THROW(server.start("127.0.0.1:99999"), std::runtime_error);
  EXPECT_THROW(server.start("::1:80"), std::runtime_error);
}

TEST(AdminServer, StartingTwiceIsAProgrammingError) {
  asio::io_context io;
  metrics::Metrics metrics;
  AdminServer other(io.get_executor(), metrics, [] { return true; });
  other.start("127.0.0.1:0");
  EXPECT_THROW(other.start("127.0.0.1:0"), std::logic_error);
}

/// Runs `command`, returning its exit status and everything it printed.
std::pair<int, std::string> run_command(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(AdminServer, MetricsPassPromtoolCheck) {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) GTEST_SKIP() << promtool << " is not installed";

  ServerFixture server;
  metrics::Metrics& metrics = server.metrics();
  metrics::TenantMetrics& acme = metrics.add_tenant("acme");
  metrics.add_tenant("globex");
  acme.spawned(metrics::KindLabel::kExec).Increment();
  acme.finished(metrics::KindLabel::kExec, metrics::OutcomeLabel::kFailed).Increment();
  acme.rejected(metrics::RejectLabel::kQuota).Increment();
  acme.tasks_running.Set(1);
  acme.permit_wait.Observe(0.01);
  metrics.task_duration(metrics::KindLabel::kExec).Observe(1.5);
  metrics.add_rpc_method("Tasks/Spawn");
  metrics.observe_rpc("Tasks/Spawn", 0, 0.002);
  metrics.observe_rpc("Tasks/Spawn", 8, 0.001);

  Client client(server.port());
  const auto res = client.get("/metrics");
  ASSERT_EQ(res.result(), http::status::ok);

  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("orch_metrics_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file) << res.body();
  const auto [status, output] =
      run_command(std::string(promtool) + " check metrics < " + file.string());
  std::filesystem::remove(file);
  // promtool exits 3 and prints one line per lint problem; 1 for a parse error.
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
}  // namespace orch::admin
