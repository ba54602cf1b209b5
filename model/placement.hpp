#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/model/instance_pool.hpp"

namespace augur {

/// How a frontend places: augur's prediction, or one of the baselines it is
/// measured against.
enum class placement_policy : uint8_t {
  predictive,
  least_loaded,
  random,
  round_robin,
  hash_home,
  oracle,
  /// What an operator does by hand: each task in the zone of the service it
  /// declares, least loaded there; least loaded anywhere without a hint.
  hint_zone,
};

/// The policy's name in cluster files and reports (`least-loaded`, ...).
const char* to_string(placement_policy x);

/// The policy named `name`, or nothing for an unknown name.
std::optional<placement_policy> parse_placement_policy(std::string_view name);

/// Every policy, augur's first.
const std::vector<placement_policy>& all_placement_policies();

/// The route an answer names for a placement chosen by a baseline.
placement_route route_of(placement_policy x);

/// What the oracle policy knows and no real frontend can (simulation only):
/// the tasks' true behaviour and the links' true current state. The oracle
/// puts each invocation on the free instance with the lowest true expected
/// latency (time in services from its host, cold start where the task is
/// not warm, load): greedy, it knows the present but not the future.
struct oracle_view {
  /// The service a task most likely uses now, and that probability.
  std::function<std::pair<std::string, double>(const std::string& task)>
    most_likely;
  /// True expected time in services of one execution of a task on a host.
  std::function<double(const std::string& task, const std::string& host)>
    aux_ms;
  /// A task's cold start.
  std::function<double(const std::string& task)> cold_start_ms;
};

/// The placement decisions of the frontend and the bids of the instances, as
/// plain functions: no actor, no clock, no I/O.
namespace placement {

/// Up to `k` instances with a free slot on the hosts whose channel to the
/// service costs least. `host_cost[h]` is the cost of host `h` (infinity:
/// unusable, never shortlisted). Hosts are taken in order of cost, and all
/// free instances of a host before the next host's, the least busy first;
/// on the best host, those where `task` is warm (or warming up) before
/// them (on a worse host, a warm instance would draw the task away from a
/// cold one on the best: warm far beats cold near, run after run).
std::vector<instance_pool::index>
shortlist(const instance_pool& pool, const std::vector<double>& host_cost,
          size_t k, const std::string& task = {});

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

/// Least-loaded among the instances with a free slot on the hosts that
/// `host_ok` accepts (indexed by host); npos when none has a free slot.
instance_pool::index least_loaded_on(const instance_pool& pool,
                                     const std::vector<bool>& host_ok,
                                     std::mt19937_64& rng);

/// Random baseline: a uniformly random instance with a free slot.
instance_pool::index random_free(const instance_pool& pool,
                                 std::mt19937_64& rng);

/// Round-robin baseline: from a cursor, the next instance (in the order
/// instances joined) with a free slot; the cursor moves past it.
instance_pool::index round_robin(const instance_pool& pool, size_t& cursor);

/// OpenWhisk's hash-home baseline (ShardingContainerPoolBalancer): the
/// task's home instance is hash(task) mod N; when it is full, step by a step
/// size also chosen by the hash among numbers coprime to N (pairwise coprime,
/// as OpenWhisk builds them), so that every instance is visited once.
instance_pool::index hash_home(const instance_pool& pool,
                               const std::string& task);

/// The step sizes of `hash_home` for N instances: the numbers in [1, N]
/// coprime to N and pairwise coprime with each other.
std::vector<size_t> coprime_steps(size_t n);

/// Oracle: among `candidates`, the instance with the lowest true expected
/// latency, given the true expected time in services from each host
/// (`aux_ms(host)`), the task's cold start where it is not warm, and load x
/// load_weight_ms. Returns npos for no candidates.
instance_pool::index
cheapest(const instance_pool& pool,
         const std::vector<instance_pool::index>& candidates,
         const std::string& task, const std::function<double(uint32_t)>& aux_ms,
         double cold_start_ms, double load_weight_ms);

/// The likelihood with which `s` counts in a task's expected time in
/// services: its likelihood once an execution used it or a hint declared
/// it; else 0. A service the task never used keeps the estimator's prior and
/// what decay leaves of it (0.3-5%), and the frontend's copy moves only by
/// the registry's push delta: counted, it would pull the homes of a task
/// that never calls it towards it, and move them (each move a cold start)
/// whenever its channel changes.
double counted_likelihood(const service_likelihood& s);

/// One service a task may use, seen from one host.
struct service_term {
  /// Probability that an execution uses the service, and the round trips
  /// of an execution that does.
  double likelihood = 0;
  double round_trips = 1;
  /// Cost of one round trip to the service from the host (infinite:
  /// never measured, or down).
  double channel_ms = 0;
  /// Time the bytes of an execution that uses it take over the channel
  /// (bytes / throughput).
  double transfer_ms = 0;
};

/// Expected time in services of one execution on a host: the sum over every
/// service of likelihood x (round trips x channel cost + transfer time). A
/// service used at or above `must_reach` likelihood over an unusable channel
/// makes the host unusable (infinity); below it, an unusable channel costs what
/// a round trip at `unknown_ms` would.
double expected_service_ms(const std::vector<service_term>& terms,
                           double must_reach, double unknown_ms = 1e3);

/// What an instance expects an invocation to cost if it ran there now.
struct bid_inputs {
  bool warm = false;
  double cold_start_ms = 0;
  /// Every service the task may use, from this instance's host.
  std::vector<service_term> services;
  /// Likelihood from which a service must be reachable (the threshold).
  double must_reach = 0.5;
  uint32_t busy = 0;
  uint32_t slots = 1;
  /// Cost of running beside other executions, per unit of load.
  double load_weight_ms = 1;
};

/// Expected latency in ms: cold start if not warm, plus the expected time
/// in services (`expected_service_ms`; when a service the task likely uses
/// is unreachable, every round trip counts 1,000 s, so that such a bid
/// ranks last yet stays comparable), plus load x load_weight.
double expected_latency_ms(const bid_inputs& x);

/// Ranks bids best first: accepting bids by expected latency plus the
/// control round trip to the instance (ties keep their order of arrival),
/// then the declining ones. Returns how many accept.
size_t rank_bids(std::vector<bid>& bids);

/// What a negotiation leaves behind when a warm home of the task won it:
/// the task's next runs go to the winner, or to another instance on its
/// host known to be warm, without asking for bids again while nothing the
/// bids were won on has moved. That saves every such run the bids' messages
/// and a control round trip (what hash-home never pays). When it is due,
/// bids are asked again in the background, and their winner renews it.
struct lease {
  /// The winner first, then the others on its host that bid warm or
  /// finished a run of the task since.
  std::vector<instance_pool::index> instances;
  /// The invocation whose negotiation granted it.
  invocation_id from = 0;
  double expires_ms = 0;
  /// Expected time in services from the winner's host, and from the best
  /// host, when it was granted.
  double winner_ms = 0;
  double best_ms = 0;
  /// Bids for its renewal are out.
  bool renewing = false;
};

enum class lease_state {
  /// Nothing moved and it has not expired.
  holds,
  /// Nothing moved but it expired: it may be used while bids renew it.
  due,
  /// A channel or the profile moved: the next run negotiates.
  moved,
};

/// The state of `l` at `now_ms`, with the winner's host now expected to
/// cost `winner_ms` and the best host `best_ms` (both from the task's
/// profile now). It moved when the winner's cost or its lag behind the best
/// host grew by more than `tolerance` of the winner's cost when granted (at
/// least `slack_ms`): a channel that degrades or recovers, or a profile
/// that learned of another service, does that.
lease_state check_lease(const lease& l, double now_ms, double winner_ms,
                        double best_ms, double tolerance,
                        double slack_ms = 0.05);

} // namespace placement

} // namespace augur
