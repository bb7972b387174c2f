#pragma once
/// orchctl chan ...: named channels (ChannelService). Each command sends its RPCs, prints the
/// result and returns the exit code; it throws UsageError or RpcError (exit_codes.h).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"

namespace orchctl {

struct ChanCreateArgs {
  std::string name;
  std::string kind = "mpsc";              // mpsc | broadcast | watch
  std::optional<std::uint32_t> capacity;  // default: 100 (mpsc, broadcast), 0 (watch)
  std::string value;                      // watch: the initial value
  bool if_not_exists = false;
};

struct ChanSendArgs {
  std::string name;
  std::vector<std::string> messages;
  std::string timeout;  // empty: wait without limit
  bool no_wait = false;
};

struct ChanRecvArgs {
  std::string name;
  std::uint32_t count = 1;   // -n; 0: until the channel is closed
  std::string timeout;       // per message; empty: without limit
  std::string ack_deadline;  // set: at-least-once
  bool ack = false;          // acknowledge each message once printed
  bool no_wait = false;
  std::uint64_t after_version = 0;  // watch
};

struct ChanSubArgs {
  std::string name;
  std::uint64_t count = 0;   // stop after N events; 0: until closed or Ctrl-C
  std::string ack_deadline;  // set: at-least-once (mpsc)
  bool ack = false;
  std::uint32_t max_unacked = 0;
};

class ChanCommands {
 public:
  ChanCommands(const GlobalArgs& globals, std::ostream& out);

  int create(const ChanCreateArgs& args);
  int send(const ChanSendArgs& args);
  int recv(const ChanRecvArgs& args);
  int ack(const std::string& name, const std::vector<std::string>& ids);
  int sub(const ChanSubArgs& args);
  int close(const std::string& name);
  int remove(const std::string& name);
  int list(const std::string& kind);
  int get(const std::string& name);

 private:
  bool json() const { return globals_.output == "json"; }
  void print_info(const orch::v1::ChannelInfo& info);
  void ack_one(const std::string& name, const std::string& id);

  GlobalArgs globals_;
  std::ostream& out_;
  orch::client::Client client_;
};

/// Adds the `chan` command and its sub-commands to `app`; the one chosen sets `action`.
/// `globals` must outlive the parse and the action.
void add_chan_commands(CLI::App& app, const GlobalArgs& globals,
                       std::function<int(Commands&)>& action);

}  // namespace orchctl
