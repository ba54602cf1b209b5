#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/model/instance_pool.hpp"

namespace augur {

/// The placement decisions of the frontend and the bids of the instances, as
/// plain functions: no actor, no clock, no I/O.
namespace placement {

/// Up to `k` instances with a free slot on the hosts whose channel to the
/// service costs least. `host_cost[h]` is the cost of host `h` (infinity:
/// unusable, never shortlisted). Hosts are taken in order of cost, and all
/// free instances of a host before the next host's, least busy first.
std::vector<instance_pool::index>
shortlist(const instance_pool& pool, const std::vector<double>& host_cost,
          size_t k);

/// The most instances `power_of_k` samples.
constexpr size_t max_choices = 64;

/// Power of k choices: samples up to `k` (at most `max_choices`) distinct
/// instances with a free slot
/// and returns the one with the lowest load (busy/slots), preferring one that
/// keeps `task` warm (warmth is worth `warm_bonus` of load). Returns npos when
/// no instance has a free slot.
instance_pool::index power_of_k(const instance_pool& pool, size_t k,
                                const std::string& task, std::mt19937_64& rng,
                                double warm_bonus = 0.5);

/// Least-loaded baseline: the instance with the lowest load among all with a
/// free slot (ties broken at random), ignoring channels and warmth.
instance_pool::index least_loaded(const instance_pool& pool,
                                  std::mt19937_64& rng);

/// What an instance expects an invocation to cost if it ran there now.
struct bid_inputs {
  bool warm = false;
  double cold_start_ms = 0;
  double likelihood = 0;
  double round_trips = 1;
  /// Cost of one round trip to the service from this instance's host.
  double channel_ms = 0;
  uint32_t busy = 0;
  uint32_t slots = 1;
  /// Cost of running beside other executions, per unit of load.
  double load_weight_ms = 1;
};

/// Expected latency in ms: cold start if not warm, plus the likely channel
/// time (likelihood x round trips x channel cost), plus load x load_weight.
double expected_latency_ms(const bid_inputs& x);

/// Index of the accepting bid with the lowest expected latency, or
/// `bids.size()` when none accepts. Ties go to the earlier bid.
size_t best_bid(const std::vector<bid>& bids);

} // namespace placement

} // namespace augur
