#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "augur/model/instance_pool.hpp"

namespace augur {

/// Where a task should live: a small, stable set of *home* instances, so
/// that the task stays warm there, chosen by channel to the services it
/// uses. A channel-aware version of OpenWhisk's hash-home: among the hosts
/// whose expected time in services is within `tolerance` of the best, the
/// `count` instances with the highest rendezvous hash of (task, instance).
/// Rendezvous hashing keeps homes where they are when other instances come
/// and go, and spreads tasks evenly over the instances of good hosts.
namespace homes {

/// Tunables of the choice.
struct settings {
  /// Homes per task.
  size_t count = 2;
  /// A host is good when its expected time in services is at most this
  /// much (ms) above the best host's...
  double tolerance_ms = 0.5;
  /// ...or this fraction above it.
  double tolerance_ratio = 0.1;
};

/// The homes of `task`, best first, given every host's expected time in
/// services (`host_cost[h]`; infinity: unusable). Retired instances are no
/// homes; hosts beyond `host_cost` count as unusable. Empty when no host is
/// usable.
std::vector<instance_pool::index>
choose(const instance_pool& pool, const std::vector<double>& host_cost,
       const std::string& task, const settings& cfg);

/// The good hosts: within the tolerance of the best expected time in
/// services (all false when no host is usable).
std::vector<bool> good_hosts(const std::vector<double>& host_cost,
                             const settings& cfg);

/// The homes of `task` among the instances of the `good` hosts.
std::vector<instance_pool::index>
choose_on(const instance_pool& pool, const std::vector<bool>& good,
          const std::string& task, const settings& cfg);

/// The rendezvous weight of `instance` for `task` (FNV-1a of both, mixed):
/// deterministic across runs and platforms.
uint64_t weight(const std::string& task, const std::string& instance);

} // namespace homes

/// A task's arrival rate as the frontend sees it: an exponentially weighted
/// mean of the gaps between arrivals (weight 1/8 to the newest, as RFC 6298
/// smooths RTTs), so that a cold start can be weighed against the runs it
/// warms up for.
class arrival_rate {
public:
  /// Records an arrival at `now_ms`.
  void add(double now_ms);

  /// Arrivals per second (0 before the second arrival). A long silence
  /// since the last arrival lowers it: the gap so far counts as a gap.
  double per_s(double now_ms) const;

private:
  double last_ms_ = 0;
  double mean_gap_ms_ = 0;
  uint64_t arrivals_ = 0;
};

/// How many runs a cold start on a home buys: the task's expected arrivals
/// over `horizon_s`, shared by its `homes`, and at least one.
double expected_runs(double rate_per_s, double horizon_s, size_t homes);

} // namespace augur
