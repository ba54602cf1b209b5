#include "augur/runtime/execution/process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace augur {

namespace asio = boost::asio;

std::string process_result::describe() const {
  switch (how) {
    case end::exited:
      return exit_code == 0 ? "ok"
                            : "exited with status " + std::to_string(exit_code);
    case end::signaled:
      return std::string{"killed by signal "} + std::to_string(signal) + " ("
             + strsignal(signal) + ")";
    case end::timed_out:
      return "timed out after " + std::to_string(static_cast<int>(wall_ms))
             + " ms: its process group was killed";
    case end::output_too_large:
      return "wrote more output than allowed: killed";
    case end::spawn_failed:
      return "could not start: " + error;
  }
  return "unknown";
}

namespace {

/// One running child and the asynchronous work around it.
struct child_run : std::enable_shared_from_this<child_run> {
  child_run(asio::io_context& io, process_spec s,
            std::function<void(process_result)> f)
    : spec(std::move(s)),
      done(std::move(f)),
      in(io),
      out(io),
      err(io),
      deadline(io),
      reaper(io) {
    // nop
  }

  process_spec spec;
  std::function<void(process_result)> done;
  asio::posix::stream_descriptor in;
  asio::posix::stream_descriptor out;
  asio::posix::stream_descriptor err;
  asio::steady_timer deadline;
  asio::steady_timer reaper;
  pid_t pid = -1;
  process_result result;
  std::chrono::steady_clock::time_point started;
  bool killed = false;
  bool out_open = true;
  bool err_open = true;
  char out_buf[4096];
  char err_buf[4096];

  void kill_group(process_result::end why) {
    if (!killed) {
      killed = true;
      result.how = why;
    }
    if (pid > 0)
      ::kill(-pid, SIGKILL);
  }

  void read_out() {
    auto self = shared_from_this();
    out.async_read_some(asio::buffer(out_buf), [self](auto ec, size_t n) {
      if (ec) {
        self->out_open = false;
        self->maybe_reap();
        return;
      }
      self->result.output.append(self->out_buf, n);
      if (self->result.output.size() > self->spec.max_output) {
        self->result.output.resize(self->spec.max_output);
        self->kill_group(process_result::end::output_too_large);
      }
      self->read_out();
    });
  }

  void read_err() {
    auto self = shared_from_this();
    err.async_read_some(asio::buffer(err_buf), [self](auto ec, size_t n) {
      if (ec) {
        self->err_open = false;
        self->maybe_reap();
        return;
      }
      auto room = self->spec.max_stderr > self->result.errors.size()
                    ? self->spec.max_stderr - self->result.errors.size()
                    : 0;
      self->result.errors.append(self->err_buf, std::min(room, n));
      self->read_err();
    });
  }

  void write_in() {
    auto self = shared_from_this();
    asio::async_write(in, asio::buffer(spec.input), [self](auto, size_t) {
      // A child that does not read its input is fine: close either way.
      boost::system::error_code ignored;
      self->in.close(ignored);
    });
  }

  // Once stdout and stderr are closed, wait for the child to exit (it may
  // still run with its output closed: the deadline covers that).
  void maybe_reap() {
    if (out_open || err_open)
      return;
    int status = 0;
    auto r = ::waitpid(pid, &status, WNOHANG);
    if (r == 0) {
      auto self = shared_from_this();
      reaper.expires_after(std::chrono::milliseconds(1));
      reaper.async_wait([self](auto ec) {
        if (!ec)
          self->maybe_reap();
      });
      return;
    }
    deadline.cancel();
    // Grandchildren left in the group go too.
    ::kill(-pid, SIGKILL);
    result.wall_ms = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - started)
                       .count();
    if (!killed) {
      if (r > 0 && WIFEXITED(status) && !spec.sandbox.bwrap.empty()
          && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) <= 128 + 64) {
        // bwrap reports a program killed by signal n as status 128 + n,
        // as shells do.
        result.how = process_result::end::signaled;
        result.signal = WEXITSTATUS(status) - 128;
      } else if (r > 0 && WIFEXITED(status)) {
        result.how = process_result::end::exited;
        result.exit_code = WEXITSTATUS(status);
      } else if (r > 0 && WIFSIGNALED(status)) {
        result.how = process_result::end::signaled;
        result.signal = WTERMSIG(status);
      }
    }
    auto f = std::move(done);
    done = nullptr;
    if (f)
      f(std::move(result));
  }
};

/// In the child: closes every descriptor from 3 up but `keep`.
void close_from_3_but(int keep, int max_fd) {
  if (::close_range(3, static_cast<unsigned>(keep) - 1, 0) == 0
      && ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0) == 0)
    return;
  // Kernels before 5.9: one by one.
  for (int fd = 3; fd < max_fd; ++fd)
    if (fd != keep)
      ::close(fd);
}

void close_pair(int fds[2]) {
  for (int i = 0; i < 2; ++i)
    if (fds[i] >= 0)
      ::close(fds[i]);
}

} // namespace

std::string find_program(const std::string& name, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find(':', start);
    auto dir = path.substr(start, end == std::string::npos ? std::string::npos
                                                           : end - start);
    // Only absolute directories: a relative one would be looked up from
    // wherever the program later runs.
    auto candidate = dir + "/" + name;
    if (!dir.empty() && dir[0] == '/' && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return "";
}

std::vector<std::string> sandboxed_argv(const sandbox_spec& sandbox,
                                        const std::string& workdir,
                                        const std::vector<std::string>& argv) {
  std::vector<std::string> r{sandbox.bwrap,
                             "--die-with-parent",
                             "--new-session",
                             "--unshare-user",
                             "--unshare-pid",
                             "--unshare-ipc",
                             "--unshare-uts",
                             "--unshare-cgroup-try",
                             "--ro-bind",
                             "/",
                             "/",
                             "--dev",
                             "/dev",
                             "--proc",
                             "/proc",
                             "--tmpfs",
                             "/tmp"};
  // (Before the hidden paths: those still win.)
  std::vector<std::string> shown;
  for (auto& a : argv)
    if (a.rfind("/tmp/", 0) == 0 && a.find("/..") == std::string::npos) {
      auto dir = a.substr(0, a.rfind('/'));
      if (dir != "/tmp"
          && std::find(shown.begin(), shown.end(), dir) == shown.end()) {
        shown.push_back(dir);
        r.insert(r.end(), {"--ro-bind-try", dir, dir});
      }
    }
  if (sandbox.drop)
    r.insert(r.end(), {"--uid", std::to_string(sandbox.uid), "--gid",
                       std::to_string(sandbox.gid)});
  for (auto& dir : sandbox.hidden_dirs)
    r.insert(r.end(), {"--tmpfs", dir});
  for (auto& file : sandbox.hidden_files)
    r.insert(r.end(), {"--ro-bind", "/dev/null", file});
  r.insert(r.end(), {"--bind", workdir, workdir, "--chdir", workdir, "--"});
  r.insert(r.end(), argv.begin(), argv.end());
  return r;
}

void run_process(asio::io_context& io, process_spec spec,
                 std::function<void(process_result)> done) {
  // A child that exits without reading its input must not kill us.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  auto fail = [&](const std::string& what) {
    process_result r;
    r.how = process_result::end::spawn_failed;
    r.error = what;
    asio::post(io, [r, done] { done(r); });
  };
  if (spec.argv.empty()) {
    fail("empty command");
    return;
  }
  if (spec.env.count("PATH") == 0)
    spec.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (auto& [k, v] : spec.env)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  if (!spec.sandbox.unavailable.empty()) {
    fail(spec.sandbox.unavailable);
    return;
  }
  std::string program = spec.argv[0];
  if (program.find('/') == std::string::npos) {
    auto found = find_program(program, spec.env["PATH"]);
    if (found.empty()) {
      fail("'" + program + "' not found in PATH");
      return;
    }
    program = found;
  }
  std::vector<std::string> args = spec.argv;
  args[0] = program;
  auto& sandbox = spec.sandbox;
  if (!sandbox.bwrap.empty()) {
    args = sandboxed_argv(sandbox, spec.workdir, args);
    program = sandbox.bwrap;
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  struct rlimit files;
  auto max_fd = ::getrlimit(RLIMIT_NOFILE, &files) == 0
                    && files.rlim_cur != RLIM_INFINITY
                  ? static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20))
                  : 1 << 16;
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int exec_pipe[2] = {-1, -1}; // reports exec failure (closes on success)
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0
      || ::pipe2(err_pipe, O_CLOEXEC) != 0
      || ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    auto what = std::string{"pipe: "} + std::strerror(errno);
    close_pair(in_pipe);
    close_pair(out_pipe);
    close_pair(err_pipe);
    close_pair(exec_pipe);
    fail(what);
    return;
  }
  struct rlimit mem;
  mem.rlim_cur = mem.rlim_max = static_cast<rlim_t>(spec.memory_mb) << 20;
  auto workdir = spec.workdir;
  auto pid = ::fork();
  if (pid == 0) {
    // Child.
    ::setpgid(0, 0);
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    // Nothing of the server's goes along: not Asio's or CAF's sockets, not
    // other executions' pipes; only the pipe that reports a failed exec
    // (close-on-exec).
    close_from_3_but(exec_pipe[1], max_fd);
    int code = 0;
    if (::chdir(workdir.c_str()) != 0)
      code = errno;
    else if (spec.memory_mb > 0 && ::setrlimit(RLIMIT_AS, &mem) != 0)
      code = errno;
    else if (sandbox.drop
             && (::setgroups(0, nullptr) != 0
                 || ::setresgid(sandbox.gid, sandbox.gid, sandbox.gid) != 0
                 || ::setresuid(sandbox.uid, sandbox.uid, sandbox.uid) != 0))
      code = errno;
    if (code == 0) {
      ::execve(program.c_str(), argv.data(), envp.data());
      code = errno;
    }
    auto unused = ::write(exec_pipe[1], &code, sizeof(code));
    (void) unused;
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  if (pid < 0) {
    auto what = std::string{"fork: "} + std::strerror(errno);
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ::close(exec_pipe[0]);
    fail(what);
    return;
  }
  ::setpgid(pid, pid); // also in the parent: no race with the kill below
  int code = 0;
  auto n = ::read(exec_pipe[0], &code, sizeof(code));
  ::close(exec_pipe[0]);
  auto run = std::make_shared<child_run>(io, std::move(spec), std::move(done));
  run->pid = pid;
  run->started = std::chrono::steady_clock::now();
  run->in.assign(in_pipe[1]);
  run->out.assign(out_pipe[0]);
  run->err.assign(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(code))) {
    // exec failed: reap the child and report.
    int status = 0;
    ::waitpid(pid, &status, 0);
    run->result.how = process_result::end::spawn_failed;
    run->result.error = "cannot run '" + run->spec.argv[0]
                        + "': " + std::strerror(code);
    auto r = run->result;
    auto f = std::move(run->done);
    asio::post(io, [r, f] { f(r); });
    return;
  }
  asio::post(io, [run] {
    run->deadline.expires_after(run->spec.timeout);
    run->deadline.async_wait([run](auto ec) {
      if (!ec)
        run->kill_group(process_result::end::timed_out);
    });
    run->write_in();
    run->read_out();
    run->read_err();
  });
}

} // namespace augur
