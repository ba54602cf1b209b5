#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/model/placement.hpp"
#include "augur/runtime/execution/probe_client.hpp"
#include "augur/runtime/tracing/trace_settings.hpp"

namespace augur {

/// A host: a machine with `instances` VM instances of `slots` slots each.
struct host_config {
  std::string name;
  std::string zone;
  uint32_t instances = 1;
  uint32_t slots = 1;
  /// Time the host's instances take to answer a bid (emulates a slow or
  /// distant host).
  double bid_delay_ms = 0;
  /// The worker node that runs this host (distributed deployments).
  std::string node;
  /// Round trip to the frontend, paid by every bid and execution in
  /// virtual time (negative: the cluster's `control_rtt_ms`).
  double control_rtt_ms = -1;
};

/// What one augur process runs.
enum class node_role : uint8_t {
  /// Everything, in one process (no `[[node]]`s).
  all,
  /// The frontend, the registry, the service actors and the HTTP API.
  control,
  /// The instances, gateways and probes of its hosts.
  worker,
};

/// The role's name in cluster files (`control`, `worker`; `all`).
const char* to_string(node_role x);

/// `[[node]]`: one process of a distributed deployment.
struct node_config {
  std::string name;
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  /// `control` or `worker`.
  node_role role = node_role::worker;
  /// This node's certificate and key (absolute; empty: `[tls]`'s).
  std::string cert;
  std::string key;
  /// Where the entry starts in the file (for messages about it).
  uint32_t line = 0;
};

/// `[tls]`: mutual TLS between nodes (CAF's OpenSSL module).
struct tls_config {
  /// The cluster's authority, and the certificate and key nodes present
  /// unless their `[[node]]` names their own (absolute paths).
  std::string ca;
  std::string cert;
  std::string key;
  /// Allows a node whose cluster address is not loopback to run without
  /// TLS: only when the file says so in so many words.
  bool insecure = false;
  uint32_t line = 0;

  bool enabled() const noexcept {
    return !ca.empty();
  }
};

/// An auxiliary service.
struct service_config {
  std::string name;
  std::string zone;
  /// `host:port` of the real service; empty: emulated only.
  std::string endpoint;
  /// `redis` (probed with PING) or `tcp` (probed by connecting).
  probe_kind kind = probe_kind::tcp;
};

/// A task that runs a real program (`augur serve`).
struct command_task_config {
  std::string name;
  std::vector<std::string> command;
  std::vector<std::string> hints;
  double timeout_ms = 10000;
  uint64_t memory_mb = 0;
  std::map<std::string, std::string> env;
  /// Run once on an instance before the task's first run there (its cold
  /// start), in the task's working directory; empty: none.
  std::vector<std::string> setup;
  /// Safe to run again elsewhere when its instance is lost mid-run.
  bool idempotent = false;
};

/// `[api]`: the HTTP API of `augur serve`.
struct api_config {
  std::string listen = "127.0.0.1:8080";
  uint64_t max_body_bytes = 1u << 20;
  /// A request must arrive whole, and an answer be taken, within this; a
  /// kept-alive connection idle this long is closed.
  double idle_timeout_ms = 30000;
  /// Open connections beyond this are answered 503 and closed.
  uint64_t max_connections = 512;
};

/// `[sandbox]`: how executions of process tasks are confined.
struct sandbox_config {
  /// Under bubblewrap (`true`, the default), or as the server itself
  /// (`mode = "none"`: only when asked in so many words).
  bool bwrap = true;
  /// Where `mode` was set (for messages about it).
  uint32_t line = 0;
  /// The user and group executions run as when the server runs as root.
  uint32_t uid = 65534;
  uint32_t gid = 65534;
};

/// `[state]`: what the control node keeps across restarts (SQLite).
struct state_config {
  /// The state file; empty: nothing is kept (a cluster parsed from text).
  /// A cluster file's default is `<its name>.state` beside it.
  std::string path;
  /// Invocation records are kept this long, and at most this many.
  double retention_s = 86400;
  uint64_t max_records = 100000;
  /// A code archive's size as uploaded (413 beyond), and unpacked.
  uint64_t max_code_bytes = 64u << 20;
  uint64_t max_unpacked_bytes = 256u << 20;
  /// Tasks one tenant may deploy.
  uint32_t max_tasks = 1000;
};

/// `[[tenant]]`: who may call the API, with which token, for which tasks.
struct tenant_config {
  std::string name;
  std::string token;
  /// Task names; `*` for all.
  std::vector<std::string> tasks;
};

/// A whole cluster as the TOML file describes it (see configs/README.md).
/// After loading, `links` holds one link for every host and service: those
/// the file lists, the rest from `[defaults]` by zone.
struct cluster_config {
  // [cluster]
  double threshold = 0.5;
  uint32_t candidates = 3;
  double probe_interval_ms = 100;
  placement_policy policy = placement_policy::predictive;
  uint32_t queue_capacity = 1024;
  double bid_deadline_ms = 5;
  double cold_start_ms = 50;
  uint32_t warm_capacity = 8;
  double profile_half_life = 20;
  double load_weight_ms = 1;
  double stale_half_life_ms = 1000;
  double stale_penalty_ms = 10;
  /// Throughput assumed for a channel before any transfer over it was
  /// measured (Mbit/s).
  double assumed_bandwidth_mbps = 10000;
  /// Most home instances per task (its load decides how many it uses), the
  /// time a task is expected to stay warm on one (weighs a cold start
  /// against the runs it serves), and whether a home warms a task up when
  /// its profile trips the threshold.
  uint32_t homes = 8;
  /// Round trip between the frontend and an instance in virtual time
  /// (hosts may override it).
  double control_rtt_ms = 0;
  double warm_horizon_s = 60;
  /// How long a negotiation won by a warm home places the task's next runs
  /// there without bids (0: every run above the threshold negotiates).
  double lease_ms = 1000;
  bool prewarm = true;
  uint64_t seed = 1;
  /// Distributed deployments: the secret a worker node presents to join,
  /// and the middleman's heartbeat and connection timeout.
  std::string secret;
  double heartbeat_ms = 100;
  double node_timeout_ms = 1000;
  // [trace]
  trace_settings trace;
  // [defaults]
  double same_zone_rtt_ms = 0.2;
  double cross_zone_rtt_ms = 2.0;
  /// Jitter (standard deviation) of a link not listed, as a fraction of its
  /// RTT. Off in cluster files; `augur simulate` defaults them to what
  /// real networks show (see `scenario_jitter_ratios`).
  double same_zone_jitter_ratio = 0;
  double cross_zone_jitter_ratio = 0;
  // [[host]], [[service]], [[link]]
  std::vector<host_config> hosts;
  std::vector<service_config> services;
  std::vector<link_spec> links;
  // [[task]] (process tasks), [api], [[tenant]]
  std::vector<command_task_config> tasks;
  api_config api;
  std::vector<tenant_config> tenants;
  // [state]
  state_config state;
  // [sandbox]
  sandbox_config sandbox;
  /// Files and directories holding the server's secrets (the cluster file
  /// itself when loaded from one): executions never see them.
  std::vector<std::string> private_paths;
  /// The file this configuration came from ("<string>" when parsed).
  std::string source = "<string>";
  // [[node]], [tls]
  std::vector<node_config> nodes;
  tls_config tls;

  /// The node named `name`, or nullptr.
  const node_config* node(const std::string& name) const;

  /// The control node, or nullptr (one process, no [[node]]s).
  const node_config* control() const;

  /// Total instances over all hosts.
  size_t instance_count() const;
};

/// A configuration that cannot be used. `what()` reads
/// `FILE:LINE: key 'KEY': PROBLEM`.
class config_error : public std::runtime_error {
public:
  config_error(std::string file, uint32_t line, std::string key,
               const std::string& problem);

  const std::string& file() const noexcept {
    return file_;
  }

  uint32_t line() const noexcept {
    return line_;
  }

  const std::string& key() const noexcept {
    return key_;
  }

private:
  std::string file_;
  uint32_t line_;
  std::string key_;
};

/// Parses a cluster from TOML text; `source` names it in errors. Throws
/// `config_error` for anything malformed, missing, unknown or out of range.
cluster_config parse_config(std::string_view text,
                            const std::string& source = "<string>");

/// Reads and parses a cluster file.
cluster_config load_config(const std::string& path);

} // namespace augur
