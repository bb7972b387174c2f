#include "interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>

namespace orchctl {
namespace {

constexpr char kInterrupt = 'i';
constexpr char kQuit = 'q';

// Written by the signal handler, which may only make async-signal-safe calls.
volatile std::sig_atomic_t g_write_fd = -1;
struct sigaction g_old_int;
struct sigaction g_old_term;

extern "C" void on_signal(int) {
  const int saved = errno;
  const char byte = kInterrupt;
  [[maybe_unused]] const auto n = ::write(g_write_fd, &byte, 1);
  errno = saved;
}

}  // namespace

CancelOnInterrupt::CancelOnInterrupt(grpc::ClientContext& ctx) : ctx_(ctx) {
  if (::pipe2(pipe_, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  g_write_fd = pipe_[1];
  waiter_ = std::thread([this] {
    char byte = 0;
    while (true) {
      const auto n = ::read(pipe_[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == kQuit) return;
      interrupted_ = true;
      ctx_.TryCancel();
    }
  });
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, &g_old_int);
  ::sigaction(SIGTERM, &action, &g_old_term);
}

CancelOnInterrupt::~CancelOnInterrupt() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  const char byte = kQuit;
  while (::write(pipe_[1], &byte, 1) < 0 && errno == EINTR) {
  }
  waiter_.join();
  g_write_fd = -1;
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

}  // namespace orchctl
