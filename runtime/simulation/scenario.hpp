#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "augur/runtime/node/config.hpp"
#include "augur/runtime/simulation/azure_trace.hpp"

namespace augur {

/// One way a task uses a service: with `probability` an execution makes
/// `round_trips` calls of `bytes` each.
struct call_spec {
  std::string service;
  double probability = 1;
  uint32_t round_trips = 1;
  uint64_t bytes = 0;
  /// By trigger only: the service is the trigger's own binding, declared in
  /// the function's configuration, so augur gets it as a hint.
  bool declared = false;
};

/// A modelled task: its compute time, cold start, declared hints, and its
/// true behaviour (which the predictive policy never reads).
struct sim_task {
  std::string name;
  double duration_ms = 0;
  double cold_start_ms = -1;
  std::vector<std::string> hints;
  std::vector<call_spec> calls;
  /// For a trace function: its duration distribution (else empty).
  std::vector<std::pair<double, double>> duration_percentiles;
  /// For a trace function: what starts it.
  std::string trigger;
};

/// Jitter of links a scenario does not list, as a fraction of their RTT:
/// the median standard deviation over mean of 224,639 pings among 52 hosts
/// of one cloud (input-output-hk/ouroboros-leios BenchTopology): 0.65 within
/// a region (sub-millisecond links are noisy), 0.0024 across regions.
struct scenario_jitter_ratios {
  static constexpr double same_zone = 0.65;
  static constexpr double cross_zone = 0.0024;
};

/// The round trip between frontend and instances a scenario assumes unless
/// it says otherwise (`[cluster]` or `[[host]] control_rtt_ms`): 0.2 ms,
/// a round trip within one cloud region (0.16-0.27 ms among the AWS hosts of
/// latency/leios_* in the shared data).
constexpr double scenario_control_rtt_ms = 0.2;

/// What a scenario event changes.
enum class sim_event_kind : uint8_t {
  /// A link's RTT, jitter, loss or bandwidth.
  link,
  /// A task's true probability of calling a service (behaviour drift).
  task,
  /// Instances of a host fail with their in-flight work.
  instance_down,
};

/// Something that happens at `at_s` seconds of virtual time.
struct sim_event {
  double at_s = 0;
  sim_event_kind kind = sim_event_kind::link;
  std::string host;
  std::string service;
  std::string task;
  /// New link values (negative: unchanged).
  double rtt_ms = -1;
  double jitter_ms = -1;
  double loss = -1;
  double bandwidth_mbps = -1;
  /// New probability of the task's calls to `service`.
  double probability = -1;
  /// Instances that fail.
  uint32_t count = 1;
};

/// Where the invocations come from.
struct sim_workload {
  uint64_t requests = 1000;
  double rate_per_s = 100;
  uint64_t seed = 1;
  /// Task -> weight.
  std::map<std::string, double> mix;
  /// `azure2019`, or empty for the Poisson workload above.
  std::string trace;
  std::string invocations;
  std::string durations;
  /// Minutes of the trace to replay (inclusive; -1: all).
  int minute_from = -1;
  int minute_to = -1;
  /// Virtual time runs this many times faster than the trace.
  double time_scale = 1;
  /// Service use assumed per trigger.
  std::map<std::string, call_spec> by_trigger;
};

/// A scenario: a cluster, tasks, a workload and events.
struct scenario {
  std::string source;
  cluster_config cluster;
  std::vector<sim_task> tasks;
  sim_workload workload;
  std::vector<sim_event> events;
  /// The trace's functions, one per task (trace workloads only).
  azure_trace trace;
};

/// Parses a scenario; relative paths are relative to `base_dir`. Throws
/// `config_error` naming file, line and key.
scenario parse_scenario(std::string_view text, const std::string& source,
                        const std::string& base_dir = ".");

/// Reads a scenario file.
scenario load_scenario(const std::string& path);

} // namespace augur
