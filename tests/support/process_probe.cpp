#include "process_probe.h"
#include "test_support.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace orch::test {
namespace {

struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

// /proc/PID/stat: "PID (COMM) STATE PPID PGRP ..."; COMM may hold spaces and parentheses.
std::optional<ProcStat> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcStat stat;
  stat.pid = pid;
  stat.comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 1));
  rest >> stat.state >> stat.ppid >> stat.pgrp;
  if (!rest) return std::nullopt;
  return stat;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return processes;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    if (const auto stat = read_stat(static_cast<pid_t>(pid))) processes.push_back(*stat);
  }
  ::closedir(proc);
  return processes;
}

std::vector<ProcStat> live_members(pid_t pgid) {
  std::vector<ProcStat> members;
  for (const auto& stat : all_processes()) {
    if (stat.pgrp == pgid && stat.state != 'Z' && stat.state != 'X') members.push_back(stat);
  }
  return members;
}

}  // namespace

std::vector<pid_t> live_group_members(pid_t pgid) {
  std::vector<pid_t> pids;
  for (const auto& member : live_members(pgid)) pids.push_back(member.pid);
  return pids;
}

std::vector<std::string> children_of(pid_t parent) {
  std::vector<std::string> children;
  for (const auto& stat : all_processes()) {
    if (stat.ppid == parent) {
      children.push_back("pid " + std::to_string(stat.pid) + " (" + stat.comm + ") state " +
                         stat.state);
    }
  }
  return children;
}

bool process_alive(pid_t pid) {
  const auto stat = read_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

bool wait_until_group_gone(pid_t pgid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!live_members(pgid).empty()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string describe_group(pid_t pgid) {
  std::string text;
  for (const auto& member : live_members(pgid)) {
    if (!text.empty()) text += ", ";
    text += "pid " + std::to_string(member.pid) + " (" + member.comm + ") state " + member.state;
  }
  return text.empty() ? "no live member of group " + std::to_string(pgid) : text;
}

ScratchDir::ScratchDir()
    : path_(std::filesystem::canonical(make_temp_dir("orch-exec")).string()) {}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ScratchDir::file(const std::string& name) const { return path_ + "/" + name; }

std::string ScratchDir::write_script(const std::string& name, const std::string& body) const {
  const std::string path = file(name);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "#!/bin/sh\n" << body;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  if (::chmod(path.c_str(), 0755) != 0) {
    throw std::runtime_error("chmod " + path + ": " + std::strerror(errno));
  }
  return path;
}

std::optional<std::string> ScratchDir::read(const std::string& name) const {
  std::ifstream in(file(name), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> ScratchDir::wait_for_line(const std::string& name,
                                                     std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto text = read(name)) {
      if (const auto newline = text->find('\n'); newline != std::string::npos) {
        return text->substr(0, newline);
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace orch::test
