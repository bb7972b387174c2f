#pragma once
/// Text for a person at a terminal: whether to colour, and the live progress line that
/// `orchctl watch` and `orchctl join` redraw in place while tasks run.
///
/// Thread-safety: LiveCounts is not synchronised (its owner locks); the functions are pure.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "orch/client/format.h"
#include "orch/v1/tasks.pb.h"

namespace orch::client {

/// Whether text output is coloured. `mode` is the --color flag: "always" and "never" decide
/// alone; "auto" colours only a terminal (`is_terminal`), and not when the NO_COLOR
/// environment variable is set to a non-empty value (`no_color`, nullptr when unset), nor
/// when TERM is "dumb" (`term`, nullptr when unset).
bool want_color(std::string_view mode, bool is_terminal, const char* no_color, const char* term);

/// The latest state of each task of a watch or join, by id.
class LiveCounts {
 public:
  /// `expected`: how many tasks the command waits for (the ids given); 0 when unknown (a
  /// watch of every task), then the total is the number of tasks seen so far.
  explicit LiveCounts(std::size_t expected = 0) : expected_(expected) {}

  /// Records that task `id` is now in `state`.
  void update(const std::string& id, orch::v1::TaskState state);

  /// Tasks seen in `state` now.
  std::size_t count(orch::v1::TaskState state) const;
  /// Tasks seen in a terminal state.
  std::size_t done() const;
  /// The ids given, or (none given) every task seen.
  std::size_t total() const;

 private:
  std::size_t expected_ = 0;
  std::map<std::string, orch::v1::TaskState> states_;
};

/// An elapsed time for people: "0.4s", "12.3s", "1m05s", "2h03m09s" (tenths only below a
/// minute).
std::string format_elapsed(std::chrono::steady_clock::duration elapsed);

/// The live line: done/total, then each state that has tasks, in the order PENDING RUNNING
/// SUCCEEDED FAILED CANCELLED TIMED_OUT, with its count, then the elapsed time:
///   3/10 done  PENDING 2  RUNNING 5  SUCCEEDED 2  FAILED 1  12.3s
/// State words are coloured as state_word() does when
/// `style.color`. One line, no '\n'.
std::string format_live(const LiveCounts& counts, std::chrono::steady_clock::duration elapsed,
                        const TextStyle& style);

}  // namespace orch::client
