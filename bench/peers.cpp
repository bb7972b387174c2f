#include "peers.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace bench {
namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

void expect_prefix(const std::string& line, std::string_view prefix, std::string_view what) {
  if (line.rfind(prefix, 0) != 0) {
    throw Error(std::string(what) + ": unexpected reply \"" + line + "\"");
  }
}

}  // namespace

// ----- beanstalkd ---------------------------------------------------------------------------

Beanstalk::Beanstalk(std::uint16_t port, Ms timeout) : conn_(port, timeout) {}

std::string Beanstalk::command(std::string_view line) {
  conn_.write_all(line);
  return conn_.read_line();
}

void Beanstalk::use(const std::string& tube) {
  expect_prefix(command("use " + tube + "\r\n"), "USING", "beanstalkd use");
}

void Beanstalk::watch(const std::string& tube) {
  expect_prefix(command("watch " + tube + "\r\n"), "WATCHING", "beanstalkd watch");
}

void Beanstalk::ignore(const std::string& tube) {
  expect_prefix(command("ignore " + tube + "\r\n"), "WATCHING", "beanstalkd ignore");
}

std::uint64_t Beanstalk::put(std::string_view body) {
  std::string msg = "put 0 0 60 " + std::to_string(body.size()) + "\r\n";
  msg.append(body);
  msg += "\r\n";
  const std::string reply = command(msg);
  expect_prefix(reply, "INSERTED ", "beanstalkd put");
  return std::strtoull(reply.c_str() + 9, nullptr, 10);
}

Beanstalk::Job Beanstalk::read_reserved() {
  const std::string line = conn_.read_line();
  expect_prefix(line, "RESERVED ", "beanstalkd reserve");
  const auto words = split(line);
  if (words.size() != 3) throw Error("beanstalkd reserve: bad reply \"" + line + "\"");
  Job job;
  job.id = std::strtoull(words[1].c_str(), nullptr, 10);
  const auto bytes = std::strtoull(words[2].c_str(), nullptr, 10);
  job.body = conn_.read_exact(bytes);
  conn_.read_exact(2);  // \r\n
  return job;
}

std::optional<Beanstalk::Job> Beanstalk::reserve(int timeout_seconds) {
  conn_.write_all("reserve-with-timeout " + std::to_string(timeout_seconds) + "\r\n");
  // Peek at the reply: TIMED_OUT has no body.
  const std::string line = conn_.read_line();
  if (line == "TIMED_OUT") return std::nullopt;
  expect_prefix(line, "RESERVED ", "beanstalkd reserve");
  const auto words = split(line);
  if (words.size() != 3) throw Error("beanstalkd reserve: bad reply \"" + line + "\"");
  Job job;
  job.id = std::strtoull(words[1].c_str(), nullptr, 10);
  job.body = conn_.read_exact(std::strtoull(words[2].c_str(), nullptr, 10));
  conn_.read_exact(2);
  return job;
}

void Beanstalk::remove(std::uint64_t id) {
  expect_prefix(command("delete " + std::to_string(id) + "\r\n"), "DELETED", "beanstalkd delete");
}

// ----- gearmand -----------------------------------------------------------------------------

Gearman::Gearman(std::uint16_t port, Ms timeout) : conn_(port, timeout) {}

std::string Gearman::encode(std::uint32_t type, const std::vector<std::string_view>& args) {
  std::string data;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) data.push_back('\0');
    data.append(args[i]);
  }
  std::string out("\0REQ", 4);
  const std::uint32_t t = htonl(type);
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(data.size()));
  out.append(reinterpret_cast<const char*>(&t), 4);
  out.append(reinterpret_cast<const char*>(&n), 4);
  out += data;
  return out;
}

void Gearman::send(std::uint32_t type, const std::vector<std::string_view>& args) {
  conn_.write_all(encode(type, args));
}

Gearman::Packet Gearman::read() {
  const std::string header = conn_.read_exact(12);
  if (header.compare(0, 4, std::string("\0RES", 4)) != 0) throw Error("gearmand: bad packet magic");
  std::uint32_t t = 0;
  std::uint32_t n = 0;
  std::memcpy(&t, header.data() + 4, 4);
  std::memcpy(&n, header.data() + 8, 4);
  Packet p;
  p.type = ntohl(t);
  p.data = conn_.read_exact(ntohl(n));
  if (p.type == kError) throw Error("gearmand error: " + p.data);
  return p;
}

// ----- NATS ---------------------------------------------------------------------------------

Nats::Nats(std::uint16_t port, Ms timeout) : conn_(port, timeout) {
  expect_prefix(conn_.read_line(), "INFO", "nats handshake");
  conn_.write_all("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n");
  flush();
}

void Nats::subscribe(const std::string& subject, const std::string& queue, int sid) {
  conn_.write_all("SUB " + subject + (queue.empty() ? "" : " " + queue) + " " +
                  std::to_string(sid) + "\r\n");
}

void Nats::flush() {
  conn_.write_all("PING\r\n");
  for (;;) {
    const std::string line = conn_.read_line();
    if (line == "PONG") return;
    if (line == "PING") conn_.write_all("PONG\r\n");
    if (line.rfind("-ERR", 0) == 0) throw Error("nats: " + line);
  }
}

std::string Nats::pub(std::string_view subject, std::string_view reply, std::string_view payload) {
  std::string out = "PUB ";
  out.append(subject);
  if (!reply.empty()) {
    out.push_back(' ');
    out.append(reply);
  }
  out += " " + std::to_string(payload.size()) + "\r\n";
  out.append(payload);
  out += "\r\n";
  return out;
}

Nats::Msg Nats::next() {
  for (;;) {
    const std::string line = conn_.read_line();
    if (line.rfind("MSG ", 0) == 0) {
      const auto words = split(line);
      Msg msg;
      if (words.size() == 4) {
        msg.subject = words[1];
      } else if (words.size() == 5) {
        msg.subject = words[1];
        msg.reply = words[3];
      } else {
        throw Error("nats: bad MSG line \"" + line + "\"");
      }
      msg.payload = conn_.read_exact(std::strtoull(words.back().c_str(), nullptr, 10));
      conn_.read_exact(2);
      return msg;
    }
    if (line == "PING") {
      conn_.write_all("PONG\r\n");
    } else if (line.rfind("-ERR", 0) == 0) {
      throw Error("nats: " + line);
    }
  }
}

}  // namespace bench
