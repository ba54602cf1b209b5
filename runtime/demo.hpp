#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace augur {

/// What `augur demo` runs.
struct demo_options {
  std::string config = "configs/demo.toml";
  uint32_t requests = 4000;
  double rate_per_s = 500;
  uint64_t seed = 7;
  bool json = false;
  /// Trace augur's (the predictive) run to this file; empty: no trace.
  std::string trace_file;
};

/// Runs a mixed workload (tasks with and without service use) on the
/// embedded cluster of `opts.config` in virtual time, once placed by augur
/// and once by least-loaded placement, with the same arrivals, and prints
/// per task where they ran, why, and the latency. Throws `config_error`.
void run_demo(const demo_options& opts, std::ostream& out);

} // namespace augur
