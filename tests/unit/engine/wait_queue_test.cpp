// WaitQueue keeps parked handlers; removing one from the middle must leave the others intact.

#include "orch/engine/wait_queue.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <vector>

namespace orch::engine {
namespace {

TEST(WaitQueue, RemovingAWaiterFromTheMiddleKeepsTheOthersCallable) {
  // Regression: with a deque, erase() move-assigned the waiters behind the removed one, and
  // Boost 1.81's any_completion_handler move assignment recursed until the stack overflowed.
  boost::asio::io_context io;
  WaitQueue queue;
  std::vector<int> completed;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(queue.push([&completed, i](boost::system::error_code) { completed.push_back(i); },
                             io.get_executor()));
  }
  // (Fresh optionals only: assigning over an engaged one would move-assign a Handler.)
  auto first = queue.remove(ids[1]);
  ASSERT_TRUE(first.has_value());
  WaitQueue::complete(std::move(*first), {});
  auto second = queue.remove(ids[3]);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(queue.remove(ids[3]).has_value());
  while (auto w = queue.pop_front()) WaitQueue::complete(std::move(*w), {});
  io.run();
  EXPECT_EQ(completed, (std::vector<int>{1, 0, 2, 4}));
  WaitQueue::complete(std::move(*second), {});
  io.restart();
  io.run();
  EXPECT_EQ(completed.back(), 3);
}


// Asio 1.81's any_completion_handler move assignment wraps its source in a new handler, so a
// queue that shifted waiters by assignment nested a surviving handler one level deeper per
// removal; after enough removals calling or destroying it overflowed the stack (seen with
// thousands of recv nodes losing selects). Here one waiter survives 200,000 removals next to
// it and is then completed normally.
TEST(WaitQueue, AWaiterSurvivesManyRemovalsBesideItAndStillCompletes) {
  boost::asio::io_context io;
  WaitQueue queue;
  bool called = false;
  const auto survivor =
      queue.push(WaitQueue::Handler([&called](boost::system::error_code) { called = true; }),
                 io.get_executor());
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(queue.push(WaitQueue::Handler([](boost::system::error_code) {}), io.get_executor()));
  }
  // The queue is [survivor, d, d, d]: removing the second waiter moves the survivor in a
  // deque that shifts the shorter side.
  for (int i = 0; i < 200'000; ++i) {
    ASSERT_TRUE(queue.remove(ids.front()).has_value());
    ids.erase(ids.begin());
    ids.push_back(queue.push(WaitQueue::Handler([](boost::system::error_code) {}), io.get_executor()));
  }
  auto first = queue.pop_front();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id, survivor);
  WaitQueue::complete(std::move(*first), {});
  io.run();
  EXPECT_TRUE(called);
  EXPECT_EQ(queue.size(), 3u);
}

}  // namespace
}  // namespace orch::engine
