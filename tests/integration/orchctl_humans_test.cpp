// orchctl for people: --help with examples on every command (and the examples work), shell
// completion written from the command tree, colour only on a terminal, and the live line of
// watch and join on a terminal (a pseudo-terminal here) while pipes get plain lines.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "daemon_process.h"
#include "proto_json.h"
#include "subprocess.h"
#include "test_support.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace fs = std::filesystem;

// A fresh directory, removed with what it holds.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "orchctl-humans-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

// A loopback address where nothing answers: a socket bound to a port and never listening, kept
// for the life of this object so that no one else takes the port. Connections are refused.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot bind a loopback port");
    }
    address_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
  ~ClosedPort() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
};

// The words of a command path: "interval create" -> {"interval", "create"}.
std::vector<std::string> words_of(const std::string& path) {
  std::vector<std::string> words;
  std::istringstream in(path);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The names listed under "Subcommands:" in a --help text ("  ls, list   List ..." gives ls).
std::vector<std::string> subcommands_in_help(const std::string& help) {
  std::vector<std::string> names;
  const std::string heading = "\nSubcommands:\n";
  const auto at = help.find(heading);
  if (at == std::string::npos) return names;
  std::istringstream in(help.substr(at + heading.size()));
  for (std::string line; std::getline(in, line) && line.starts_with("  ");) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    if (name.ends_with(',')) name.pop_back();
    names.push_back(name);
  }
  return names;
}

// The example commands at the end of a --help text: the lines under "Examples:", with lines
// continued by a trailing backslash joined.
std::vector<std::string> examples_in_help(const std::string& help) {
  std::vector<std::string> examples;
  const auto at = help.rfind("\nExamples:\n");
  if (at == std::string::npos) return examples;
  std::istringstream in(help.substr(at + 11));
  bool continued = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) break;
    const auto start = line.find_first_not_of(' ');
    if (start == std::string::npos) break;
    line = line.substr(start);
    if (continued) {
      examples.back() += line;
    } else {
      examples.push_back(line);
    }
    continued = line.ends_with('\\');
    if (continued) examples.back().pop_back();
  }
  return examples;
}

// The names of the arguments listed under "Positionals:" in a --help text.
std::vector<std::string> positionals_in_help(const std::string& help) {
  std::vector<std::string> names;
  const std::string heading = "\nPositionals:\n";
  const auto at = help.find(heading);
  if (at == std::string::npos) return names;
  std::istringstream in(help.substr(at + heading.size()));
  for (std::string line; std::getline(in, line) && line.starts_with("  ");) {
    if (line[2] == ' ') continue;  // a description continued
    names.push_back(words_of(line).front());
  }
  return names;
}

struct HelpPage {
  std::string path;               // the command's words: "" for orchctl itself
  std::vector<std::string> args;  // how to reach it: "interval create NAME sleep"
  CommandResult run;              // orchctl ARGS --help
};

// Every command's --help, found by walking the Subcommands lists from orchctl --help down.
// A command's arguments come before its sub-commands (`interval create NAME sleep`): the walk
// puts each argument's name in its place.
std::vector<HelpPage> every_help_page() {
  std::vector<HelpPage> pages;
  std::vector<std::pair<std::string, std::vector<std::string>>> todo{{"", {}}};
  while (!todo.empty()) {
    auto [path, args] = todo.front();
    todo.erase(todo.begin());
    std::vector<std::string> help_args = args;
    help_args.push_back("--help");
    HelpPage page{path, args, run_orchctl(help_args)};
    std::vector<std::string> below = args;
    for (const auto& name : positionals_in_help(page.run.out)) below.push_back(name);
    for (const auto& sub : subcommands_in_help(page.run.out)) {
      std::vector<std::string> sub_args = below;
      sub_args.push_back(sub);
      todo.emplace_back(path.empty() ? sub : path + " " + sub, sub_args);
    }
    pages.push_back(std::move(page));
  }
  return pages;
}

TEST(OrchctlHelp, EveryCommandEndsWithExamplesOfItself) {
  const auto pages = every_help_page();
  std::set<std::string> paths;
  for (const auto& page : pages) {
    paths.insert(page.path);
    SCOPED_TRACE("orchctl " + page.path + " --help");
    // The page is the command's own: its usage line names the command.
    EXPECT_TRUE(contains(page.run.out, "Usage: orchctl " + page.path)) << page.run.out;
    EXPECT_EQ(page.run.exit_code, 0) << describe(page.run);
    EXPECT_EQ(page.run.err, "");
    const auto examples = examples_in_help(page.run.out);
    ASSERT_FALSE(examples.empty()) << page.run.out;
    // The examples close the help: after "Examples:" only indented lines.
    const std::string tail = page.run.out.substr(page.run.out.rfind("\nExamples:\n") + 11);
    for (const auto& line : lines_of(tail)) EXPECT_TRUE(starts_with(line, "  ")) << tail;
    // At least one example runs this very command: its words, in order, after "orchctl".
    const auto words = words_of(page.path);
    const bool shows_itself = std::any_of(examples.begin(), examples.end(), [&](const auto& ex) {
      const auto at = ex.find("orchctl ");
      if (at == std::string::npos) return false;
      const auto tokens = words_of(ex.substr(at));
      auto next = tokens.begin();
      for (const auto& word : words) {
        next = std::find(next, tokens.end(), word);
        if (next == tokens.end()) return false;
        ++next;
      }
      return true;
    });
    EXPECT_TRUE(shows_itself) << page.run.out;
  }
  // The walk reached the nested commands.
  for (const char* path : {"spawn", "spawn exec", "spawn http", "chan send", "chan recv",
                           "mutex lock", "mutex unlock", "interval create",
                           "interval create sleep", "interval rm", "completion", "worker"}) {
    EXPECT_TRUE(paths.contains(path)) << path;
  }
  EXPECT_GE(pages.size(), 40u);
}

// Each example, run by bash as a person would paste it, in an empty directory (HOME too)
// where the @FILE arguments it names exist, against an address where nothing listens: it must
// pass every local check (exit 2 is a usage error) and fail only to connect (exit 3,
// UNAVAILABLE), or succeed without the daemon (completion).
TEST(OrchctlHelp, EveryExampleIsAValidCommand) {
  const ClosedPort closed;
  std::size_t checked = 0;
  for (const auto& page : every_help_page()) {
    for (std::string example : examples_in_help(page.run.out)) {
      SCOPED_TRACE("example of `orchctl " + page.path + "`: " + example);
      const TempDir dir;
      const std::regex file_arg("@([A-Za-z0-9_.-]+)");
      for (std::sregex_iterator it(example.begin(), example.end(), file_arg), end; it != end;
           ++it) {
        dir.write((*it)[1].str(), "{}\n");
      }
      example =
          std::regex_replace(example, std::regex("--addr [^ ]+"), "--addr " + closed.address());
      const std::string script = "cd '" + dir.path().string() + "' && export HOME=\"$PWD\" " +
                                 "ORCH_ADDR=" + closed.address() + " && orchctl() { '" +
                                 kOrchctl + "' \"$@\"; } && " + example;
      const auto run = run_command({"/bin/bash", "-c", script});
      if (run.exit_code == 0) {
        EXPECT_TRUE(contains(page.path, "completion")) << describe(run);
      } else {
        EXPECT_EQ(run.exit_code, 3) << describe(run);
        EXPECT_TRUE(starts_with(run.err, "UNAVAILABLE")) << describe(run);
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 50u);
}

// --- shell completion -------------------------------------------------------------------------

std::string completion_file(const TempDir& dir, const std::string& shell) {
  const auto run = run_orchctl({"completion", shell});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  return dir.write("orchctl." + shell, run.out).string();
}

// Runs bash with the completion script sourced and `calls` after it; each call of
// `t WORD...` completes the last WORD (empty: a fresh word) and prints COMPREPLY sorted on one
// line.
CommandResult drive_bash(const std::string& script_path, const std::string& cwd,
                         const std::string& calls) {
  const std::string script =
      "cd '" + cwd + "' || exit 9\n"
      "source '" + script_path + "' || exit 9\n"
      "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ));\n"
      "  COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _orchctl;\n"
      "  printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '; echo; }\n" +
      calls;
  return run_command({"/bin/bash", "-c", script});
}

std::set<std::string> set_of(const std::string& line) {
  const auto words = words_of(line);
  return {words.begin(), words.end()};
}

TEST(OrchctlCompletion, BashScriptIsValidAndRegistersOrchctl) {
  const TempDir dir;
  const std::string path = completion_file(dir, "bash");
  const auto syntax = run_command({"/bin/bash", "-n", path});
  EXPECT_EQ(syntax.exit_code, 0) << describe(syntax);
  const auto registered =
      run_command({"/bin/bash", "-c", "source '" + path + "'; complete -p orchctl"});
  EXPECT_EQ(registered.exit_code, 0) << describe(registered);
  EXPECT_EQ(registered.out, "complete -F _orchctl orchctl\n");
}

TEST(OrchctlCompletion, BashCompletesCommandsFlagsAndValues) {
  const TempDir dir;
  const std::string path = completion_file(dir, "bash");
  dir.write("spec.yaml", "sleep: {duration: 1s}\n");
  const auto run = drive_bash(path, dir.path().string(),
                              "t orchctl ''\n"                                 // 0
                              "t orchctl ch\n"                                 // 1
                              "t orchctl chan s\n"                             // 2
                              "t orchctl chan send jobs --\n"                  // 3
                              "t orchctl mutex lock --\n"                      // 4
                              "t orchctl -o ''\n"                              // 5
                              "t orchctl --color = ''\n"                       // 6
                              "t orchctl --color=n\n"                          // 7
                              "t orchctl interval create nightly --every 1s ''\n"  // 8
                              "t orchctl channel ''\n"                         // 9
                              "t orchctl completion ''\n"                      // 10
                              "t orchctl spawn -f sp\n"                        // 11
                              "t orchctl spawn exec -- sp\n"                   // 12
                              "t orchctl --addr 127.0.0.1:1 wh\n"              // 13
                              "t orchctl ls --state running --l\n");           // 14
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 15u) << run.out;
  const auto root = set_of(lines[0]);
  for (const char* command : {"spawn", "get", "ls", "abort", "watch", "join", "select", "whoami",
                              "ticks", "interval", "mutex", "chan", "worker", "completion"}) {
    EXPECT_TRUE(root.contains(command)) << command << " not in: " << lines[0];
  }
  EXPECT_FALSE(root.contains("list")) << "aliases are understood, not offered: " << lines[0];
  EXPECT_EQ(lines[1], "chan ");
  EXPECT_EQ(lines[2], "send sub ");
  const auto send_flags = set_of(lines[3]);
  for (const char* flag : {"--timeout", "--no-wait", "--help", "--addr", "--token", "--output",
                           "--color"}) {
    EXPECT_TRUE(send_flags.contains(flag)) << flag << " not in: " << lines[3];
  }
  EXPECT_FALSE(send_flags.contains("--ttl")) << lines[3];
  const auto lock_flags = set_of(lines[4]);
  for (const char* flag : {"--ttl", "--wait", "--no-wait", "--holder"}) {
    EXPECT_TRUE(lock_flags.contains(flag)) << flag << " not in: " << lines[4];
  }
  EXPECT_EQ(lines[5], "json text ");
  EXPECT_EQ(lines[6], "always auto never ");
  EXPECT_EQ(lines[7], "never ");
  EXPECT_EQ(lines[8], "sleep ");  // NAME and the value of --every are skipped
  EXPECT_TRUE(set_of(lines[9]).contains("recv")) << lines[9];
  EXPECT_EQ(lines[10], "bash zsh ");
  EXPECT_EQ(lines[11], "spec.yaml ");
  EXPECT_EQ(lines[12], "spec.yaml ");
  EXPECT_EQ(lines[13], "whoami ");
  EXPECT_EQ(lines[14], "--label --limit ");
}

// The completion script and --help come from the same tree: every command's sub-commands, as
// --help lists them, are what completion offers after it.
TEST(OrchctlCompletion, BashOffersExactlyTheSubcommandsHelpLists) {
  const TempDir dir;
  const std::string path = completion_file(dir, "bash");
  std::vector<std::pair<std::string, std::vector<std::string>>> expected;
  std::string calls;
  for (const auto& page : every_help_page()) {
    auto subs = subcommands_in_help(page.run.out);
    if (subs.empty()) continue;
    std::sort(subs.begin(), subs.end());
    expected.emplace_back(page.path, subs);
    std::string line = "t orchctl";
    for (const auto& arg : page.args) line += " " + arg;
    calls += line + " ''\n";
  }
  ASSERT_GE(expected.size(), 5u);
  const auto run = drive_bash(path, dir.path().string(), calls);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), expected.size()) << run.out;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    std::string want;
    for (const auto& sub : expected[i].second) want += sub + " ";
    EXPECT_EQ(lines[i], want) << "after `orchctl " << expected[i].first << "`";
  }
}

constexpr const char* kZsh = "/usr/bin/zsh";

TEST(OrchctlCompletion, ZshScriptIsValidAndCompletesLikeBash) {
  ASSERT_TRUE(fs::exists(kZsh)) << "zsh is missing: scripts/install-deps installs it";
  const TempDir dir;
  const std::string path = completion_file(dir, "zsh");
  std::ifstream in(path);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "#compdef orchctl");
  const auto syntax = run_command({kZsh, "-n", path});
  EXPECT_EQ(syntax.exit_code, 0) << describe(syntax);

  // Outside a completion widget $words and $CURRENT are plain parameters: set them, run the
  // script's own state and data functions, print mode, path, flag and the candidates (names
  // without their descriptions).
  const std::string script =
      "registered=()\n"
      "compdef() { registered+=(\"$@\"); }\n"
      "source '" + path + "' || exit 9\n"
      "print -r -- \"compdef: ${registered[*]}\"\n"
      "t() { words=(\"$@\"); CURRENT=$#words;\n"
      "  local _orchctl_path _orchctl_mode _orchctl_flag REPLY; local -a reply; _orchctl_state\n"
      "  case $_orchctl_mode in\n"
      "    words) _orchctl_words \"$_orchctl_path\" ;;\n"
      "    flags) _orchctl_flags \"$_orchctl_path\" ;;\n"
      "    value) _orchctl_choices \"$_orchctl_path\" \"$_orchctl_flag\" ;;\n"
      "  esac\n"
      "  local head=\"$_orchctl_mode|$_orchctl_path|$_orchctl_flag|\"\n"
      "  print -r -- \"$head${(j: :)${(o@)reply%%:*}}\"; }\n"
      "t orchctl ''\n"
      "t orchctl chan send jobs --\n"
      "t orchctl -o ''\n"
      "t orchctl --color=\n"
      "t orchctl interval create nightly --every 1s ''\n"
      "t orchctl spawn exec -- ''\n";
  const auto run = run_command({kZsh, "-f", "-c", script});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 7u) << run.out;
  EXPECT_EQ(lines[0], "compdef: _orchctl orchctl");
  EXPECT_TRUE(starts_with(lines[1], "words|||")) << lines[1];
  EXPECT_TRUE(contains(lines[1], " interval ")) << lines[1];
  EXPECT_TRUE(contains(lines[1], " completion ")) << lines[1];
  EXPECT_TRUE(starts_with(lines[2], "flags|chan send||")) << lines[2];
  EXPECT_TRUE(contains(lines[2], "--no-wait")) << lines[2];
  EXPECT_TRUE(contains(lines[2], "--addr")) << lines[2];
  EXPECT_EQ(lines[3], "value||-o|json text");
  EXPECT_EQ(lines[4], "value||--color|always auto never");
  EXPECT_EQ(lines[5], "words|interval create||sleep");
  EXPECT_EQ(lines[6], "files|spawn exec||");
}

// The script in a real interactive zsh (on a pseudo-terminal through zsh/zpty) with compinit:
// TAB lists sub-commands with their descriptions, values of a flag, and completes a flag.
TEST(OrchctlCompletion, ZshCompletesInAnInteractiveShell) {
  ASSERT_TRUE(fs::exists(kZsh)) << "zsh is missing: scripts/install-deps installs it";
  const TempDir dir;
  const std::string path = completion_file(dir, "zsh");
  // Each `zpty -r z out PATTERN` reads until PATTERN has been written (or the run times out);
  // RE""ADY is typed so that only its output matches READY.
  const std::string script =
      "zmodload zsh/zpty || exit 9\n"
      "zpty z 'zsh -f -i'\n"
      "zpty -w z 'PS1=\"> \"; autoload -U compinit; compinit -u -D; source " + path +
      "; print RE\"\"ADY'\n"
      "zpty -r z out '*READY*'\n"
      "zpty -n -w z $'orchctl chan s\\t'\n"
      "zpty -r z out '*Stream a channel*'\n"
      "print -r -- \"1: $out\"\n"
      "zpty -n -w z $'\\C-u'\n"
      "zpty -n -w z $'orchctl -o \\t'\n"
      "zpty -r z out '*json  text*'\n"
      "print -r -- \"2: $out\"\n"
      "zpty -n -w z $'\\C-u'\n"
      "zpty -n -w z $'orchctl mutex lock --no-w\\t'\n"
      "zpty -r z out '*lock --no-wait*'\n"
      "print -r -- \"3: $out\"\n"
      "zpty -d z\n";
  const auto run = run_command({kZsh, "-f", "-c", script}, {}, 60s);
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.out, "send  -- Send messages, in order")) << run.out;
  EXPECT_TRUE(contains(run.out, "sub   -- Stream a channel")) << run.out;
  EXPECT_TRUE(contains(run.out, "json  text")) << run.out;
  // The one flag that fits is completed in place ("--no-w" was typed).
  EXPECT_TRUE(contains(run.out, "orchctl mutex lock --no-wait")) << run.out;
}

// --- colour and the live line ---------------------------------------------------------------

// orchctl with `args`, its environment changed by `env` (arguments of env(1)), with stdout and
// stderr on a pseudo-terminal of 120 columns. `out` collects everything written there (the
// terminal turns "\n" into "\r\n").
class TerminalRun {
 public:
  TerminalRun(const std::vector<std::string>& env, const std::vector<std::string>& args) {
    int slave = -1;
    winsize size{};
    size.ws_row = 40;
    size.ws_col = 120;
    if (::openpty(&master_, &slave, nullptr, nullptr, &size) != 0) {
      throw std::runtime_error("openpty failed");
    }
    std::vector<std::string> argv{"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(kOrchctl);
    argv.insert(argv.end(), args.begin(), args.end());
    started_ = std::chrono::steady_clock::now();
    pid_ = spawn_child(argv, -1, slave, slave);
    ::close(slave);
  }
  ~TerminalRun() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }
  TerminalRun(const TerminalRun&) = delete;
  TerminalRun& operator=(const TerminalRun&) = delete;

  // Reads until `text` has been written (true) or `timeout` passed or the output ended.
  bool wait_for(std::string_view text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (result_.out.find(text) == std::string::npos) {
      if (!read_some(deadline)) return false;
    }
    return true;
  }

  // Reads everything until orchctl exits (SIGKILLed after `timeout`) and returns it.
  CommandResult finish(std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (read_some(deadline)) {
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      result_.timed_out = true;
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    result_.exit_code = exit_code_of(status);
    result_.elapsed = std::chrono::steady_clock::now() - started_;
    return result_;
  }

 private:
  // One read of the terminal; false at the deadline or once the child's side is closed.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd fd{master_, POLLIN, 0};
      const int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
      if (ready < 0 && errno != EINTR) return false;
      if (ready <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return false;  // EIO once the child and its output are gone
      result_.out.append(buffer, static_cast<std::size_t>(n));
      return true;
    }
  }

  int master_ = -1;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_;
  CommandResult result_;
};

CommandResult run_on_terminal(const std::vector<std::string>& env,
                              const std::vector<std::string>& args) {
  return TerminalRun(env, args).finish();
}

// A terminal as people have it: TERM set, NO_COLOR not.
const std::vector<std::string> kTerminalEnv{"-u", "NO_COLOR", "TERM=xterm"};

std::vector<std::string> spawn_sleeps(const Orchctl& orchctl, int n, const std::string& duration) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    const auto run = orchctl({"spawn", "sleep", duration});
    EXPECT_EQ(run.exit_code, 0) << describe(run);
    ids.push_back(lines_of(run.out).at(0));
  }
  return ids;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(OrchctlColor, PipedOutputIsPlainAndColorAlwaysColoursIt) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto waited = orchctl({"spawn", "--wait", "sleep", "10ms"});
  ASSERT_EQ(waited.exit_code, 0) << describe(waited);
  const std::string id = lines_of(waited.out).at(0).substr(4);  // "id: ID"
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"get", id}, {"ls"}, {"join", id}, {"select", id},
        {"watch", id}, {"spawn", "--wait", "sleep", "1ms"}}) {
    const auto plain = orchctl(args);
    EXPECT_EQ(plain.exit_code, 0) << describe(plain);
    EXPECT_TRUE(contains(plain.out, "SUCCEEDED")) << describe(plain);
    EXPECT_EQ(plain.out.find('\x1b'), std::string::npos) << describe(plain);
    EXPECT_EQ(plain.out.find('\r'), std::string::npos) << describe(plain);

    const auto colored = orchctl(concat({"--color", "always"}, args));
    EXPECT_EQ(colored.exit_code, 0) << describe(colored);
    EXPECT_TRUE(contains(colored.out, "\x1b[32mSUCCEEDED\x1b[0m")) << describe(colored);
    EXPECT_EQ(colored.out.find('\r'), std::string::npos) << "no live line on a pipe";
  }
  // JSON is for programs: never coloured.
  const auto json = orchctl({"--color", "always", "-o", "json", "get", id});
  EXPECT_EQ(json.out.find('\x1b'), std::string::npos) << describe(json);
  const auto bad = orchctl({"--color", "sometimes", "get", id});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
}

TEST(OrchctlColor, ATerminalGetsColourUnlessNoColorOrNever) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto waited = orchctl({"spawn", "--wait", "sleep", "10ms"});
  ASSERT_EQ(waited.exit_code, 0) << describe(waited);
  const std::string id = lines_of(waited.out).at(0).substr(4);

  const auto tty = run_on_terminal(kTerminalEnv, orchctl.argv({"get", id}));
  EXPECT_EQ(tty.exit_code, 0) << describe(tty);
  EXPECT_TRUE(contains(tty.out, "state: \x1b[32mSUCCEEDED\x1b[0m\r\n")) << describe(tty);

  const auto no_color =
      run_on_terminal({"NO_COLOR=1", "TERM=xterm"}, orchctl.argv({"get", id}));
  EXPECT_EQ(no_color.exit_code, 0) << describe(no_color);
  EXPECT_TRUE(contains(no_color.out, "state: SUCCEEDED\r\n")) << describe(no_color);
  EXPECT_EQ(no_color.out.find('\x1b'), std::string::npos) << describe(no_color);

  const auto never = run_on_terminal(
      kTerminalEnv, orchctl.argv({"--color", "never", "get", id}));
  EXPECT_EQ(never.out.find('\x1b'), std::string::npos) << describe(never);
}

// On a terminal, join keeps a live line (done/total, counts by state, elapsed) redrawn in
// place while it waits, erases it, then prints the tasks as a pipe would get them.
TEST(OrchctlLiveView, JoinOnATerminalShowsALiveLineThenTheTasks) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto ids = spawn_sleeps(orchctl, 3, "5m");
  TerminalRun join(kTerminalEnv, orchctl.argv(concat({"join"}, ids)));
  // The line is drawn at once, then shows the three tasks running (the watch's first events).
  EXPECT_TRUE(join.wait_for("\r0/3 done  ", 30s));
  EXPECT_TRUE(join.wait_for("0/3 done  \x1b[36mRUNNING\x1b[0m 3  ", 30s));
  const auto aborted = orchctl(concat({"abort"}, ids));
  ASSERT_EQ(aborted.exit_code, 0) << describe(aborted);
  const auto run = join.finish();
  EXPECT_EQ(run.exit_code, 1) << describe(run);  // not every task SUCCEEDED
  // The line is erased before the tasks are printed; they follow as plain lines.
  const auto erased = run.out.rfind("\r\x1b[K");
  ASSERT_NE(erased, std::string::npos) << describe(run);
  const std::string after = run.out.substr(erased + 4);
  EXPECT_TRUE(starts_with(after, "id: " + ids[0] + "\r\n")) << after;
  EXPECT_EQ(std::count(after.begin(), after.end(), '\r'),
            std::count(after.begin(), after.end(), '\n'))
      << "no redraw after the line was erased: " << after;
  for (const auto& id : ids) EXPECT_TRUE(contains(after, "id: " + id + "\r\n")) << after;
  EXPECT_TRUE(contains(after, "state: \x1b[33mCANCELLED\x1b[0m\r\n")) << after;

  // The same join on a pipe: the task blocks only.
  const auto piped = orchctl(concat({"join"}, ids));
  EXPECT_EQ(piped.exit_code, 1) << describe(piped);
  EXPECT_TRUE(starts_with(piped.out, "id: " + ids[0] + "\n")) << describe(piped);
  EXPECT_FALSE(contains(piped.out, "done")) << describe(piped);
  EXPECT_EQ(piped.out.find('\r'), std::string::npos) << describe(piped);
}

// On a terminal, watch prints each event above a live line and leaves the final line (all
// done, with the counts) on screen when the stream ends.
TEST(OrchctlLiveView, WatchOnATerminalPrintsEventsAboveALiveLine) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto ids = spawn_sleeps(orchctl, 2, "5m");
  TerminalRun watch(kTerminalEnv, orchctl.argv(concat({"--color", "never", "watch"}, ids)));
  EXPECT_TRUE(watch.wait_for("0/2 done  RUNNING 2  ", 30s));
  const auto aborted = orchctl(concat({"abort"}, ids));
  ASSERT_EQ(aborted.exit_code, 0) << describe(aborted);
  const auto run = watch.finish();
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  // Each event line is printed over an erased live line.
  for (const auto& id : ids) {
    for (const char* state : {"RUNNING", "CANCELLED"}) {
      EXPECT_TRUE(std::regex_search(
          run.out, std::regex("\r\x1b\\[K\\S+ " + id + " " + state +
                                           "( error=\"[^\"]*\")?\r\n")))
          << state << " " << describe(run);
    }
  }
  // The last thing on screen: the final live line, kept.
  EXPECT_TRUE(std::regex_search(
      run.out, std::regex("\r2/2 done  CANCELLED 2  [0-9.]+s\x1b\\[K\r\n$")))
      << describe(run);

  // The same watch on a pipe: one plain line per event, nothing else.
  const auto piped = orchctl(concat({"watch"}, ids));
  EXPECT_EQ(piped.exit_code, 0) << describe(piped);
  const auto lines = lines_of(piped.out);
  EXPECT_EQ(lines.size(), 2u) << piped.out;
  for (const auto& line : lines) {
    EXPECT_TRUE(std::regex_match(line, std::regex("\\S+ \\S+ CANCELLED( error=\".*\")?"))) << line;
  }
  EXPECT_EQ(piped.out.find('\r'), std::string::npos);
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace orch::test
