#include "ledgers.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace orch::stress {

namespace v1 = orch::v1;

namespace {

bool is_terminal(int state) {
  return state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
         state == v1::TASK_STATE_CANCELLED || state == v1::TASK_STATE_TIMED_OUT;
}

}  // namespace

std::string state_name(int state) {
  std::string name = v1::TaskState_Name(static_cast<v1::TaskState>(state));
  const std::string prefix = "TASK_STATE_";
  if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
  return name.empty() ? std::to_string(state) : name;
}

// ---------------------------------------------------------------------------------------------

void Findings::add(const std::string& kind, const std::string& detail) {
  static const bool verbose = std::getenv("STRESS_VERBOSE") != nullptr;
  if (verbose) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::fprintf(stderr, "[%.3f] %s: %s\n", std::chrono::duration<double>(now).count(),
                 kind.c_str(), detail.c_str());
  }
  std::lock_guard lock(mutex_);
  items_[kind].push_back(detail);
}

std::size_t Findings::count(const std::string& kind) const {
  std::lock_guard lock(mutex_);
  auto it = items_.find(kind);
  return it == items_.end() ? 0 : it->second.size();
}

std::size_t Findings::total() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [kind, details] : items_) n += details.size();
  return n;
}

std::string Findings::describe(std::size_t details_per_kind) const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [kind, details] : items_) {
    out << "  " << kind << ": " << details.size() << "\n";
    for (std::size_t i = 0; i < details.size() && i < details_per_kind; ++i) {
      out << "    - " << details[i] << "\n";
    }
  }
  return out.str();
}

// ---------------------------------------------------------------------------------------------

void TaskLedger::acked(const std::string& id, Expect expect, const std::string& payload) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(id);
  if (!inserted) return;  // an idempotent re-spawn answered the same id
  it->second.expect = expect;
  it->second.payload = payload;
  if (auto early = early_.find(id); early != early_.end()) {
    check_locked(id, it->second, early->second);
    early_.erase(early);
  }
}

void TaskLedger::observe(const v1::TaskInfo& task) {
  if (!is_terminal(task.state())) return;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(task.id());
  if (it != entries_.end()) {
    check_locked(task.id(), it->second, task);
    return;
  }
  auto [early, inserted] = early_.try_emplace(task.id(), task);
  if (!inserted && early->second.state() != task.state()) {
    findings_.add("task_state_changed", "task " + task.id() + " was seen " +
                                            state_name(early->second.state()) + " then " +
                                            state_name(task.state()));
  }
}

void TaskLedger::check_locked(const std::string& id, Entry& entry, const v1::TaskInfo& task) {
  const int state = task.state();
  if (entry.state) {
    if (*entry.state != state) {
      findings_.add("task_state_changed", "task " + id + " was seen " + state_name(*entry.state) +
                                              " then " + state_name(state));
    }
    return;
  }
  entry.state = state;
  const auto wrong = [&](const std::string& want) {
    findings_.add("wrong_outcome", "task " + id + ": want " + want + ", got " + state_name(state) +
                                       " (" + task.result().error() + ")");
  };
  switch (entry.expect) {
    case Expect::kSucceeded:
      if (state != v1::TASK_STATE_SUCCEEDED) wrong("SUCCEEDED");
      break;
    case Expect::kCancelled:
      if (state != v1::TASK_STATE_CANCELLED) wrong("CANCELLED");
      break;
    case Expect::kWorkerEcho:
      if (state != v1::TASK_STATE_SUCCEEDED) {
        wrong("SUCCEEDED (worker echo)");
      } else if (task.result().worker().result() != entry.payload) {
        findings_.add("wrong_outcome", "task " + id + ": worker answered \"" +
                                           task.result().worker().result() + "\", want \"" +
                                           entry.payload + "\"");
      }
      break;
    case Expect::kPipeSend:
      if (state != v1::TASK_STATE_SUCCEEDED) {
        wrong("SUCCEEDED (send)");
      } else if (pipe_ != nullptr) {
        pipe_->sent(entry.payload);
      }
      break;
    case Expect::kPipeRecv:
      if (state == v1::TASK_STATE_SUCCEEDED) {
        if (pipe_ != nullptr) {
          pipe_->received(task.result().timeout().child().recv().payload(), "recv task " + id);
        }
      } else if (state != v1::TASK_STATE_TIMED_OUT && state != v1::TASK_STATE_CANCELLED) {
        wrong("SUCCEEDED, TIMED_OUT or CANCELLED (recv)");  // the last two took nothing
      }
      break;
    case Expect::kShutdown:
      if (state == v1::TASK_STATE_SUCCEEDED) break;
      if (state == v1::TASK_STATE_CANCELLED &&
          task.result().error().find("shutting down") != std::string::npos) {
        break;
      }
      wrong("SUCCEEDED, or CANCELLED by the shutdown");
      break;
  }
}

void TaskLedger::call_failed(const std::string& id, int code, const std::string& message,
                             bool after_sigterm) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state) return;
  it->second.failed_code = code;
  it->second.failed_message = message;
  it->second.failed_after_sigterm = after_sigterm;
}

std::vector<std::string> TaskLedger::unobserved() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, entry] : entries_) {
    if (!entry.state) ids.push_back(id);
  }
  return ids;
}

std::uint64_t TaskLedger::acked_count() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::uint64_t TaskLedger::terminal_count() const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [id, entry] : entries_) n += entry.state ? 1 : 0;
  return n;
}

TaskLedger::Resolution TaskLedger::resolve(bool shutdown_phase) {
  std::lock_guard lock(mutex_);
  Resolution r;
  for (const auto& [id, entry] : entries_) {
    if (entry.state) {
      ++r.terminal;
      ++r.states[state_name(*entry.state)];
      continue;
    }
    constexpr int kUnavailable = 14;  // grpc::StatusCode::UNAVAILABLE
    if (shutdown_phase && entry.failed_code == kUnavailable && entry.failed_after_sigterm) {
      ++r.unavailable_after_sigterm;
      continue;
    }
    ++r.lost;
    std::string detail = "task " + id + " was acknowledged and never seen terminal";
    if (entry.failed_code) {
      detail += "; its last call failed with code " + std::to_string(*entry.failed_code) + " (" +
                entry.failed_message + ")" +
                (entry.failed_after_sigterm ? ", begun after SIGTERM" : ", begun before SIGTERM");
    }
    findings_.add("lost_task", detail);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

void MpscLedger::sent(const std::vector<std::string>& payloads, std::uint32_t accepted,
                      std::uint64_t first_sequence) {
  std::lock_guard lock(mutex_);
  for (std::uint32_t i = 0; i < accepted && i < payloads.size(); ++i) {
    Message& m = messages_[payloads[i]];
    if (m.accepted) findings_.add("test_bug", channel_ + ": payload sent twice: " + payloads[i]);
    m.accepted = true;
    m.sequence = first_sequence + i;
  }
}

void MpscLedger::sent_unknown(const std::vector<std::string>& payloads) {
  std::lock_guard lock(mutex_);
  for (const auto& p : payloads) messages_[p].unknown = true;
}

void MpscLedger::delivered(const v1::ChannelMessage& message) {
  std::lock_guard lock(mutex_);
  Message& m = messages_[message.payload()];
  ++m.deliveries;
  ++deliveries_;
  if (message.delivery_count() > 1) ++redeliveries_;
  if (m.accepted && m.sequence != 0 && m.sequence != message.sequence()) {
    findings_.add("sequence_mismatch", channel_ + ": " + message.payload() + " was accepted as " +
                                           std::to_string(m.sequence) + ", delivered as " +
                                           std::to_string(message.sequence()));
  }
  if (!m.accepted) m.sequence = message.sequence();
}

void MpscLedger::acked(const std::string& payload) {
  std::lock_guard lock(mutex_);
  ++messages_[payload].acks;
}

MpscLedger::Summary MpscLedger::check() {
  std::lock_guard lock(mutex_);
  Summary s;
  s.deliveries = deliveries_;
  s.redeliveries = redeliveries_;
  s.allowed_loss = at_least_once_ ? 0 : may_lose_.load();
  for (const auto& [payload, m] : messages_) {
    s.accepted += m.accepted ? 1 : 0;
    s.unknown += (!m.accepted && m.unknown) ? 1 : 0;
    s.acks += m.acks;
    if (!m.accepted && !m.unknown && m.deliveries > 0) {
      findings_.add("phantom_message", channel_ + ": delivered but never sent: " + payload);
    }
    if (at_least_once_) {
      if (m.accepted && m.acks == 0) {
        ++s.missing;
        findings_.add("lost_message", channel_ + " (at-least-once): accepted as sequence " +
                                          std::to_string(m.sequence) + ", " +
                                          std::to_string(m.deliveries) +
                                          " deliveries, never acknowledged: " + payload);
      }
      if (m.acks > 1) {
        ++s.duplicates;
        findings_.add("duplicate_message", channel_ + " (at-least-once): acknowledged " +
                                               std::to_string(m.acks) + " times: " + payload);
      }
    } else {
      if (m.deliveries > 1) {
        ++s.duplicates;
        findings_.add("duplicate_message", channel_ + " (at-most-once): delivered " +
                                               std::to_string(m.deliveries) + " times: " + payload);
      }
      if (m.accepted && m.deliveries == 0) ++s.missing;
    }
  }
  if (!at_least_once_ && s.missing > s.allowed_loss) {
    findings_.add("lost_message",
                  channel_ + " (at-most-once): " + std::to_string(s.missing) +
                      " accepted messages never delivered, but receivers that went away could "
                      "have carried off at most " +
                      std::to_string(s.allowed_loss));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------

void PipeLedger::sent(const std::string& payload) {
  std::lock_guard lock(mutex_);
  if (++sent_[payload] > 1) findings_.add("test_bug", "pipe: payload sent twice: " + payload);
}

void PipeLedger::received(const std::string& payload, const std::string& how) {
  std::lock_guard lock(mutex_);
  ++received_[payload];
}

PipeLedger::Summary PipeLedger::check() {
  std::lock_guard lock(mutex_);
  Summary s;
  s.sent = sent_.size();
  for (const auto& [payload, n] : received_) {
    s.received += n;
    if (!sent_.contains(payload)) {
      findings_.add("phantom_message", "pipe: received but no send task sent it: " + payload);
    }
  }
  for (const auto& [payload, n] : sent_) {
    auto it = received_.find(payload);
    const std::uint32_t got = it == received_.end() ? 0 : it->second;
    if (got == 0) {
      ++s.missing;
      findings_.add("lost_message", "pipe: a send task put it in, nobody took it: " + payload);
    } else if (got > 1) {
      ++s.duplicates;
      findings_.add("duplicate_message",
                    "pipe: taken " + std::to_string(got) + " times: " + payload);
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------

bool BroadcastCheck::message(std::uint64_t sequence, std::string& problem) {
  ++received_;
  if (next_ == 0) {  // the stream's first message: it starts here
    next_ = sequence + 1;
    pending_skip_ = 0;
    return true;
  }
  const std::uint64_t expected = next_ + pending_skip_;
  const bool ok = sequence == expected;
  if (!ok) {
    problem = "expected sequence " + std::to_string(expected) + " (lagged " +
              std::to_string(pending_skip_) + " just before), got " + std::to_string(sequence);
  }
  next_ = sequence + 1;
  pending_skip_ = 0;
  return ok;
}

// ---------------------------------------------------------------------------------------------

void WatchLedger::sent(std::uint64_t version, const std::string& value) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = sent_.try_emplace(version, value);
  if (!inserted && it->second != value) {
    findings_.add("watch_version_reused", "version " + std::to_string(version) +
                                              " answered for \"" + it->second + "\" and \"" +
                                              value + "\"");
  }
}

void WatchLedger::seen(std::uint64_t version, const std::string& value) {
  std::lock_guard lock(mutex_);
  seen_.emplace_back(version, value);
}

std::uint64_t WatchLedger::check() {
  std::lock_guard lock(mutex_);
  for (const auto& [version, value] : seen_) {
    auto it = sent_.find(version);
    if (it == sent_.end()) {
      findings_.add("phantom_message", "watch: version " + std::to_string(version) +
                                           " was read but no Send answered it");
    } else if (it->second != value) {
      findings_.add("watch_wrong_value", "watch: version " + std::to_string(version) +
                                             " read as \"" + value + "\", sent as \"" + it->second +
                                             "\"");
    }
  }
  return seen_.size();
}

}  // namespace orch::stress
