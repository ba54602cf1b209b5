#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "augur/messages/interfaces.hpp"
#include "augur/model/homes.hpp"
#include "augur/model/instance_pool.hpp"
#include "augur/model/placement.hpp"
#include "augur/probes/channel_table.hpp"
#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

/// How the frontend places.
struct frontend_settings {
  /// augur's, or a baseline.
  placement_policy policy = placement_policy::predictive;
  /// Likelihood at or above which the frontend negotiates by channel.
  double threshold = 0.5;
  /// Instances asked for a bid (negotiation) or sampled (fast path).
  uint32_t candidates = 3;
  /// Invocations that may wait for a free slot; one more is rejected.
  uint32_t queue_capacity = 1024;
  /// Time the frontend waits for bids before it falls back to the fast path.
  double bid_deadline_ms = 5;
  /// Refusals after which an invocation fails instead of being placed again.
  uint32_t max_refusals = 3;
  size_t warm_capacity = 8;
  channel_quality::settings quality;
  /// Load term of the oracle's expected latency (as in the instances' bids).
  double load_weight_ms = 1;
  oracle_view oracle;
  /// The zone of every service (the hint-zone baseline).
  std::unordered_map<std::string, std::string> service_zones;
  /// Each task's home instances (predictive policy).
  homes::settings homes;
  /// How long a task is expected to stay warm on a home, for weighing a cold
  /// start against the runs it serves.
  double warm_horizon_s = 60;
  /// A task's homes are checked again at least this often (and whenever its
  /// profile moves or the pool changes).
  double homes_refresh_ms = 1000;
  /// The share of a host's slots the tasks that serve best there may expect
  /// to fill before its slots get a price (`slot_price`).
  double scarce_utilization = 0.8;
  /// How long a host must stay scarce before its price holds, and calm
  /// before it goes.
  double scarce_persist_ms = 5000;
  /// Whether a home warms a task up as soon as its profile trips the
  /// threshold.
  bool prewarm = true;
  /// How long a negotiation a warm home won places the task's next runs
  /// there without bids (0: every run negotiates), and how far the channels
  /// may move meanwhile (relative) before bids are asked again.
  double lease_ms = 1000;
  double lease_tolerance = 0.1;
  /// What a cold start is assumed to add to a run until the task's own runs
  /// tell: an invocation whose homes are full waits for one of them when
  /// that is expected to be quicker than a cold start elsewhere.
  double cold_start_ms = 0;
  uint64_t seed = 1;
};

struct frontend_state {
  /// One admitted invocation, from admission to its answer.
  struct invocation {
    invoke_request request;
    caf::typed_response_promise<invoke_result> promise;
    double admitted_ms = 0;
    placement_reason reason;
    /// Accepting bids, best first, and the next one to try.
    std::vector<bid> ranked;
    size_t next_bid = 0;
    uint32_t refusals = 0;
    /// A slot held while bids are out, so that the slot counts as taken
    /// for every other placement meanwhile.
    instance_pool::index reserved = instance_pool::npos;
    /// Where it executes now (npos while not executing).
    instance_pool::index placed = instance_pool::npos;
    /// Whether the instance said it started (remote instances only); a
    /// local instance starts when it gets the execute.
    bool started = false;
    /// Placed by a lease (no bids of its own).
    bool leased = false;
    /// Whether its arrival counted in the task's rate already.
    bool counted = false;
    /// When it was last sent to an instance.
    double dispatched_ms = 0;
    /// The full home it waits for (npos: not waiting).
    instance_pool::index waiting_at = instance_pool::npos;
    /// Instances that refused it (their slots were taken behind the
    /// frontend's back): no home it waits for.
    std::vector<instance_pool::index> refused_by;
  };

  frontend_settings cfg;
  profile_registry_actor registry;
  instance_pool pool;
  std::vector<instance_actor> handles;
  /// By instance: invocations waiting for one of its slots (at most its
  /// slots), and how long its runs hold a slot (weighted 1/8 to the newest;
  /// 0 before the first).
  std::vector<std::deque<invocation_id>> waiters;
  std::vector<double> run_ms;
  /// By instance: when its first run was dispatched (negative before).
  std::vector<double> first_dispatch_ms;
  /// By host: the round trip between the frontend and its instances, from
  /// their bids' answers (weighted 1/8 to the newest; negative before the
  /// first). Every execution there pays it.
  std::vector<double> control_ms;
  /// Their sum and count over the hosts measured so far: a host not yet
  /// measured is taken to be as far as the mean (not free, which would
  /// draw every task there).
  double control_sum = 0;
  size_t control_known = 0;
  /// The control round trips as the homes were last chosen with, and a
  /// count of their moves (homes are chosen again after one).
  std::vector<double> control_seen;
  uint64_t control_epoch = 0;
  /// Profiles pushed by the registry (or fetched on a miss).
  std::unordered_map<std::string, task_profile> profiles;
  /// Invocations waiting for a profile lookup, by task.
  std::unordered_map<std::string, std::vector<invocation_id>> awaiting_profile;
  /// What probes measured, from every host to every service.
  channel_table channels;
  std::unordered_map<invocation_id, invocation> live;
  /// Invocations waiting for a free slot, oldest first.
  std::deque<invocation_id> queue;
  frontend_status counters;
  std::mt19937_64 rng;
  /// A task's homes, in the order they are used, when they were checked and
  /// for which profile version.
  struct task_homes {
    std::vector<instance_pool::index> instances;
    /// The hosts new homes could come from when they were chosen.
    std::vector<bool> good;
    /// Expected time in services of a run on the first home.
    double service_ms = 0;
    /// How many of them the task uses: more at once when its load grows,
    /// fewer only when it fell well below (so that noise in the rate
    /// estimate does not swing it).
    size_t active = 1;
    /// How many of them are worth their cold start at the task's steady
    /// rate (`homes::worth`): a cold one among those is an investment, its
    /// cold start shared by the runs it warms up for; one beyond, taken
    /// for a burst, counts its cold start whole.
    size_t invested = 1;
    double checked_ms = 0;
    uint64_t profile_version = 0;
    /// Chosen while the task was being learned (by its name alone).
    bool learning = false;
    /// The homes it had while it was learned, warm, used until
    /// `handover_ms` while the new first home warms up.
    std::vector<instance_pool::index> previous;
    double handover_ms = 0;
    uint64_t control_epoch = 0;
    size_t pool_size = 0;
    size_t live = 0;
  };

  /// Homes by task (known tasks only: bounded by the registry's tasks).
  std::unordered_map<std::string, task_homes> homes;
  /// Leases by task (known tasks only).
  std::unordered_map<std::string, placement::lease> leases;
  /// Arrivals and run times by task (known tasks only).
  std::unordered_map<std::string, task_demand> demand;
  /// The price of a slot-millisecond on each host (model/homes'
  /// `slot_price`, held with hysteresis), as computed at `prices_ms`.
  held_prices slot_prices;
  double prices_ms = -1e18;
  /// Tasks whose profile tripped the threshold (pre-warmed once).
  std::unordered_set<std::string> tripped;
  /// The zone of every host that joined (the hint-zone baseline).
  std::unordered_map<std::string, std::string> host_zones;
  /// Round-robin baseline's position.
  size_t cursor = 0;
  invocation_id next_id = 1;
  static inline const char* name = "frontend";
};

/// The frontend: admits invocations and places each one. Read
/// `actors/frontend.cpp` top to bottom for the flow of one invocation.
frontend_actor::behavior_type
frontend(traced_pointer<frontend_actor, frontend_state> self,
         frontend_settings cfg, profile_registry_actor registry);

} // namespace augur
