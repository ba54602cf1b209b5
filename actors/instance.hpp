#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "augur/messages/interfaces.hpp"
#include "augur/model/network_emulator.hpp"
#include "augur/model/warm_set.hpp"
#include "augur/probes/channel_table.hpp"
#include "augur/probes/passive_sampler.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/execution/process.hpp"
#include "augur/runtime/execution/task.hpp"
#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

/// How an instance behaves.
struct instance_settings {
  instance_info info;
  /// Cold start of a task that declares none.
  double cold_start_ms = 50;
  /// Cost of running beside other executions, per unit of load (bids).
  double load_weight_ms = 1;
  size_t warm_capacity = 8;
  /// Time this instance takes to answer a bid: emulates a slow or distant
  /// host (0: at once).
  double bid_delay_ms = 0;
  /// Round trip between the frontend and this instance, paid in virtual
  /// time by every bid and every execution (an honest replay: messages are
  /// not free). Real and remote instances pay the real network instead.
  double control_rtt_ms = 0;
  /// Real mode: the I/O thread for processes and gateways, the services'
  /// real endpoints (`host:port`, by name), and the root of this instance's
  /// working directories.
  std::shared_ptr<io_runner> io;
  std::map<std::string, std::string> endpoints;
  std::string workdir;
  /// How executions of process tasks are confined.
  sandbox_spec sandbox;
  channel_quality::settings quality;
  /// The probe of this host's channels: it learns passively from what the
  /// executions here saw (none: no passive samples), an RTT sample per
  /// service at most every `passive_interval_ms`.
  channel_probe_actor probe;
  double passive_interval_ms = 100;
};

struct instance_state {
  instance_settings cfg;
  std::shared_ptr<task_catalog> catalog;
  std::shared_ptr<network_emulator> network;
  profile_registry_actor registry;
  warm_set warm;
  /// The version of each task the instance was warmed with: another
  /// version of it is cold (kept for warm tasks and a few more).
  std::unordered_map<std::string, uint64_t> warm_versions;
  /// Pre-warms under way: the task's version and when it is warm. A run
  /// meanwhile waits for the rest of it, never starts a cold start of its
  /// own (at most one entry per task the frontend made this a home of).
  std::unordered_map<std::string, std::pair<uint64_t, double>> warming;
  /// Real mode: launches go through this strand in order, so that a run
  /// never starts while a cold start before it still copies its files.
  std::optional<boost::asio::strand<boost::asio::thread_pool::executor_type>>
    launches;
  /// Working directories of process executions running now, and how many
  /// run in each (a cold start removes the other versions' idle ones).
  std::map<std::string, uint32_t> running_dirs;
  uint32_t busy = 0;
  uint64_t executions = 0;
  uint64_t cold_starts = 0;
  /// What this host's probe measured to every service.
  channel_table channels;
  /// Which executions' observations go to the probe.
  passive_sampler passive;
  struct running {
    caf::typed_response_promise<invoke_result> promise;
    invoke_result result;
    observation seen;
    /// The working directory of a process execution (empty: none).
    std::string dir;
  };
  /// Executions whose time has not elapsed yet, by a local sequence number.
  std::unordered_map<uint64_t, running> running_executions;
  /// Bids held back by `bid_delay_ms`, by the same sequence numbers.
  std::unordered_map<uint64_t, std::pair<caf::typed_response_promise<bid>, bid>>
    delayed_bids;
  uint64_t next_seq = 1;
  static inline const char* name = "instance";
};

/// One VM instance: bids honestly for invocations, runs them in its slots
/// (the first run of a task here is a cold start), answers the frontend with
/// the result and tells the registry what each execution really did.
instance_private_actor::behavior_type
instance(traced_pointer<instance_private_actor, instance_state> self,
         instance_settings cfg, std::shared_ptr<task_catalog> catalog,
         std::shared_ptr<network_emulator> network,
         profile_registry_actor registry);

} // namespace augur
