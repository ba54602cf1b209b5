#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace augur {

/// Where a user's program runs: under bubblewrap, in its own PID, IPC, UTS,
/// user and mount namespaces, the root file system read-only, only its
/// working directory and a private `/tmp` writable, the given paths hidden;
/// the network is shared so that it reaches its gateways.
struct sandbox_spec {
  /// The `bwrap` executable; empty: no sandbox (the program runs as the
  /// server's user, seeing what the server sees).
  std::string bwrap;
  /// Switch to `uid`/`gid` (no supplementary groups) before entering: what
  /// a server running as root does, so that user code owns nothing of it.
  bool drop = false;
  uint32_t uid = 65534;
  uint32_t gid = 65534;
  /// What the program must not see: directories show empty, files as empty
  /// files. The working directory is bound back inside them.
  std::vector<std::string> hidden_dirs;
  std::vector<std::string> hidden_files;
  /// Why a sandbox was asked for and cannot be had (then every run fails
  /// with this, never runs unconfined).
  std::string unavailable;
};

/// The first executable `name` in the absolute directories of `path` (a
/// PATH value; empty and relative entries are skipped), or "" when there is
/// none.
std::string find_program(const std::string& name, const std::string& path);

/// The bwrap command line that runs `argv` (resolved) in `workdir` as
/// `sandbox` says (no file system access: a pure function of its inputs).
/// The sandbox has a /tmp of its own; a program or script that `argv` names
/// under /tmp (a checkout there) stays visible, read-only, with the rest
/// of its directory.
std::vector<std::string> sandboxed_argv(const sandbox_spec& sandbox,
                                        const std::string& workdir,
                                        const std::vector<std::string>& argv);

/// A user's program to run once.
struct process_spec {
  /// argv[0] is looked up in PATH when it has no slash.
  std::vector<std::string> argv;
  /// The child's whole environment (PATH is added when missing).
  std::map<std::string, std::string> env;
  /// Working directory (must exist).
  std::string workdir = ".";
  /// Written to the child's stdin, which is then closed.
  std::string input;
  std::chrono::milliseconds timeout{10000};
  /// Address-space limit (RLIMIT_AS); 0: none.
  uint64_t memory_mb = 0;
  /// More stdout than this kills the process.
  size_t max_output = 1u << 20;
  /// stderr beyond this is dropped (the rest is kept for the caller).
  size_t max_stderr = 16u << 10;
  sandbox_spec sandbox;
};

/// How a run ended.
struct process_result {
  enum class end {
    /// Exited by itself (see `exit_code`).
    exited,
    /// Killed by a signal it got from elsewhere (see `signal`), e.g. a crash.
    signaled,
    /// Ran past its time limit: its whole process group was killed.
    timed_out,
    /// Wrote more than `max_output` to stdout: killed.
    output_too_large,
    /// Could not be started (see `error`).
    spawn_failed,
  };
  end how = end::exited;
  int exit_code = 0;
  int signal = 0;
  std::string output;
  std::string errors;
  std::string error;
  double wall_ms = 0;

  bool ok() const noexcept {
    return how == end::exited && exit_code == 0;
  }

  /// A one-line explanation of a failed run.
  std::string describe() const;
};

/// Runs `spec` as a child process in its own process group, with the
/// payload on stdin, the result from stdout, a time limit and resource
/// limits, and no descriptor open but stdin, stdout and stderr (whatever the
/// server opened without close-on-exec); calls `done` on the io_context's
/// thread when it has ended and been reaped. Forks on the calling thread
/// (call it from a launcher thread, never an actor's); never waits for the
/// child.
void run_process(boost::asio::io_context& io, process_spec spec,
                 std::function<void(process_result)> done);

} // namespace augur
