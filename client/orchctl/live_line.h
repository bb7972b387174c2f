#pragma once
/// The live progress line of `watch`, `join` and `select` on a terminal: one line at the
/// bottom, redrawn in place ("\r" + text + erase to end of line) on every change and a few
/// times a second for the elapsed time. Lines printed through print() scroll above it.
/// Only used when stdout is a terminal and the output is text; pipes never see it.
///
/// Thread-safety: every member may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <iosfwd>
#include <mutex>
#include <string>
#include <thread>

#include "orch/client/live.h"

namespace orchctl {

class LiveLine {
 public:
  /// Starts drawing on `out` (a terminal). `expected`: tasks waited for; 0 when unknown.
  LiveLine(std::ostream& out, orch::client::TextStyle style, std::size_t expected);
  /// Stops redrawing and erases the line if finish() or clear() did not end it.
  ~LiveLine();
  LiveLine(const LiveLine&) = delete;
  LiveLine& operator=(const LiveLine&) = delete;

  /// Task `id` is now in `state`: the counts change and the line is redrawn.
  void update(const std::string& id, orch::v1::TaskState state);
  /// Prints `line` and '\n' above the live line.
  void print(const std::string& line);
  /// Erases the live line and stops drawing it; the cursor is left at column 0.
  void clear();
  /// Draws the line one last time and ends it with '\n', so that it stays on screen.
  void finish();

 private:
  void draw_locked();
  // Ends the drawing: the line stays (`keep`, ended by '\n') or is erased.
  void stop(bool keep);

  std::ostream& out_;
  orch::client::TextStyle style_;
  orch::client::LiveCounts counts_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;  // no more drawing
  std::thread ticker_;
};

/// True when file descriptor 1 is a terminal.
bool stdout_is_terminal();

}  // namespace orchctl
