// orchctl worker: serves queues over WorkerService.Connect, running a program per assignment.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "commands.h"
#include "exit_codes.h"
#include "interrupt.h"
#include "orch/client/format.h"
#include "orch/common/duration.h"

extern char** environ;

namespace orchctl {
namespace {

namespace v1 = orch::v1;
using Stream = grpc::ClientReaderWriter<v1::WorkerMessage, v1::ServerMessage>;
using Clock = std::chrono::steady_clock;

std::string default_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "worker");
  return std::string(host) + ":" + std::to_string(getpid());
}

// One program run for one assignment.
struct Job {
  v1::Assignment assignment;
  std::mutex mutex;
  pid_t pid = -1;          // also the process group
  bool finished = false;   // reaped: the group id may be reused
  std::atomic<bool> cancelled{false};
  std::thread thread;

  void signal_group(int sig) {
    std::lock_guard lock(mutex);
    if (pid > 0 && !finished) ::kill(-pid, sig);
  }
};

class WorkerSession {
 public:
  WorkerSession(Stream& stream, const WorkerArgs& args, orch::Duration kill_grace, std::ostream& out)
      : stream_(stream), args_(args), kill_grace_(kill_grace), out_(out) {}

  ~WorkerSession() { stop(); }

  /// Runs until the stream ends. Returns false if the first answer was not a Welcome.
  bool run() {
    v1::WorkerMessage hello;
    auto* h = hello.mutable_hello();
    h->set_worker_name(args_.name.empty() ? default_name() : args_.name);
    for (const auto& q : args_.queues) h->add_queues(q);
    h->set_slots(args_.slots);
    if (!send(hello)) return false;
    v1::ServerMessage message;
    if (!stream_.Read(&message) || !message.has_welcome()) return false;
    const auto& welcome = message.welcome();
    max_output_ = welcome.max_output_bytes();
    heartbeat_interval_ = std::chrono::milliseconds(
        welcome.heartbeat_interval().seconds() * 1000 + welcome.heartbeat_interval().nanos() / 1'000'000);
    if (heartbeat_interval_ <= std::chrono::milliseconds::zero()) heartbeat_interval_ = std::chrono::seconds(10);
    std::string queues;
    for (const auto& q : args_.queues) queues += (queues.empty() ? "" : ",") + q;
    print("connected as " + welcome.worker_id() + " (queues: " + queues + ", slots: " +
          std::to_string(args_.slots) + ")");
    heartbeats_ = std::thread([this] { heartbeat_loop(); });

    while (stream_.Read(&message)) {
      switch (message.kind_case()) {
        case v1::ServerMessage::kAssignments:
          for (const auto& a : message.assignments().assignments()) start(a);
          break;
        case v1::ServerMessage::kCancel:
          cancel(message.cancel());
          break;
        case v1::ServerMessage::kResultRefused:
          print(message.result_refused().assignment_id() + " refused: " +
                v1::RefusalReason_Name(message.result_refused().reason()) + ": " +
                message.result_refused().message());
          break;
        default:
          break;
      }
      reap();
    }
    return true;
  }

  /// Stops writing, kills programs still running and joins every thread.
  void stop() {
    {
      std::lock_guard lock(write_mutex_);
      closing_ = true;
    }
    std::vector<std::shared_ptr<Job>> jobs;
    {
      std::lock_guard lock(jobs_mutex_);
      for (auto& [id, job] : jobs_) jobs.push_back(job);
      stopping_ = true;
    }
    jobs_cv_.notify_all();
    for (auto& job : jobs) {
      job->cancelled = true;
      job->signal_group(SIGKILL);
    }
    for (auto& job : jobs) {
      if (job->thread.joinable()) job->thread.join();
    }
    reap();
    if (heartbeats_.joinable()) heartbeats_.join();
  }

 private:
  bool send(const v1::WorkerMessage& message) {
    std::lock_guard lock(write_mutex_);
    if (closing_) return false;
    return stream_.Write(message);
  }

  void print(const std::string& line) {
    std::lock_guard lock(print_mutex_);
    out_ << line << '\n';
    out_.flush();
  }

  void start(const v1::Assignment& assignment) {
    auto job = std::make_shared<Job>();
    job->assignment = assignment;
    print(assignment.assignment_id() + " started: task " + assignment.task_id() + " attempt " +
          std::to_string(assignment.attempt()) + " fencing_token " +
          std::to_string(assignment.fencing_token()) + " (" +
          std::to_string(assignment.payload().size()) + " bytes)");
    {
      std::lock_guard lock(jobs_mutex_);
      jobs_[assignment.assignment_id()] = job;
    }
    job->thread = std::thread([this, job] { execute(*job); });
    jobs_cv_.notify_all();
  }

  void cancel(const v1::ServerMessage::Cancel& cancel) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lock(jobs_mutex_);
      auto it = jobs_.find(cancel.assignment_id());
      if (it != jobs_.end()) job = it->second;
    }
    print(cancel.assignment_id() + " cancelled: " + v1::CancelReason_Name(cancel.reason()) + ": " +
          cancel.message());
    if (!job) return;
    job->cancelled = true;
    job->signal_group(SIGTERM);
    // SIGKILL after the grace, unless the program is gone by then.
    std::thread([job, grace = kill_grace_] {
      const auto until = Clock::now() + grace;
      while (Clock::now() < until) {
        {
          std::lock_guard lock(job->mutex);
          if (job->finished) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      job->signal_group(SIGKILL);
    }).detach();
  }

  // Joins the threads of jobs that have ended.
  void reap() {
    std::vector<std::shared_ptr<Job>> done;
    {
      std::lock_guard lock(jobs_mutex_);
      done.swap(done_);
    }
    for (auto& job : done) {
      if (job->thread.joinable()) job->thread.join();
    }
  }

  void heartbeat_loop() {
    std::unique_lock lock(jobs_mutex_);
    while (!stopping_) {
      // Often enough for the stream and for the tightest heartbeat timeout of a running job.
      auto every = std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat_interval_) / 2;
      v1::WorkerMessage message;
      for (const auto& [id, job] : jobs_) {
        message.mutable_heartbeat()->add_assignment_ids(id);
        const auto& hb = job->assignment.heartbeat_timeout();
        const auto timeout = std::chrono::milliseconds(hb.seconds() * 1000 + hb.nanos() / 1'000'000);
        if (timeout > std::chrono::milliseconds::zero()) every = std::min(every, timeout / 3);
      }
      every = std::max(every, std::chrono::milliseconds(50));
      if (!message.has_heartbeat()) message.mutable_heartbeat();
      lock.unlock();
      send(message);
      lock.lock();
      jobs_cv_.wait_for(lock, every, [this] { return stopping_; });
    }
  }

  void execute(Job& job) {
    const auto& a = job.assignment;
    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
      const std::string_view entry(*e);
      if (entry.starts_with("ORCH_TASK_ID=") || entry.starts_with("ORCH_ATTEMPT=") ||
          entry.starts_with("ORCH_FENCING_TOKEN=") || entry.starts_with("ORCH_QUEUE=") ||
          entry.starts_with("ORCH_ASSIGNMENT_ID=")) {
        continue;
      }
      env_strings.emplace_back(entry);
    }
    env_strings.push_back("ORCH_TASK_ID=" + a.task_id());
    env_strings.push_back("ORCH_ATTEMPT=" + std::to_string(a.attempt()));
    env_strings.push_back("ORCH_FENCING_TOKEN=" + std::to_string(a.fencing_token()));
    env_strings.push_back("ORCH_QUEUE=" + a.queue());
    env_strings.push_back("ORCH_ASSIGNMENT_ID=" + a.assignment_id());
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = args_.command;
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      finish(job, false, "cannot create pipes: " + std::string(std::strerror(errno)), "spawn", true);
      return;
    }
    pid_t pid = fork();
    if (pid == 0) {
      // Child: its own process group, so a cancel reaches everything it starts.
      setpgid(0, 0);
      // If orchctl dies (even by SIGKILL), the program dies with it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      execvpe(argv[0], argv.data(), envp.data());
      const char* msg = "orchctl worker: cannot run the program\n";
      (void)!write(STDERR_FILENO, msg, std::strlen(msg));
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    if (pid < 0) {
      ::close(in[1]);
      ::close(out[0]);
      finish(job, false, "cannot fork: " + std::string(std::strerror(errno)), "spawn", true);
      return;
    }
    setpgid(pid, pid);
    {
      std::lock_guard lock(job.mutex);
      job.pid = pid;
    }
    if (job.cancelled) job.signal_group(SIGKILL);  // cancelled while starting
    std::thread writer([fd = in[1], payload = a.payload()] {
      std::size_t done = 0;
      while (done < payload.size()) {
        const ssize_t n = ::write(fd, payload.data() + done, payload.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the program closed its stdin
        done += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
    std::string output;
    bool too_large = false;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::read(out[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (output.size() + static_cast<std::size_t>(n) > max_output_) {
        too_large = true;
      } else {
        output.append(buffer, static_cast<std::size_t>(n));
      }
    }
    ::close(out[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
      std::lock_guard lock(job.mutex);
      job.finished = true;
    }
    writer.join();

    if (job.cancelled) {
      print(a.assignment_id() + " stopped after the cancel");
      forget(job);
      return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      if (too_large) {
        finish(job, false,
               "stdout is larger than max_output_bytes (" + std::to_string(max_output_) + ")",
               "output_too_large", false);
      } else {
        finish(job, true, std::move(output), {}, true);
      }
    } else if (WIFEXITED(status)) {
      finish(job, false, args_.command.front() + " exited with code " + std::to_string(WEXITSTATUS(status)),
             "exit_code", true);
    } else {
      finish(job, false,
             args_.command.front() + " was killed by signal " + std::to_string(WTERMSIG(status)),
             "signal", true);
    }
  }

  void finish(Job& job, bool ok, std::string text, std::string reason, bool retryable) {
    const auto& a = job.assignment;
    v1::WorkerMessage message;
    auto* completions = message.mutable_completions();
    if (ok) {
      auto* r = completions->add_results();
      r->set_assignment_id(a.assignment_id());
      r->set_task_id(a.task_id());
      r->set_attempt(a.attempt());
      r->set_fencing_token(a.fencing_token());
      print(a.assignment_id() + " succeeded (" + std::to_string(text.size()) + " bytes)");
      r->set_output(std::move(text));
    } else {
      auto* e = completions->add_errors();
      e->set_assignment_id(a.assignment_id());
      e->set_task_id(a.task_id());
      e->set_attempt(a.attempt());
      e->set_fencing_token(a.fencing_token());
      e->set_retryable(retryable);
      e->set_reason(reason);
      print(a.assignment_id() + " failed: " + text);
      e->set_message(std::move(text));
    }
    // Forget the job before reporting: once the report is in, the slot is free and the next
    // assignment may arrive at once.
    forget(job);
    send(message);
  }

  void forget(Job& job) {
    std::lock_guard lock(jobs_mutex_);
    auto it = jobs_.find(job.assignment.assignment_id());
    if (it == jobs_.end()) return;
    done_.push_back(it->second);
    jobs_.erase(it);
  }

  Stream& stream_;
  const WorkerArgs& args_;
  const orch::Duration kill_grace_;
  std::ostream& out_;
  std::uint64_t max_output_ = 1 << 20;
  std::chrono::nanoseconds heartbeat_interval_{std::chrono::seconds(10)};

  std::mutex write_mutex_;
  bool closing_ = false;
  std::mutex print_mutex_;
  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::vector<std::shared_ptr<Job>> done_;
  std::thread heartbeats_;
};

}  // namespace

int Commands::worker(const WorkerArgs& args) {
  if (args.command.empty()) throw UsageError("worker: give the program to run after --");
  const auto grace = orch::parse_duration(args.kill_grace);
  if (!grace) throw UsageError("--kill-grace: invalid duration \"" + args.kill_grace + "\"");
  // A program that exits without reading its stdin must not kill orchctl.
  ::signal(SIGPIPE, SIG_IGN);

  auto ctx = client().context();
  CancelOnInterrupt interrupt(*ctx);
  auto stream = client().workers().Connect(ctx.get());
  bool welcomed = false;
  {
    WorkerSession session(*stream, args, *grace, out_);
    welcomed = session.run();
    session.stop();
  }
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (interrupt.interrupted()) return kExitOk;
  if (!status.ok()) throw RpcError(status);
  if (!welcomed) {
    throw RpcError(grpc::Status(grpc::StatusCode::INTERNAL, "the daemon did not answer the hello"));
  }
  return kExitOk;
}

}  // namespace orchctl
