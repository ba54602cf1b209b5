#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace augur {

/// What `augur demo` runs.
struct demo_options {
  std::string config = "configs/demo.toml";
  /// The emulated demo in virtual time (in-process tasks, a large
  /// workload) instead of the real one (processes, Redis, HTTP).
  bool virtual_time = false;
  uint32_t requests = 200;
  double rate_per_s = 500;
  uint64_t seed = 7;
  bool json = false;
  /// Trace augur's (the predictive) run to this file; empty: no trace.
  std::string trace_file;
};

/// Runs a mixed workload (tasks with and without service use) on the
/// cluster of `opts.config`, once placed by augur and once by least-loaded
/// placement, with the same requests, and prints per task where they ran,
/// why, and the latency. For real (default): a local Redis behind the
/// services, the config's [[task]] programs as processes, the invocations
/// through the HTTP API. With `virtual_time`: in-process tasks on the
/// emulated network in virtual time. Throws `config_error`.
void run_demo(const demo_options& opts, std::ostream& out);

} // namespace augur
