#pragma once
/// Looking at processes from a test: which members of a process group still live (read from
/// /proc), and a scratch directory for the scripts and marker files of exec tests.
///
///   ScratchDir dir;
///   const std::string script = dir.write_script("slow.sh", "echo $$ > " + dir.path() + "/pid\n"
///                                                          "exec sleep 1000\n");
///   ... run it, read the pid ...
///   EXPECT_TRUE(wait_until_group_gone(pgid, 10s)) << describe_group(pgid);
///
/// A zombie counts as gone: it has ended, and once its parent is gone only the system's init
/// can reap it. Every wait is a bounded poll.
///
/// Thread-safety: pure functions; a ScratchDir is used from one thread.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace orch::test {

/// The processes of group `pgid` that have not ended (zombies left out).
std::vector<pid_t> live_group_members(pid_t pgid);

/// The children of `parent`, zombies included ("pid 12 (sleep) state Z" each), for checking
/// that a parent reaps what it starts.
std::vector<std::string> children_of(pid_t parent);

/// True while `pid` exists and is not a zombie.
bool process_alive(pid_t pid);

/// Polls until no process of group `pgid` lives (true) or `timeout` passes (false).
bool wait_until_group_gone(pid_t pgid, std::chrono::milliseconds timeout);

/// "pid 12 (sleep) state S, pid 13 ..." for the live members of a group, for messages.
std::string describe_group(pid_t pgid);

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  /// `path()/name`.
  std::string file(const std::string& name) const;
  /// Writes `/bin/sh` script `body` (a "#!/bin/sh" line is put first) as executable `name`;
  /// returns its absolute path.
  std::string write_script(const std::string& name, const std::string& body) const;
  /// The file's content; nullopt when it does not exist.
  std::optional<std::string> read(const std::string& name) const;
  /// Polls until `name` holds a whole line (ends in '\n') and returns it without the '\n';
  /// nullopt after `timeout`.
  std::optional<std::string> wait_for_line(const std::string& name,
                                           std::chrono::milliseconds timeout) const;

 private:
  std::string path_;
};

}  // namespace orch::test
