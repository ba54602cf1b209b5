#pragma once

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "augur/actors/listener_set.hpp"
#include "augur/messages/interfaces.hpp"
#include "augur/model/network_emulator.hpp"
#include "augur/probes/channel_estimator.hpp"
#include "augur/runtime/execution/gateway.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/execution/probe_client.hpp"
#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

/// How a channel probe works.
struct channel_probe_settings {
  std::string host;
  std::vector<std::string> services;
  /// Mean time between two probes of every service.
  double interval_ms = 100;
  /// Each interval is drawn uniformly within +-jitter of the mean, so that
  /// probes of many hosts do not synchronize.
  double interval_jitter = 0.1;
  size_t loss_window = 20;
  size_t down_after = 3;
  uint64_t seed = 1;
  /// Real mode: services measured for real, by name: their endpoint
  /// (`host:port`) and kind (`redis`: PING through a gateway that applies
  /// the emulated link; `tcp`: connect time plus the emulated link). Other
  /// services are sampled from the emulated network.
  std::map<std::string, std::pair<std::string, probe_kind>> real;
  std::shared_ptr<io_runner> io;
  /// A real measurement that takes longer has failed.
  double timeout_ms = 1000;
};

struct channel_probe_state {
  channel_probe_settings cfg;
  std::shared_ptr<network_emulator> network;
  std::map<std::string, channel_estimator> channels;
  listener_set<channel_listener_actor> listeners;
  /// The service actors, told when a channel goes down or comes back.
  std::map<std::string, aux_service_actor> service_actors;
  std::map<std::string, bool> reported_up;
  /// Real mode: the probe's own gateway per Redis service.
  std::map<std::string, std::shared_ptr<gateway>> gateways;
  /// Real measurements not back yet (one per service at a time).
  std::set<std::string> measuring;
  std::mt19937_64 rng;
  static inline const char* name = "channel_probe";
};

/// The channel probe of one host: every interval it measures the link to
/// each service (here over the emulated network), updates the estimators and
/// publishes a sample per service to its listeners.
channel_probe_private_actor::behavior_type channel_probe(
  traced_pointer<channel_probe_private_actor, channel_probe_state> self,
  channel_probe_settings cfg, std::shared_ptr<network_emulator> network,
  std::map<std::string, aux_service_actor> service_actors);

} // namespace augur
