#include "orch/engine/tenant_semaphore.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <vector>

namespace orch::engine {
namespace {

namespace asio = boost::asio;

// Runs what is ready; a parked waiter is no work to the io_context, so it may have stopped.
void run_ready(asio::io_context& io) {
  io.restart();
  io.poll();
}

TEST(TenantSemaphore, WaitersAreServedInArrivalOrder) {
  asio::io_context io;
  TenantSemaphore semaphore(1);
  std::vector<int> granted;
  for (int i = 0; i < 4; ++i) {
    semaphore.async_acquire(io.get_executor(), [&granted, i](boost::system::error_code ec) {
      ASSERT_FALSE(ec);
      granted.push_back(i);
    });
  }
  run_ready(io);
  EXPECT_EQ(granted, std::vector<int>{0});
  EXPECT_EQ(semaphore.waiting(), 3u);
  for (int expected = 1; expected < 4; ++expected) {
    semaphore.release();
    run_ready(io);
    EXPECT_EQ(granted.back(), expected);
  }
  EXPECT_EQ(semaphore.in_use(), 1u);
}

TEST(TenantSemaphore, NewcomersDoNotOvertakeWaiters) {
  asio::io_context io;
  TenantSemaphore semaphore(1);
  std::vector<int> granted;
  auto acquire = [&](int who) {
    semaphore.async_acquire(io.get_executor(), [&granted, who](boost::system::error_code ec) {
      if (!ec) granted.push_back(who);
    });
  };
  acquire(0);
  acquire(1);
  run_ready(io);
  semaphore.set_limit(2);  // a freed place goes to the waiter, not to whoever comes next
  acquire(2);
  run_ready(io);
  EXPECT_EQ(granted, (std::vector<int>{0, 1}));
  EXPECT_EQ(semaphore.waiting(), 1u);
}

TEST(TenantSemaphore, CancelledWaiterLeavesTheQueueHoldingNothing) {
  asio::io_context io;
  TenantSemaphore semaphore(1);
  semaphore.async_acquire(io.get_executor(), [](boost::system::error_code) {});
  asio::cancellation_signal signal;
  boost::system::error_code result;
  semaphore.async_acquire(io.get_executor(),
                          asio::bind_cancellation_slot(signal.slot(), [&](boost::system::error_code ec) {
                            result = ec;
                          }));
  run_ready(io);
  EXPECT_EQ(semaphore.waiting(), 1u);
  signal.emit(asio::cancellation_type::terminal);
  run_ready(io);
  EXPECT_EQ(result, asio::error::operation_aborted);
  EXPECT_EQ(semaphore.waiting(), 0u);
  semaphore.release();
  EXPECT_EQ(semaphore.in_use(), 0u);
}

// Queued requests (intrusive entries, granted through the handler) and async waiters share one
// arrival order.
struct Tagged : PermitRequest {
  explicit Tagged(int tag) : tag(tag) {}
  int tag;
};

struct GrantLog {
  std::vector<int> granted;
  static void on_grant(void* context, PermitRequest& request) {
    static_cast<GrantLog*>(context)->granted.push_back(static_cast<Tagged&>(request).tag);
  }
};

TEST(TenantSemaphore, RequestsAndWaitersShareOneArrivalOrder) {
  asio::io_context io;
  TenantSemaphore semaphore(1);
  GrantLog log;
  semaphore.set_grant_handler(&GrantLog::on_grant, &log);
  Tagged r0(0), r2(2), r3(3), r5(5);
  EXPECT_TRUE(semaphore.acquire_or_queue(r0));  // free: taken at once, no handler call
  auto acquire = [&](int who) {
    semaphore.async_acquire(io.get_executor(), [&log, who](boost::system::error_code ec) {
      if (!ec) log.granted.push_back(who);
    });
  };
  acquire(1);
  EXPECT_FALSE(semaphore.acquire_or_queue(r2));
  EXPECT_FALSE(semaphore.acquire_or_queue(r3));
  acquire(4);
  EXPECT_FALSE(semaphore.acquire_or_queue(r5));
  run_ready(io);
  EXPECT_TRUE(log.granted.empty());
  EXPECT_EQ(semaphore.waiting(), 5u);
  for (int expected = 1; expected <= 5; ++expected) {
    semaphore.release();
    run_ready(io);
    ASSERT_EQ(log.granted.size(), static_cast<std::size_t>(expected));
    EXPECT_EQ(log.granted.back(), expected);
  }
  EXPECT_EQ(semaphore.waiting(), 0u);
  EXPECT_EQ(semaphore.in_use(), 1u);
}

TEST(TenantSemaphore, CancelledRequestLeavesTheQueueAndIsNeverGranted) {
  TenantSemaphore semaphore(1);
  GrantLog log;
  semaphore.set_grant_handler(&GrantLog::on_grant, &log);
  Tagged r0(0), r1(1), r2(2), r3(3);
  EXPECT_TRUE(semaphore.acquire_or_queue(r0));
  EXPECT_FALSE(semaphore.acquire_or_queue(r1));
  EXPECT_FALSE(semaphore.acquire_or_queue(r2));
  EXPECT_FALSE(semaphore.acquire_or_queue(r3));
  EXPECT_TRUE(semaphore.cancel(r2));   // from the middle
  EXPECT_TRUE(semaphore.cancel(r3));   // the tail
  EXPECT_FALSE(semaphore.cancel(r3));  // not queued any more
  EXPECT_EQ(semaphore.waiting(), 1u);
  semaphore.release();
  EXPECT_EQ(log.granted, std::vector<int>{1});
  EXPECT_FALSE(semaphore.cancel(r1));  // granted already
  semaphore.release();
  EXPECT_EQ(log.granted, std::vector<int>{1});
  EXPECT_EQ(semaphore.in_use(), 0u);
  // A free permit with nobody queued is taken at once again.
  EXPECT_TRUE(semaphore.acquire_or_queue(r2));
}

TEST(TenantSemaphore, ARaisedLimitGrantsQueuedRequests) {
  TenantSemaphore semaphore(1);
  GrantLog log;
  semaphore.set_grant_handler(&GrantLog::on_grant, &log);
  Tagged r0(0), r1(1), r2(2), r3(3);
  for (auto* r : {&r0, &r1, &r2, &r3}) semaphore.acquire_or_queue(*r);
  semaphore.set_limit(3);
  EXPECT_EQ(log.granted, (std::vector<int>{1, 2}));
  EXPECT_EQ(semaphore.waiting(), 1u);
}

}  // namespace
}  // namespace orch::engine
