#pragma once

// The typed actor interfaces of augur: who receives what, with a one-line
// comment per handler. An actor's public interface is what others may send
// it; what it sends itself (timers, results from the I/O thread) lives on a
// private extension (`*_private_actor`) that only the actor and the node
// runtime that spawns it hold.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "augur/messages/protocol.hpp"

namespace augur {

/// Anything that consumes channel samples (frontends and instances).
using channel_listener_actor = caf::typed_actor<
  // A probe publishes its current estimate of one host-service channel.
  caf::reacts_to<channel_sample>>;

/// Anything that consumes profile updates (frontends).
using profile_listener_actor = caf::typed_actor<
  // The registry pushes a task's profile after an estimate moved.
  caf::reacts_to<task_profile>>;

/// The profile registry: learns which services each task uses.
using profile_registry_actor = caf::typed_actor<
  // An instance reports what one execution really did.
  caf::reacts_to<observation>,
  // Defines (or redefines) a task with its declared hints.
  caf::reacts_to<task_spec>,
  // Forgets a task (deleted): its profile is unknown from now on.
  caf::reacts_to<caf::delete_atom, std::string>,
  // Answers a task's profile; `known` is false for an undefined task.
  caf::replies_to<caf::get_atom, std::string>::with<task_profile>,
  // A frontend subscribes to profile pushes.
  caf::reacts_to<caf::subscribe_atom, profile_listener_actor>>;

/// One VM instance: slots, warm tasks, executions.
using instance_actor = caf::typed_actor<
  // The frontend asks what an invocation would cost here; the reply declines
  // when no slot is free.
  caf::replies_to<bid_request>::with<bid>,
  // The frontend tells the instance to run an invocation; the reply is the
  // result, or `outcome::refused` when no slot is free any more.
  caf::replies_to<execute_request>::with<invoke_result>,
  // The host's probe publishes a channel estimate.
  caf::reacts_to<channel_sample>,
  // Reports slots, load and warm tasks.
  caf::replies_to<caf::get_atom, status_atom>::with<instance_status>,
  // Report observations to this registry from now on (a worker node that
  // joined, or joined again, its control node).
  caf::reacts_to<registry_atom, profile_registry_actor>,
  // The frontend made this instance a home of a task that just tripped the
  // threshold: warm it up now (a cold start no invocation waits for). The
  // reply says whether it does (a process task warms up on its first run).
  caf::replies_to<prewarm_atom, std::string>::with<bool>>;

/// What an instance sends itself, on top of its public interface.
using instance_private_actor = instance_actor::extend<
  // The execution with this local sequence number finished (its virtual or
  // real duration elapsed).
  caf::reacts_to<done_atom, uint64_t>,
  // The held-back bid with this sequence number is due.
  caf::reacts_to<bid_atom, uint64_t>,
  // A process task ended (from the I/O thread).
  caf::reacts_to<done_atom, process_outcome>,
  // A pre-warm's cold start of this task is over.
  caf::reacts_to<warmed_atom, std::string>>;

/// The frontend: admits invocations and places them.
using frontend_actor = caf::typed_actor<
  // A caller invokes a task; the reply says what ran where, and why.
  caf::replies_to<invoke_request>::with<invoke_result>,
  // The registry pushes a task's profile.
  caf::reacts_to<task_profile>,
  // A probe publishes a channel estimate.
  caf::reacts_to<channel_sample>,
  // An instance joins the pool.
  caf::reacts_to<caf::join_atom, instance_info, instance_actor>,
  // A remote instance started running this invocation (until then, losing
  // the instance means it never ran, and it can be placed again).
  caf::reacts_to<started_atom, invocation_id>,
  // Reports the frontend's counters.
  caf::replies_to<caf::get_atom, status_atom>::with<frontend_status>,
  // Reports the channel table as the frontend sees it.
  caf::replies_to<caf::get_atom,
                  channels_atom>::with<std::vector<channel_sample>>>;

/// A worker node's keeper of the tasks deployed at run time: it installs
/// what the control node's hub hands it (code unpacked on this node).
using node_agent_actor = caf::typed_actor<
  // Defines (or redefines) a deployed task here; the reply comes once its
  // code is unpacked and the instances of this node can run it.
  caf::replies_to<task_definition>::with<bool>,
  // Forgets a deployed task: running executions finish, new ones find none.
  caf::replies_to<caf::delete_atom, std::string>::with<bool>>;

/// The control node's hub of deployed tasks: hands every definition to
/// every worker node, and all of them to a worker that joins.
using deploy_hub_actor = caf::typed_actor<
  // A worker node's agent joins; the reply (the number of definitions
  // handed over) comes once the agent has installed them all.
  caf::replies_to<caf::join_atom, node_agent_actor>::with<uint64_t>,
  // A task was deployed on the control node; the reply (the number of
  // worker nodes that installed it) comes once every agent answered.
  caf::replies_to<task_definition>::with<uint64_t>,
  // A deployed task was deleted; the reply as above.
  caf::replies_to<caf::delete_atom, std::string>::with<uint64_t>>;

/// The gate of a control node, the only actor it publishes: a worker node
/// that presents the cluster's secret gets the frontend, the registry and
/// the hub of deployed tasks; anybody else gets an error and nothing to
/// talk to.
using gate_actor = caf::typed_actor<
  // A worker node joins: (secret, node name) -> the handles it needs.
  caf::replies_to<caf::join_atom, std::string, std::string>::with<
    frontend_actor, profile_registry_actor, deploy_hub_actor>>;

/// One channel probe per host: measures every service from that host.
using channel_probe_actor = caf::typed_actor<
  // Adds a consumer of this probe's samples.
  caf::reacts_to<caf::subscribe_atom, channel_listener_actor>,
  // What an execution on this probe's host saw of its services: passive
  // RTT and throughput samples, alongside the active probes.
  caf::reacts_to<observation>,
  // Returns the current estimate for every service.
  caf::replies_to<caf::get_atom,
                  channels_atom>::with<std::vector<channel_sample>>>;

/// What a channel probe sends itself, on top of its public interface.
using channel_probe_private_actor = channel_probe_actor::extend<
  // Time to probe every service once more.
  caf::reacts_to<caf::tick_atom>,
  // A real measurement of one service came back (ok, RTT in ms; from the
  // I/O thread).
  caf::reacts_to<measured_atom, std::string, bool, double>>;

/// One auxiliary service: where it is and whether it is healthy.
using aux_service_actor = caf::typed_actor<
  // Describes the service.
  caf::replies_to<caf::get_atom>::with<service_info>,
  // A host's probe reports that the service is reachable from that host, or
  // no longer (the service is healthy while some host reaches it).
  caf::reacts_to<health_atom, std::string, bool>>;

} // namespace augur
