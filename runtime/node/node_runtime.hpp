#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/fwd.hpp>

namespace caf::io::network {
class test_multiplexer;
} // namespace caf::io::network

#include "augur/messages/interfaces.hpp"
#include "augur/messages/protocol.hpp"
#include "augur/model/placement.hpp"
#include "augur/runtime/execution/task.hpp"
#include "augur/runtime/node/config.hpp"
#include "augur/runtime/tracing/trace_format.hpp"

namespace augur {

class state_writer;

/// The runtime of one augur process: it assembles the actors the process
/// runs and drives them. `augur serve`, `augur node`, `augur simulate`, the
/// demo and the embedded cluster of users' tests (`<augur/embedded.hpp>`, a
/// thin facade over this class) all run on it.
///
/// All in one process (no `[[node]]`s, or no node name) it runs a frontend,
/// a profile registry, one actor per auxiliary service, the instances of
/// every host and one channel probe per host, over an emulated network. As a
/// `control` node it runs the frontend, the registry and the service actors
/// and publishes a gate; as a `worker` node the instances and probes of its
/// hosts, joined to the control node with backoff.
///
/// By default it runs on CAF's deterministic test coordinator in virtual
/// time: nothing happens between calls, `invoke` runs the cluster until the
/// answer is there (jumping over idle time), and `advance` moves the clock.
/// The same cluster can run in real time on CAF's ordinary scheduler.
class node_runtime {
public:
  enum class clock_mode { virtual_time, real_time };

  /// A submitted invocation, to wait for later.
  using ticket = uint64_t;

  /// Answers kept until taken, at most (see `embedded_cluster::submit`).
  static constexpr size_t max_unclaimed = 100000;

  /// Builds a cluster from TOML text (throws `config_error`).
  static node_runtime from_toml(std::string_view text,
                                clock_mode mode = clock_mode::virtual_time);

  /// Builds a cluster from a TOML file (throws `config_error`).
  static node_runtime from_file(const std::string& path,
                                clock_mode mode = clock_mode::virtual_time);

  /// Builds a cluster; `oracle` is what the `oracle` policy knows (only a
  /// simulation can tell it).
  ///
  /// With `[[node]]`s in `cfg` and a `node` name, it is one node of a
  /// distributed deployment on CAF's middleman: the `control` node runs the
  /// frontend, the registry and the service actors and publishes a gate on
  /// its port; a `worker` node runs the instances and probes of its hosts and
  /// joins the control node (presenting `[cluster] secret`), again and again
  /// with backoff whenever it loses it.
  ///
  /// A worker node unpacks the code of tasks deployed at run time with
  /// `unpack` (none: it runs only tasks without code).
  explicit node_runtime(cluster_config cfg,
                        clock_mode mode = clock_mode::virtual_time,
                        oracle_view oracle = {}, std::string node = "",
                        code_unpacker unpack = {});

  node_runtime(node_runtime&&) noexcept;
  node_runtime& operator=(node_runtime&&) noexcept;
  ~node_runtime();

  // The calls below mirror `embedded_cluster` (<augur/embedded.hpp>), which
  // documents them; here answers are the protocol's `invoke_result`.

  // -- tasks and services ----------------------------------------------------

  void define_task(const std::string& name, task_options options,
                   task_handler handler);

  /// Defines (or redefines, with a new `version`) a task that runs a
  /// program; `idempotent` ones may run again after losing their instance.
  /// On a control node every worker node installs it too, its code from
  /// the archive at `code_archive` (empty: none), before this returns
  /// (throws `std::runtime_error` when a worker could not).
  void define_command_task(const std::string& name, task_options options,
                           command_spec command, uint64_t version = 0,
                           bool idempotent = false,
                           const std::string& code_archive = {});

  /// Removes a task: running executions finish, new invocations find no
  /// task, its profile is forgotten (on every worker node too). Returns
  /// whether it was defined.
  bool remove_task(const std::string& name);

  void define_service(const std::string& name,
                      task_context::service_handler handler);

  // -- invocations -----------------------------------------------------------

  invoke_result invoke(const std::string& task,
                       const std::string& payload = "");

  ticket submit(const std::string& task, const std::string& payload = "");

  invoke_result wait(ticket t);

  std::vector<invoke_result> drain();

  ticket execute_on(const std::string& instance, const std::string& task,
                    const std::string& payload = "");

  // -- the world -------------------------------------------------------------

  void set_link(const std::string& host, const std::string& service,
                std::chrono::duration<double, std::milli> rtt, double loss = 0,
                std::chrono::duration<double, std::milli> jitter = {});

  std::vector<std::string> fail_instances(const std::string& host, size_t n);

  /// The emulated network (the physical world of this cluster).
  std::shared_ptr<network_emulator> network() const;

  void advance(std::chrono::duration<double, std::milli> d);

  std::chrono::duration<double, std::milli> now() const;

  // -- observers -------------------------------------------------------------

  task_profile profile(const std::string& task);

  frontend_status status();

  std::vector<channel_sample> channels();

  instance_status instance(const std::string& name);

  service_info service(const std::string& name);

  std::vector<std::string> instances() const;

  const cluster_config& config() const;

  std::vector<trace_record> trace_records();

  /// `all` (one process), `control` or `worker`.
  node_role role() const;

  /// Worker node: whether it is joined to the control node now, and how
  /// many times it joined.
  bool joined() const;
  uint64_t joins() const;

  /// The latest error that no caller waited for (a refused join, a gate
  /// that could not be published), or empty; also logged in real time.
  std::string last_error() const;

  /// Control node: the port its gate is published on.
  uint16_t cluster_port() const;

  // -- deterministic nodes ---------------------------------------------------
  //
  // A control and a worker node in virtual time, in one process, connected
  // by CAF's test multiplexer instead of sockets: the test wires the
  // multiplexers, calls `publish` and `join`, and steps both nodes.

  /// The node's test multiplexer (virtual-time nodes only, else nullptr).
  caf::io::network::test_multiplexer* test_network();

  /// Control node: publishes the gate on `port` (needs an acceptor there).
  void publish(uint16_t port);

  /// Worker node: joins the control node (needs a prepared connection).
  void join();

  /// Runs everything due now and moves data through the test network;
  /// false when nothing happened.
  bool step();

  /// Fires the next pending timeout (virtual time); false when none.
  bool trigger_timeout();

  /// The answer to `t` if it is there, without running anything.
  std::optional<invoke_result> poll(ticket t);

  /// The actor system (for advanced tests).
  caf::actor_system& system();

  /// The frontend, for callers that talk to it directly (benchmarks, other
  /// actors): send it an `invoke_request`, get an `invoke_result`.
  frontend_actor frontend() const;

  /// The profile registry and the live instances, for callers that query
  /// them directly (the HTTP API).
  profile_registry_actor registry() const;
  std::vector<instance_actor> instance_handles() const;

  /// What the node keeps across restarts: a real-time control (or
  /// all-in-one) node has a state writer over `[state] path` (in memory
  /// without one); others have none (nullptr).
  state_writer* state() const;

  /// Where deployed tasks' code is unpacked (empty: no real executions).
  std::string code_root() const;

  /// Names of the defined tasks.
  std::vector<std::string> tasks() const;

  /// Whether `name` is a defined task.
  bool has_task(const std::string& name) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace augur
