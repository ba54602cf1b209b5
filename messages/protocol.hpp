#pragma once

// The protocol of augur: every message that augur's actors exchange, in one
// place. The typed interfaces that say who sends what live in
// `augur/messages/interfaces.hpp`; the msgpack encoding in `wire.hpp`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

namespace augur {

/// Identifies one invocation from admission to its answer. Assigned by the
/// frontend; carried by every message that concerns the invocation.
using invocation_id = uint64_t;

/// How an invocation ended.
enum class outcome : uint8_t {
  /// The task ran and returned its output.
  ok,
  /// The task ran and failed (threw, crashed, timed out, used an unknown
  /// service); `error` says why.
  failed,
  /// The frontend refused to admit it (queue full, shutting down).
  rejected,
  /// No task of that name is defined.
  unknown_task,
  /// An instance refused an execute because its state changed since its bid
  /// (no free slot). Only seen between frontend and instance.
  refused,
};

/// Returns the lower-case name of `x`.
const char* to_string(outcome x);

/// How an invocation was placed: one of augur's routes, or the baseline
/// policy that chose (in replays against baselines).
enum class placement_route : uint8_t {
  /// Not placed (yet, or never: unknown task, rejection).
  none,
  /// Likelihood at or above the threshold: bids taken, best bid won.
  negotiated,
  /// Below the threshold: load and warmth (power of k choices).
  fast_path,
  /// Negotiation yielded no usable bid: placed as on the fast path.
  fallback,
  least_loaded,
  random,
  round_robin,
  hash_home,
  oracle,
  hint_zone,
};

/// Returns the name of `x` as it appears in answers and reports
/// (`negotiated`, `fast-path`, `least-loaded`, ...; `none` for none).
const char* to_string(placement_route x);

/// The route named `name` (as `to_string` writes it), or nothing.
std::optional<placement_route> parse_placement_route(std::string_view name);

/// Compares a route with its name, so that tests and tools may keep writing
/// `r.reason.policy == "negotiated"`.
bool operator==(placement_route x, std::string_view name);
bool operator!=(placement_route x, std::string_view name);

// -- invocation --------------------------------------------------------------

/// A caller asks the frontend to run `task` with `payload`.
struct invoke_request {
  std::string task;
  std::string payload;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, invoke_request& x) {
  return f(caf::meta::type_name("invoke_request"), x.task, x.payload);
}

/// An instance's answer to a bid request: what it expects the invocation to
/// cost if it ran there now.
struct bid {
  invocation_id invocation = 0;
  std::string instance;
  std::string host;
  /// False when the instance has no free slot.
  bool accept = false;
  /// Expected latency of the invocation on this instance (cold start, channel
  /// time to the service, load), in milliseconds.
  double expected_ms = 0;
  /// The instance's own estimate of one round trip to the service.
  double channel_ms = 0;
  uint32_t free_slots = 0;
  bool warm = false;
  /// The round trip between frontend and instance that the frontend
  /// measured (its bids' answers): every execution there pays it on top of
  /// `expected_ms`. Set by the frontend, which ranks by the sum.
  double control_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bid& x) {
  return f(caf::meta::type_name("bid"), x.invocation, x.instance, x.host,
           x.accept, x.expected_ms, x.channel_ms, x.free_slots, x.warm,
           x.control_ms);
}

/// Why an invocation ran where it ran.
struct placement_reason {
  /// `negotiated` (likelihood at or above the threshold, bids taken),
  /// `fast-path` (below the threshold: load and warmth), `fallback`
  /// (negotiation yielded no usable bid), or the baseline that chose.
  placement_route policy = placement_route::none;
  /// The highest likelihood of using a service, and that service.
  double likelihood = 0;
  std::string service;
  /// The frontend's channel cost estimate from the chosen host to `service`.
  double channel_ms = 0;
  /// Every bid seen during negotiation, the winner first.
  std::vector<bid> bids;
  /// Free text: refusals, deadlines, fallbacks.
  std::string note;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_reason& x) {
  return f(caf::meta::type_name("placement_reason"), x.policy, x.likelihood,
           x.service, x.channel_ms, x.bids, x.note);
}

/// The answer to an invocation, to the caller.
struct invoke_result {
  invocation_id invocation = 0;
  std::string task;
  outcome status = outcome::ok;
  std::string error;
  std::string output;
  std::string host;
  std::string instance;
  placement_reason reason;
  /// From admission at the frontend to the answer, in milliseconds.
  double latency_ms = 0;
  /// Time the execution spent in calls to auxiliary services.
  double aux_ms = 0;
  /// Whether this run started a cold start of its own. A run that came
  /// while its instance pre-warmed the task waits for the rest of that
  /// warm-up (its latency shows it), which counts once, as the pre-warm.
  bool cold_start = false;
  /// How long the run waited for a warm-up before it began: its own cold
  /// start's, or the rest of one under way (a modelled task's; 0 for a
  /// process task, whose setup is part of its run).
  double warmup_ms = 0;
  /// What a process task wrote to stderr (bounded).
  std::string log;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, invoke_result& x) {
  return f(caf::meta::type_name("invoke_result"), x.invocation, x.task,
           x.status, x.error, x.output, x.host, x.instance, x.reason,
           x.latency_ms, x.aux_ms, x.cold_start, x.warmup_ms, x.log);
}

/// The frontend tells an instance to run an invocation.
struct execute_request {
  invocation_id invocation = 0;
  std::string task;
  std::string payload;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, execute_request& x) {
  return f(caf::meta::type_name("execute_request"), x.invocation, x.task,
           x.payload);
}

// -- profiles ----------------------------------------------------------------

/// What one execution did with one auxiliary service.
struct service_use {
  std::string service;
  uint32_t round_trips = 0;
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  /// Time spent waiting for the service's responses.
  double aux_ms = 0;
  /// Connections opened to the service (process tasks, through gateways).
  uint32_t connections = 0;
  /// Time from the first request byte to the first response byte: a
  /// passive RTT sample (negative: no response).
  double first_response_ms = -1;
  /// Passive throughput: bytes that crossed the channel while it was busy,
  /// and the time they took (0: nothing long enough to tell).
  uint64_t transfer_bytes = 0;
  double transfer_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_use& x) {
  return f(caf::meta::type_name("service_use"), x.service, x.round_trips,
           x.bytes_out, x.bytes_in, x.aux_ms, x.connections,
           x.first_response_ms, x.transfer_bytes, x.transfer_ms);
}

/// An instance reports what an execution really did: the ground truth that
/// profiles learn from.
struct observation {
  invocation_id invocation = 0;
  std::string task;
  std::string host;
  std::string instance;
  /// Services the execution used; a service absent here was not used.
  std::vector<service_use> used;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, observation& x) {
  return f(caf::meta::type_name("observation"), x.invocation, x.task, x.host,
           x.instance, x.used);
}

/// The registry's estimate for one task and one service.
struct service_likelihood {
  std::string service;
  /// Posterior mean probability that an execution uses the service.
  double likelihood = 0;
  /// Mean round trips, bytes sent and bytes received per execution that
  /// used it.
  double round_trips = 0;
  double bytes_out = 0;
  double bytes_in = 0;
  /// Observations behind the estimate (after decay).
  double evidence = 0;
  bool hinted = false;
  /// Whether an execution was ever seen using it (and that evidence has not
  /// decayed away).
  bool used = false;

  /// Bytes both ways per execution that uses the service.
  double bytes() const noexcept {
    return bytes_out + bytes_in;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_likelihood& x) {
  return f(caf::meta::type_name("service_likelihood"), x.service, x.likelihood,
           x.round_trips, x.bytes_out, x.bytes_in, x.evidence, x.hinted,
           x.used);
}

/// The frontend asks an instance for a bid on one invocation.
struct bid_request {
  invocation_id invocation = 0;
  std::string task;
  /// The service the invocation most likely uses, its likelihood and the
  /// expected round trips per execution.
  std::string service;
  double likelihood = 0;
  double round_trips = 1;
  /// Every service of the task's profile (the bid counts the expected time
  /// in all of them); empty: only `service`.
  std::vector<service_likelihood> services;
  /// Likelihood from which a service must be reachable from the instance.
  double threshold = 0.5;
  /// The task's home instances, and the runs a cold start on one of them
  /// warms it up for (the task's arrivals while it stays warm): there a cold
  /// start counts that much less. Elsewhere it serves this run alone.
  std::vector<std::string> homes;
  double expected_runs = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bid_request& x) {
  return f(caf::meta::type_name("bid_request"), x.invocation, x.task, x.service,
           x.likelihood, x.round_trips, x.services, x.threshold, x.homes,
           x.expected_runs);
}

/// A task's profile: the registry pushes it to frontends whenever an estimate
/// moves, and answers profile queries with it.
struct task_profile {
  std::string task;
  /// False when no task of that name is defined.
  bool known = false;
  /// Safe to run again elsewhere when its instance is lost mid-run.
  bool idempotent = false;
  std::vector<service_likelihood> services;
  uint64_t observations = 0;
  /// Grows with every change, so a receiver can drop stale pushes.
  uint64_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_profile& x) {
  return f(caf::meta::type_name("task_profile"), x.task, x.known, x.idempotent,
           x.services, x.observations, x.version);
}

/// Defines a task at the registry, with the services it declares it uses.
struct task_spec {
  std::string name;
  std::vector<std::string> hints;
  /// Safe to run again elsewhere when its instance is lost mid-run.
  bool idempotent = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_spec& x) {
  return f(caf::meta::type_name("task_spec"), x.name, x.hints, x.idempotent);
}

/// A task deployed at run time, as the control node hands it to every
/// worker node: what the worker's instances need to run it.
struct task_definition {
  std::string name;
  std::vector<std::string> hints;
  std::vector<std::string> argv;
  /// `NAME=value`, as a process's environment is written.
  std::vector<std::string> env;
  double timeout_ms = 10000;
  uint64_t memory_mb = 0;
  std::vector<std::string> setup;
  /// Grows with every redeployment: instances treat a new one as cold.
  uint64_t version = 0;
  bool idempotent = false;
  /// The code archive's bytes (empty: the task has no files).
  std::string code;
  /// Where the control node keeps the archive (read into `code` before it
  /// is sent; a worker ignores it).
  std::string code_path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_definition& x) {
  return f(caf::meta::type_name("task_definition"), x.name, x.hints, x.argv,
           x.env, x.timeout_ms, x.memory_mb, x.setup, x.version, x.idempotent,
           x.code, x.code_path);
}

// -- channels ----------------------------------------------------------------

/// A probe's smoothed view of the channel from one host to one service.
struct channel_sample {
  std::string host;
  std::string service;
  /// RFC 6298 smoothed RTT and RTT variance, in milliseconds.
  double srtt_ms = 0;
  double rttvar_ms = 0;
  /// Fraction of probes lost over the recent window.
  double loss = 0;
  /// Time since the last successful measurement when the sample was sent.
  double age_ms = 0;
  /// False after consecutive failures.
  bool up = false;
  /// Number of probes behind the estimate.
  uint64_t probes = 0;
  /// Throughput learned from what executions moved over the channel, in
  /// Mbit/s (0: not measured yet).
  double throughput_mbps = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_sample& x) {
  return f(caf::meta::type_name("channel_sample"), x.host, x.service, x.srtt_ms,
           x.rttvar_ms, x.loss, x.age_ms, x.up, x.probes, x.throughput_mbps);
}

/// Time in milliseconds that `bytes` take at `mbps` Mbit/s (125 bytes per
/// millisecond each); 0 for no bytes or no limit (`mbps` not positive).
inline double transfer_time_ms(double bytes, double mbps) {
  return bytes > 0 && mbps > 0 ? bytes / (mbps * 125) : 0;
}

/// The emulated link from a host to a service (virtual and embedded modes).
struct link_spec {
  std::string host;
  std::string service;
  double rtt_ms = 0;
  double jitter_ms = 0;
  double loss = 0;
  /// The link's throughput in Mbit/s: bytes take bytes / bandwidth to cross
  /// it (0: unlimited).
  double bandwidth_mbps = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, link_spec& x) {
  return f(caf::meta::type_name("link_spec"), x.host, x.service, x.rtt_ms,
           x.jitter_ms, x.loss, x.bandwidth_mbps);
}

/// How a process task's run ended, with what its gateways saw (from the
/// I/O thread to the instance that ran it).
struct process_outcome {
  uint64_t seq = 0;
  bool ok = false;
  std::string output;
  std::string errors;
  /// Why it failed (empty when ok).
  std::string error;
  double wall_ms = 0;
  std::vector<service_use> used;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_outcome& x) {
  return f(caf::meta::type_name("process_outcome"), x.seq, x.ok, x.output,
           x.errors, x.error, x.wall_ms, x.used);
}

// -- membership and status ---------------------------------------------------

/// An instance introduces itself to the frontend.
struct instance_info {
  std::string name;
  std::string host;
  std::string zone;
  uint32_t slots = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_info& x) {
  return f(caf::meta::type_name("instance_info"), x.name, x.host, x.zone,
           x.slots);
}

/// An auxiliary service as its actor knows it.
struct service_info {
  std::string name;
  std::string zone;
  std::string endpoint;
  bool healthy = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_info& x) {
  return f(caf::meta::type_name("service_info"), x.name, x.zone, x.endpoint,
           x.healthy);
}

/// An instance's state, for status queries.
struct instance_status {
  instance_info info;
  uint32_t busy = 0;
  uint64_t executions = 0;
  uint64_t cold_starts = 0;
  std::vector<std::string> warm;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_status& x) {
  return f(caf::meta::type_name("instance_status"), x.info, x.busy,
           x.executions, x.cold_starts, x.warm);
}

/// The frontend's counters, for status queries.
struct frontend_status {
  uint64_t admitted = 0;
  uint64_t completed = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  uint64_t negotiations = 0;
  uint64_t fast_path = 0;
  uint64_t fallbacks = 0;
  uint64_t refusals = 0;
  uint64_t bid_timeouts = 0;
  uint64_t profile_lookups = 0;
  uint64_t profile_cache_hits = 0;
  uint32_t queued = 0;
  uint32_t in_flight = 0;
  uint32_t instances = 0;
  /// Instances in the pool now (lost ones excluded).
  uint32_t live_instances = 0;
  uint64_t retried = 0;
  /// Instances told to warm a task up ahead of its runs (a profile tripped
  /// the threshold).
  uint64_t prewarms = 0;
  /// Placements on one of the task's homes.
  uint64_t home_placements = 0;
  /// Invocations above the threshold placed by a recent negotiation's lease
  /// instead of bids of their own.
  uint64_t leased = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, frontend_status& x) {
  return f(caf::meta::type_name("frontend_status"), x.admitted, x.completed,
           x.rejected, x.failed, x.negotiations, x.fast_path, x.fallbacks,
           x.refusals, x.bid_timeouts, x.profile_lookups, x.profile_cache_hits,
           x.queued, x.in_flight, x.instances, x.live_instances, x.retried,
           x.prewarms, x.home_placements, x.leased);
}

} // namespace augur

// -- type IDs and atoms: one block for every node ---------------------------

CAF_BEGIN_TYPE_ID_BLOCK(augur, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(augur, (augur::invoke_request))
  CAF_ADD_TYPE_ID(augur, (augur::bid))
  CAF_ADD_TYPE_ID(augur, (augur::placement_reason))
  CAF_ADD_TYPE_ID(augur, (augur::invoke_result))
  CAF_ADD_TYPE_ID(augur, (augur::bid_request))
  CAF_ADD_TYPE_ID(augur, (augur::execute_request))
  CAF_ADD_TYPE_ID(augur, (augur::service_use))
  CAF_ADD_TYPE_ID(augur, (augur::observation))
  CAF_ADD_TYPE_ID(augur, (augur::service_likelihood))
  CAF_ADD_TYPE_ID(augur, (augur::task_profile))
  CAF_ADD_TYPE_ID(augur, (augur::task_spec))
  CAF_ADD_TYPE_ID(augur, (augur::channel_sample))
  CAF_ADD_TYPE_ID(augur, (augur::link_spec))
  CAF_ADD_TYPE_ID(augur, (augur::instance_info))
  CAF_ADD_TYPE_ID(augur, (augur::service_info))
  CAF_ADD_TYPE_ID(augur, (augur::instance_status))
  CAF_ADD_TYPE_ID(augur, (augur::frontend_status))
  CAF_ADD_TYPE_ID(augur, (augur::process_outcome))
  CAF_ADD_TYPE_ID(augur, (augur::task_definition))

  CAF_ADD_ATOM(augur, augur, status_atom, "status")
  CAF_ADD_ATOM(augur, augur, done_atom, "done")
  CAF_ADD_ATOM(augur, augur, bid_atom, "bid")
  CAF_ADD_ATOM(augur, augur, health_atom, "health")
  CAF_ADD_ATOM(augur, augur, channels_atom, "channels")
  CAF_ADD_ATOM(augur, augur, measured_atom, "measured")
  CAF_ADD_ATOM(augur, augur, registry_atom, "registry")
  CAF_ADD_ATOM(augur, augur, started_atom, "started")
  CAF_ADD_ATOM(augur, augur, prewarm_atom, "prewarm")
  CAF_ADD_ATOM(augur, augur, warmed_atom, "warmed")

CAF_END_TYPE_ID_BLOCK(augur)

namespace augur {

/// Registers augur's message types with an actor system configuration. Every
/// node must call it before constructing its actor system.
void register_messages(caf::actor_system_config& cfg);

} // namespace augur
