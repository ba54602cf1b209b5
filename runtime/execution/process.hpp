#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace augur {

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
/// limits; calls `done` on the io_context's thread when it has ended and
/// been reaped. Never blocks.
void run_process(boost::asio::io_context& io, process_spec spec,
                 std::function<void(process_result)> done);

} // namespace augur
