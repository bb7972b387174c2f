#include "orch/schedules/tick_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <mutex>
#include <utility>
#include <vector>

namespace orch::schedules {

namespace asio = boost::asio;
using engine::Clock;
using engine::TimePoint;

namespace {

// Stale items (their entry was armed again for an earlier instant, or disarmed) are dropped when
// they reach the top; the heap is rebuilt without them once they outnumber the live ones.
constexpr std::size_t kCompactAfter = 1024;

}  // namespace

struct TickHub::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(asio::any_io_executor io) : executor(std::move(io)), timer(executor) {}

  struct Item {
    TimePoint at;
    std::uint64_t seq;
    std::shared_ptr<Entry> entry;
  };
  // std::push_heap keeps the largest on top: "larger" is the earlier deadline.
  static bool later(const Item& a, const Item& b) { return a.at > b.at; }
  static bool live(const Item& item) { return item.entry->armed_ == item.seq; }

  // No strand: one wait is outstanding at a time and the next starts only once fire() is done,
  // so fire() never runs twice at once; the timer is only touched under `mutex`.
  asio::any_io_executor executor;

  mutable std::mutex mutex;  // guards everything below, and every Entry's armed_ fields
  engine::Timer timer;
  std::vector<Item> heap;
  std::size_t live_count = 0;
  std::uint64_t last_seq = 0;
  bool stopped = false;
  bool firing = false;        // fire() is running: it starts the next wait when it ends
  bool rearm_posted = false;  // a rearm() is on its way
  // The instant the outstanding wait is for; max: no wait outstanding.
  TimePoint timer_at = TimePoint::max();
  std::uint64_t wait_generation = 0;  // the current wait

  std::vector<std::shared_ptr<Entry>> batch;  // fire() only: what one wake-up fires

  void arm(const std::shared_ptr<Entry>& entry, TimePoint deadline) {
    std::lock_guard lock(mutex);
    if (stopped) return;
    if (entry->armed_ != 0 && entry->armed_at_ <= deadline) return;
    if (entry->armed_ == 0) ++live_count;  // otherwise its previous item becomes stale
    entry->armed_ = ++last_seq;
    entry->armed_at_ = deadline;
    heap.push_back(Item{deadline, last_seq, entry});
    std::push_heap(heap.begin(), heap.end(), later);
    compact_locked();
    if (!firing && deadline < timer_at && !rearm_posted) {
      rearm_posted = true;
      asio::post(executor, [self = shared_from_this()] { self->rearm(); });
    }
  }

  void disarm(Entry& entry) {
    std::lock_guard lock(mutex);
    if (entry.armed_ == 0) return;
    entry.armed_ = 0;
    --live_count;
    compact_locked();
  }

  void compact_locked() {
    const std::size_t stale = heap.size() - live_count;
    if (stale < kCompactAfter || stale < live_count) return;
    std::erase_if(heap, [](const Item& item) { return !live(item); });
    std::make_heap(heap.begin(), heap.end(), later);
  }

  // Points the timer at the earliest live item, unless it already waits for that instant or an
  // earlier one.
  void start_wait_locked() {
    while (!heap.empty() && !live(heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), later);
      heap.pop_back();
    }
    if (stopped || heap.empty()) return;  // a wait still outstanding finds nothing: harmless
    const TimePoint at = heap.front().at;
    if (at >= timer_at) return;
    timer_at = at;
    const std::uint64_t generation = ++wait_generation;
    timer.expires_at(at);  // cancels the wait it replaces
    timer.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      if (!ec) self->fire(generation);
    });
  }

  void rearm() {
    std::lock_guard lock(mutex);
    rearm_posted = false;
    if (!firing) start_wait_locked();
  }

  // The timer went off. Fires every entry due by now, earliest first.
  void fire(std::uint64_t generation) {
    {
      std::lock_guard lock(mutex);
      // A wait replaced after it had already completed: the current one fires instead.
      if (generation != wait_generation || stopped) return;
      timer_at = TimePoint::max();
      firing = true;
      const TimePoint now = Clock::now();
      while (!heap.empty() && heap.front().at <= now) {
        std::pop_heap(heap.begin(), heap.end(), later);
        Item item = std::move(heap.back());
        heap.pop_back();
        if (!live(item)) continue;
        item.entry->armed_ = 0;
        --live_count;
        batch.push_back(std::move(item.entry));
      }
    }
    for (auto& entry : batch) {
      std::optional<TimePoint> next;
      try {
        next = entry->on_due(Clock::now());
      } catch (const std::exception& e) {
        // The entry is not armed again; the others still fire.
        spdlog::error("a timer entry failed and stops ticking: {}", e.what());
      }
      if (next) arm(entry, *next);
    }
    batch.clear();
    std::lock_guard lock(mutex);
    firing = false;
    start_wait_locked();
  }

  void stop() {
    std::vector<Item> released;
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      stopped = true;
      for (auto& item : heap) item.entry->armed_ = 0;
      live_count = 0;
      released.swap(heap);
    }
    // The outstanding wait is work for the io_context: end it so the context can stop.
    std::lock_guard lock(mutex);
    ++wait_generation;
    timer.cancel();
  }
};

TickHub::TickHub(asio::any_io_executor executor)
    : impl_(std::make_shared<Impl>(std::move(executor))) {}

TickHub::~TickHub() { stop(); }

void TickHub::arm(const std::shared_ptr<Entry>& entry, TimePoint deadline) {
  impl_->arm(entry, deadline);
}

void TickHub::disarm(Entry& entry) { impl_->disarm(entry); }

void TickHub::stop() { impl_->stop(); }

std::size_t TickHub::armed() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->live_count;
}

}  // namespace orch::schedules
