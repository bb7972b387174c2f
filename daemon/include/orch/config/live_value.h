#pragma once
/// A value that a configuration reload may replace while readers use it: get() hands out an
/// immutable snapshot that stays valid for as long as the reader holds it, so a call that
/// started under the old limits finishes under them, and the next call sees the new ones.
///
/// Thread-safety: get() and set() may be called from any thread at once.

#include <memory>
#include <mutex>
#include <utility>

namespace orch::config {

template <typename T>
class LiveValue {
 public:
  explicit LiveValue(T value) : value_(std::make_shared<const T>(std::move(value))) {}

  /// The current value; never null.
  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }

  /// Replaces the value; readers holding the old one keep it.
  void set(T value) {
    auto next = std::make_shared<const T>(std::move(value));
    std::lock_guard lock(mutex_);
    value_.swap(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace orch::config
