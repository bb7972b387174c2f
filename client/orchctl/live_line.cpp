#include "live_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <ostream>

namespace orchctl {
namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(200);

// The terminal's width in columns; 80 when it cannot be read.
std::size_t columns() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

LiveLine::LiveLine(std::ostream& out, orch::client::TextStyle style, std::size_t expected)
    : out_(out), style_(style), counts_(expected), started_(std::chrono::steady_clock::now()) {
  {
    std::lock_guard lock(mutex_);
    draw_locked();
  }
  ticker_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      wake_.wait_for(lock, kRedrawEvery);
      if (!stopped_) draw_locked();
    }
  });
}

LiveLine::~LiveLine() { clear(); }

void LiveLine::draw_locked() {
  const auto elapsed = std::chrono::steady_clock::now() - started_;
  std::string text = orch::client::format_live(counts_, elapsed, style_);
  // A line wider than the terminal would wrap, and "\r" could not redraw it: cut it (plain).
  const std::size_t width = columns() - 1;
  std::string plain = orch::client::format_live(counts_, elapsed, {});
  if (plain.size() > width) text = plain.substr(0, width);
  out_ << '\r' << text << "\x1b[K";
  out_.flush();
}

void LiveLine::update(const std::string& id, orch::v1::TaskState state) {
  std::lock_guard lock(mutex_);
  counts_.update(id, state);
  if (!stopped_) draw_locked();
}

void LiveLine::print(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (stopped_) {
    out_ << line << '\n';
  } else {
    out_ << "\r\x1b[K" << line << '\n';
    draw_locked();
  }
  out_.flush();
}

void LiveLine::stop(bool keep) {
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      if (keep) {
        draw_locked();
        out_ << '\n';
      } else {
        out_ << "\r\x1b[K";
      }
      out_.flush();
      stopped_ = true;
    }
  }
  wake_.notify_all();
  if (ticker_.joinable() && ticker_.get_id() != std::this_thread::get_id()) ticker_.join();
}

void LiveLine::clear() { stop(false); }

void LiveLine::finish() { stop(true); }

}  // namespace orchctl
