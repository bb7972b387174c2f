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

}  // namespace
}  // namespace orch::engine
