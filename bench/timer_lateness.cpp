// Timer lateness with many active interval timers: how long after its due instant each tick is
// delivered, as percentiles, for orchestrd's interval machinery and, as the baseline measured in
// the same run, a bare Asio steady_timer loop with the same timers, threads and strands.
//
// Rows: `orchestrd` is what schedules run on: IntervalTimelines woken by one TickHub (one timer
// for all; every tick due at one instant fires from one wake-up). `ticks-stream` is what a
// Ticks stream runs on: run_ticks, one coroutine and one timer per interval, each on its own
// strand. `asio` is the bare loop.
//
//   orch_bench_timer_lateness [--timers 1000,100000] [--period 1s] [--periods 5] [--threads 2]
//                             [--only asio|orchestrd|ticks-stream]   (one row: for profiling)
//
// Each timer's first tick is due after a setup margin plus a random phase within one period, so
// the due instants spread evenly; each timer then ticks `periods` times.

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "flags.h"
#include "orch/common/duration.h"
#include "orch/schedules/interval_timeline.h"
#include "orch/schedules/tick_hub.h"
#include "orch/schedules/tick_loop.h"

namespace {

namespace asio = boost::asio;
using orch::Duration;
using orch::engine::TimePoint;
using SteadyPoint = std::chrono::steady_clock::time_point;

struct Options {
  std::vector<std::size_t> timers{1000, 100000};
  Duration period = std::chrono::seconds(1);
  std::uint64_t periods = 5;
  unsigned threads = 2;
  std::string only;  // empty: every implementation
};

[[noreturn]] void usage(const std::string& error) {
  std::fprintf(stderr,
               "orch_bench_timer_lateness: %s\n"
               "usage: orch_bench_timer_lateness [--timers N[,N...]] [--period D] [--periods N] "
               "[--threads N] [--only asio|orchestrd|ticks-stream]\n",
               error.c_str());
  std::exit(2);
}

std::uint64_t parse_count(const std::string& text, const char* flag) {
  const auto value = orch::bench::whole_number(text);
  if (!value || *value == 0) usage(std::string(flag) + ": \"" + text + "\" is not a positive integer");
  return *value;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage("timer lateness benchmark");
    if (i + 1 >= argc) usage(flag + ": missing value");
    const std::string value = argv[++i];
    if (flag == "--timers") {
      options.timers.clear();
      for (const auto& item : orch::bench::split_list(value)) {
        options.timers.push_back(parse_count(item, "--timers"));
      }
    } else if (flag == "--period") {
      auto period = orch::parse_duration(value);
      if (!period || *period <= Duration::zero()) usage("--period: \"" + value + "\" is not a positive duration");
      options.period = *period;
    } else if (flag == "--periods") {
      options.periods = parse_count(value, "--periods");
    } else if (flag == "--only") {
      if (value != "asio" && value != "orchestrd" && value != "ticks-stream") {
        usage("--only: \"" + value + "\" is not asio, orchestrd or ticks-stream");
      }
      options.only = value;
    } else if (flag == "--threads") {
      options.threads = static_cast<unsigned>(parse_count(value, "--threads"));
    } else {
      usage("unknown flag " + flag);
    }
  }
  return options;
}

// Lateness samples of one timer, in nanoseconds; each timer writes only its own vector.
using Samples = std::vector<std::vector<std::int64_t>>;

struct Summary {
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
  std::size_t ticks = 0;
};

Summary summarize(const Samples& samples) {
  std::vector<std::int64_t> all;
  for (const auto& timer : samples) all.insert(all.end(), timer.begin(), timer.end());
  Summary s;
  s.ticks = all.size();
  if (all.empty()) return s;
  auto at = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(all.size() - 1));
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(index), all.end());
    return static_cast<double>(all[index]) / 1000.0;
  };
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  s.max_us = static_cast<double>(*std::max_element(all.begin(), all.end())) / 1000.0;
  return s;
}

void run(asio::io_context& io, unsigned threads) {
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
}

std::vector<Duration> phases(std::size_t timers, Duration period) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<Duration::rep> phase(0, period.count() - 1);
  std::vector<Duration> out(timers);
  for (auto& p : out) p = Duration(phase(rng));
  return out;
}

// Time to create every timer before the first is due.
Duration setup_margin(std::size_t timers) {
  return std::chrono::milliseconds(500) + std::chrono::microseconds(20) * static_cast<long>(timers);
}

// --- orchestrd: IntervalTimelines woken by one TickHub (the schedules' path) -------------------

// Like a schedule: fires what is due (BURST may have several), records each tick's lateness
// when it is handled, and tells the hub its next deadline.
class HubTimer final : public orch::schedules::TickHub::Entry {
 public:
  HubTimer(const orch::schedules::IntervalOptions& options, std::vector<std::int64_t>& out)
      : timeline_(options), out_(out) {}
  std::optional<TimePoint> on_due(TimePoint now) override {
    while (auto tick = timeline_.fire(now)) {
      out_.push_back((orch::engine::Clock::now() - tick->scheduled).count());
      const auto next = timeline_.next_deadline();
      if (!next || *next > now) break;
    }
    return timeline_.next_deadline();
  }

 private:
  orch::schedules::IntervalTimeline timeline_;
  std::vector<std::int64_t>& out_;
};

// A timer's schedule: o.periods ticks, one period apart, from `start`.
orch::schedules::IntervalOptions interval_options(const Options& o, TimePoint start) {
  orch::schedules::IntervalOptions options;
  options.start = start;
  options.period = o.period;
  options.max_ticks = o.periods;
  return options;
}

Summary measure_hub(const Options& o, std::size_t timers) {
  asio::io_context io(static_cast<int>(o.threads));
  Samples samples(timers);
  const auto phase = phases(timers, o.period);
  const TimePoint start = orch::engine::Clock::now() + setup_margin(timers);
  {
    orch::schedules::TickHub hub(io.get_executor());
    for (std::size_t i = 0; i < timers; ++i) {
      samples[i].reserve(o.periods);
      const auto options = interval_options(o, start + phase[i]);
      hub.arm(std::make_shared<HubTimer>(options, samples[i]), options.start);
    }
    // The hub is idle once every timeline has finished: then the io_context runs out of work.
    run(io, o.threads);
  }
  return summarize(samples);
}

// --- ticks-stream: IntervalTimeline + run_ticks (a Ticks stream's path) ---------------------------------------------------

class RecordingSink final : public orch::schedules::TickSink {
 public:
  explicit RecordingSink(std::vector<std::int64_t>& out) : out_(out) {}
  asio::awaitable<bool> send(const orch::schedules::FiredTick& tick, TimePoint sent_at) override {
    out_.push_back((sent_at - tick.scheduled).count());
    co_return true;
  }

 private:
  std::vector<std::int64_t>& out_;
};

struct OrchTimer {
  orch::schedules::IntervalTimeline timeline;
  RecordingSink sink;
};

asio::awaitable<void> drive(std::shared_ptr<OrchTimer> timer) {
  co_await orch::schedules::run_ticks(timer->timeline, timer->sink);
}

Summary measure_ticks_stream(const Options& o, std::size_t timers) {
  asio::io_context io(static_cast<int>(o.threads));
  Samples samples(timers);
  const auto phase = phases(timers, o.period);
  const TimePoint start = orch::engine::Clock::now() + setup_margin(timers);
  for (std::size_t i = 0; i < timers; ++i) {
    samples[i].reserve(o.periods);
    const auto options = interval_options(o, start + phase[i]);
    auto timer = std::make_shared<OrchTimer>(OrchTimer{orch::schedules::IntervalTimeline(options),
                                                       RecordingSink(samples[i])});
    asio::co_spawn(asio::make_strand(io), drive(std::move(timer)), asio::detached);
  }
  run(io, o.threads);
  return summarize(samples);
}

// --- baseline: a bare steady_timer loop ------------------------------------------------------

asio::awaitable<void> bare_loop(SteadyPoint first, Duration period, std::uint64_t ticks,
                                std::vector<std::int64_t>& out) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  SteadyPoint due = first;
  for (std::uint64_t n = 0; n < ticks; ++n, due += period) {
    timer.expires_at(due);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    out.push_back((std::chrono::steady_clock::now() - due).count());
  }
}

Summary measure_baseline(const Options& o, std::size_t timers) {
  asio::io_context io(static_cast<int>(o.threads));
  Samples samples(timers);
  const auto phase = phases(timers, o.period);
  const SteadyPoint start = std::chrono::steady_clock::now() + setup_margin(timers);
  for (std::size_t i = 0; i < timers; ++i) {
    samples[i].reserve(o.periods);
    asio::co_spawn(asio::make_strand(io), bare_loop(start + phase[i], o.period, o.periods, samples[i]),
                   asio::detached);
  }
  run(io, o.threads);
  return summarize(samples);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::printf("timer lateness: period %s, %llu ticks per timer, %u threads, %u cores online\n",
              orch::format_duration(o.period).c_str(), static_cast<unsigned long long>(o.periods),
              o.threads, std::thread::hardware_concurrency());
  std::printf("%-10s %-12s %10s %10s %10s %10s %12s\n", "timers", "impl", "ticks", "p50_us",
              "p99_us", "max_us", "p99/baseline");
  for (std::size_t timers : o.timers) {
    const auto wanted = [&](const char* impl) { return o.only.empty() || o.only == impl; };
    Summary base;
    if (wanted("asio")) {
      base = measure_baseline(o, timers);
      std::printf("%-10zu %-12s %10zu %10.1f %10.1f %10.1f %12s\n", timers, "asio", base.ticks,
                  base.p50_us, base.p99_us, base.max_us, "1.00");
    }
    const std::pair<const char*, Summary (*)(const Options&, std::size_t)> impls[] = {
        {"orchestrd", measure_hub}, {"ticks-stream", measure_ticks_stream}};
    for (const auto& [impl, measure] : impls) {
      if (!wanted(impl)) continue;
      const Summary s = measure(o, timers);
      std::printf("%-10zu %-12s %10zu %10.1f %10.1f %10.1f %12.2f\n", timers, impl, s.ticks,
                  s.p50_us, s.p99_us, s.max_us, base.p99_us > 0 ? s.p99_us / base.p99_us : 0.0);
    }
    std::fflush(stdout);
  }
  return 0;
}
