#pragma once
// Minimal blocking clients of the peers' wire protocols, enough for the benchmarks: beanstalkd
// (text), gearmand (binary), NATS (text). Redis goes through hiredis (Debian's libhiredis).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support.h"

namespace bench {

class Beanstalk {
 public:
  Beanstalk(std::uint16_t port, Ms timeout);
  /// Sends one command line (and an optional body) and returns the first reply line.
  std::string command(std::string_view line);
  void use(const std::string& tube);
  void watch(const std::string& tube);
  void ignore(const std::string& tube);
  std::uint64_t put(std::string_view body);
  struct Job {
    std::uint64_t id = 0;
    std::string body;
  };
  /// reserve-with-timeout; nullopt on TIMED_OUT.
  std::optional<Job> reserve(int timeout_seconds);
  /// Reads a RESERVED reply already requested.
  Job read_reserved();
  void remove(std::uint64_t id);
  Conn& conn() { return conn_; }

 private:
  Conn conn_;
};

/// gearmand's binary protocol: 12-byte header ("\0REQ"/"\0RES", type, size) then arguments
/// separated by NUL bytes.
class Gearman {
 public:
  enum Type : std::uint32_t {
    kCanDo = 1,
    kPreSleep = 4,
    kNoop = 6,
    kSubmitJob = 7,
    kJobCreated = 8,
    kGrabJob = 9,
    kNoJob = 10,
    kJobAssign = 11,
    kWorkComplete = 13,
    kEchoReq = 16,
    kEchoRes = 17,
    kSubmitJobBg = 18,
    kError = 19,
  };
  struct Packet {
    std::uint32_t type = 0;
    std::string data;  // the arguments, NUL-separated
  };
  Gearman(std::uint16_t port, Ms timeout);
  static std::string encode(std::uint32_t type, const std::vector<std::string_view>& args);
  void send(std::uint32_t type, const std::vector<std::string_view>& args);
  Packet read();
  Conn& conn() { return conn_; }

 private:
  Conn conn_;
};

class Nats {
 public:
  /// Connects and completes the handshake (CONNECT with verbose off, then PING/PONG).
  Nats(std::uint16_t port, Ms timeout);
  void subscribe(const std::string& subject, const std::string& queue, int sid);
  /// PING and wait for PONG (the server has processed everything sent before).
  void flush();
  static std::string pub(std::string_view subject, std::string_view reply,
                         std::string_view payload);
  struct Msg {
    std::string subject;
    std::string reply;
    std::string payload;
  };
  /// The next MSG; answers the server's PINGs on the way.
  Msg next();
  Conn& conn() { return conn_; }

 private:
  Conn conn_;
};

}  // namespace bench
