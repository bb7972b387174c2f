#include "orch/runtime/daemon.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "orch/admin/admin_server.h"
#include "orch/channels/channel_registry.h"
#include "orch/config/live_value.h"
#include "orch/config/reload.h"
#include "orch/engine/engine.h"
#include "orch/metrics/metrics.h"
#include "orch/rpc/server.h"
#include "orch/tenants/tenant_registry.h"
#include "orch/tls/tls.h"
#include "orch/workers/worker_hub.h"
#include "orch/work/http_client.h"

namespace orch::runtime {

namespace asio = boost::asio;

namespace {

unsigned thread_count(unsigned configured) {
  if (configured != 0) return configured;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 2 : cores;
}

}  // namespace

struct Daemon::Impl {
  explicit Impl(config::Config cfg)
      : config(std::move(cfg)),
        tls_pem(config.tls ? std::optional(tls::load_server_pem(*config.tls)) : std::nullopt),
        token_policy(tls::token_policy(config.listen, config.tls.has_value(),
                                       config.allow_plaintext_tokens)),
        io(static_cast<int>(thread_count(config.threads))),
        work(asio::make_work_guard(io)),
        tenants(config.tenants),
        limits(config.limits),
        workers(metrics.registry().get()),
        http(config.http, config.limits, &metrics),
        engine(io.get_executor(), engine::EngineOptions{config.retention, &workers}, &metrics),
        channels(io.get_executor(), &metrics),
        admin(io.get_executor(), metrics, [this] { return ready.load(); }, admin_options()),
        rpc(rpc::ServerDeps{engine, tenants, limits, &metrics, io.get_executor(),
                            &channels, &workers, tls_pem ? &*tls_pem : nullptr,
                            token_policy == tls::TokenPolicy::kRefuse}),
        signals(io, SIGINT, SIGTERM),
        hangups(io, SIGHUP),
        reloads(prometheus::BuildCounter()
                    .Name("orch_config_reloads_total")
                    .Help("Configuration reloads (SIGHUP or POST /reload) by result: ok, or "
                          "error when the new configuration was refused and the old one kept.")
                    .Register(*metrics.registry())),
        reloads_ok(reloads.Add({{"result", "ok"}})),
        reloads_error(reloads.Add({{"result", "error"}})),
        restart_pending(prometheus::BuildGauge()
                            .Name("orch_config_restart_pending")
                            .Help("1 when the configuration file changed keys that take effect "
                                  "only at restart (listen addresses, threads, ...), else 0.")
                            .Register(*metrics.registry())
                            .Add({})) {
    apply_tenants(config, http_policies(config));
    engine.set_channels(&channels);
    admin.set_reload([this] {
      auto outcome = reload();
      return std::make_pair(outcome.applied, std::move(outcome.message));
    });
    metrics.on_scrape([this] { engine.update_gauges(); });
    metrics.on_scrape([this] { channels.update_gauges(); });
  }

  config::Config config;
  std::optional<tls::ServerPem> tls_pem;  // checked files of config.tls
  tls::TokenPolicy token_policy;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  metrics::Metrics metrics;
  tenants::TenantRegistry tenants;
  config::LiveValue<config::Limits> limits;  // what RPCs read; a reload replaces it
  workers::WorkerHubs workers;
  orch::work::HttpClient http;
  engine::Engine engine;
  channels::ChannelRegistry channels;  // outlives the RPC calls that use it
  admin::AdminServer admin;
  rpc::RpcServer rpc;
  asio::signal_set signals;
  asio::signal_set hangups;  // SIGHUP: reload
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Counter& reloads_ok;
  prometheus::Counter& reloads_error;
  prometheus::Gauge& restart_pending;
  std::function<config::Config()> load_config;  // the reload source; null: embedded defaults
  std::mutex reload_mutex;                      // one reload at a time; guards `config` writes
  std::vector<std::thread> threads;
  std::atomic<bool> ready{false};
  std::uint16_t grpc_port = 0;
  std::uint16_t admin_port = 0;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_requested = false;

  using Policies = std::vector<std::shared_ptr<const orch::work::HttpPolicy>>;

  // Each tenant's http policy under `cfg`'s limits. Throws config::ConfigError when a host
  // pattern does not parse (parse_config refused those already).
  Policies http_policies(const config::Config& cfg) {
    Policies policies;
    http.set_limits(cfg.limits);
    for (const auto& t : cfg.tenants) policies.push_back(http.policy_for(t));
    return policies;
  }

  // Every tenant's settings in the engine, channels and workers: adds the new ones, changes
  // the others in place. Does not throw.
  void apply_tenants(const config::Config& cfg, const Policies& policies) {
    for (std::size_t i = 0; i < cfg.tenants.size(); ++i) {
      const auto& t = cfg.tenants[i];
      engine.add_tenant(engine::TenantSettings{t.name, t.max_concurrency, t.max_queued, policies[i]});
      channels.add_tenant(t.name, channels::ChannelQuota{t.max_channels, t.max_message_bytes,
                                                         t.max_channel_capacity});
      workers.add_tenant(t.name, workers::WorkerHub::Options{.max_output_bytes = t.max_message_bytes});
    }
  }

  Daemon::ReloadOutcome reload() {
    std::lock_guard lock(reload_mutex);
    const auto refuse = [&](const std::string& why) {
      reloads_error.Increment();
      spdlog::error("configuration reload refused, the running configuration stays: {}", why);
      return Daemon::ReloadOutcome{false, "reload refused, the running configuration stays: " + why};
    };
    config::Config next;
    try {
      next = load_config ? load_config() : config::default_config();
    } catch (const std::exception& e) {
      return refuse(e.what());
    }
    config::ReloadPlan plan = config::plan_reload(config, next);
    Policies policies;
    try {
      policies = http_policies(plan.effective);
      // The registry checks the tenants apart before it swaps anything.
      tenants.replace(plan.effective.tenants);
    } catch (const std::exception& e) {
      http.set_limits(config.limits);
      return refuse(e.what());
    }
    // Nothing below refuses: the new configuration is in force from here on.
    apply_tenants(plan.effective, policies);
    limits.set(plan.effective.limits);
    rpc.apply(plan.effective.tenants, plan.effective.limits);
    spdlog::set_level(spdlog::level::from_str(plan.effective.log_level));
    {
      std::lock_guard stop_lock(stop_mutex);  // run() reads shutdown_grace under it
      config = plan.effective;
    }
    reloads_ok.Increment();
    restart_pending.Set(plan.restart_needed.empty() ? 0 : 1);
    const std::string summary = plan.summary();
    spdlog::info("configuration reloaded: {}", summary);
    if (!plan.tenants_removed.empty()) {
      spdlog::warn("removed tenants authenticate no more; their running tasks finish");
    }
    for (const auto& key : plan.restart_needed) {
      spdlog::warn("configuration key {} changed: it takes effect at restart; the running value "
                   "stays until then", key);
    }
    return Daemon::ReloadOutcome{true, "reloaded: " + summary};
  }

  void wait_for_hangup() {
    hangups.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      spdlog::info("received SIGHUP, reloading the configuration");
      try {
        reload();
      } catch (const std::exception& e) {
        spdlog::error("configuration reload failed: {}", e.what());
      }
      wait_for_hangup();
    });
  }

  admin::AdminServerOptions admin_options() const {
    admin::AdminServerOptions options;
    if (config.admin_tls && tls_pem) options.tls = admin::AdminTls{tls_pem->cert_chain, tls_pem->key};
    return options;
  }

  // What the listeners' transport security means for tokens, said once at start-up.
  void log_transport_security() const {
    if (token_policy == tls::TokenPolicy::kAcceptInClear) {
      spdlog::warn("listen {} is not loopback and has no TLS, and allow_plaintext_tokens is true: "
                   "bearer tokens cross the network in clear text", config.listen);
    } else if (token_policy == tls::TokenPolicy::kRefuse &&
               std::any_of(config.tenants.begin(), config.tenants.end(),
                           [](const auto& t) { return t.token_sha256.has_value(); })) {
      spdlog::warn("listen {} is not loopback and has no TLS: calls with a bearer token are "
                   "refused (configure tls:, or set allow_plaintext_tokens: true)", config.listen);
    }
    if (config.tls) {
      spdlog::info("gRPC TLS: certificate {}{}", config.tls->cert,
                   config.tls->client_ca.empty()
                       ? std::string(", no client certificates")
                       : ", client certificates required (CAs in " + config.tls->client_ca + ")");
    }
  }

  void request_stop() {
    {
      std::lock_guard lock(stop_mutex);
      stop_requested = true;
    }
    stop_cv.notify_all();
  }
};

Daemon::Daemon(config::Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Daemon::~Daemon() {
  // A daemon that never ran still owns io threads only if start() ran; stop them.
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

void Daemon::start() {
  auto& d = *impl_;
  const unsigned n = thread_count(d.config.threads);
  for (unsigned i = 0; i < n; ++i) d.threads.emplace_back([&io = d.io] { io.run(); });
  d.log_transport_security();
  d.grpc_port = d.rpc.start(d.config.listen);
  d.admin_port = d.admin.start(d.config.admin_listen);
  d.wait_for_hangup();
  d.signals.async_wait([&d](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    d.request_stop();
  });
  d.ready = true;
  spdlog::info("orchestrd serving: gRPC on port {}, admin HTTP on port {} (threads: {}, tenants: {})",
               d.grpc_port, d.admin_port, n, d.config.tenants.size());
}

std::uint16_t Daemon::grpc_port() const { return impl_->grpc_port; }
std::uint16_t Daemon::admin_port() const { return impl_->admin_port; }

void Daemon::request_stop() { impl_->request_stop(); }

void Daemon::set_config_source(std::function<config::Config()> load) {
  std::lock_guard lock(impl_->reload_mutex);
  impl_->load_config = std::move(load);
}

Daemon::ReloadOutcome Daemon::reload() { return impl_->reload(); }

int Daemon::run() {
  auto& d = *impl_;
  {
    std::unique_lock lock(d.stop_mutex);
    d.stop_cv.wait(lock, [&d] { return d.stop_requested; });
  }
  // 1. Refuse new work; tell load balancers and probes.
  d.ready = false;
  d.rpc.set_not_serving();
  d.engine.stop_accepting();
  Duration grace;
  {
    std::lock_guard lock(d.stop_mutex);
    grace = d.config.shutdown_grace;
  }
  spdlog::info("shutdown: new spawns refused; running tasks have {} to finish",
               format_duration(grace));
  // 2. Let running tasks finish, then cancel the rest; watches end.
  asio::co_spawn(d.io, d.engine.drain(grace), asio::use_future).get();
  // 3. Calls still open (waits on other things) are cancelled after a short deadline.
  d.rpc.shutdown(std::chrono::seconds(1));
  d.admin.stop();
  d.signals.cancel();
  d.hangups.cancel();
  // 4. Stop the runtime. gRPC's last callbacks posted work that must still run (each call's
  // reactor deletes itself on its strand after OnDone): the main thread runs what is ready.
  d.work.reset();
  d.io.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  d.io.restart();
  d.io.poll();
  spdlog::info("shutdown complete");
  return 0;
}

}  // namespace orch::runtime
