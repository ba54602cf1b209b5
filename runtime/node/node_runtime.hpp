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
  explicit node_runtime(cluster_config cfg,
                        clock_mode mode = clock_mode::virtual_time,
                        oracle_view oracle = {}, std::string node = "");

  node_runtime(node_runtime&&) noexcept;
  node_runtime& operator=(node_runtime&&) noexcept;
  ~node_runtime();

  // -- tasks and services ----------------------------------------------------

  /// Defines a task: its options (hints, modelled compute and cold start)
  /// and its handler, which reaches services through `ctx.call`.
  void define_task(const std::string& name, task_options options,
                   task_handler handler);

  /// Defines a task that runs a real program (real-time clusters whose
  /// services have endpoints): each execution is a child process, reaching
  /// the services through its instance's gateways.
  void define_command_task(const std::string& name, task_options options,
                           command_spec command);

  /// Gives a service an in-process behaviour (by default it echoes).
  void define_service(const std::string& name,
                      task_context::service_handler handler);

  // -- invocations -----------------------------------------------------------

  /// Invokes a task and waits for the answer.
  invoke_result invoke(const std::string& task,
                       const std::string& payload = "");

  /// Submits an invocation without waiting; see `wait` and `drain`.
  ticket submit(const std::string& task, const std::string& payload = "");

  /// Waits for a submitted invocation and returns its answer.
  invoke_result wait(ticket t);

  /// Waits for every submitted invocation; returns their answers in order
  /// of submission (and forgets them).
  std::vector<invoke_result> drain();

  /// Runs a task on one named instance, bypassing the frontend (debugging,
  /// and taking a slot behind the frontend's back).
  ticket execute_on(const std::string& instance, const std::string& task,
                    const std::string& payload = "");

  // -- the world -------------------------------------------------------------

  /// Changes the emulated link from `host` to `service` now.
  void set_link(const std::string& host, const std::string& service,
                std::chrono::duration<double, std::milli> rtt, double loss = 0,
                std::chrono::duration<double, std::milli> jitter = {});

  /// Makes `n` instances of `host` fail now, with their in-flight work
  /// (their executions end with an error); they leave the pool. Returns the
  /// names of the instances that failed.
  std::vector<std::string> fail_instances(const std::string& host, size_t n);

  /// The emulated network (the physical world of this cluster).
  std::shared_ptr<network_emulator> network() const;

  /// Lets time pass (virtual: runs everything due meanwhile; real: sleeps).
  void advance(std::chrono::duration<double, std::milli> d);

  /// Time since the cluster started, on the actors' clock.
  std::chrono::duration<double, std::milli> now() const;

  // -- observers -------------------------------------------------------------

  /// What the registry has learned about a task.
  task_profile profile(const std::string& task);

  /// The frontend's counters.
  frontend_status status();

  /// The channel table as the frontend sees it.
  std::vector<channel_sample> channels();

  /// One instance's state.
  instance_status instance(const std::string& name);

  /// One auxiliary service: where it is, and whether some host reaches it.
  service_info service(const std::string& name);

  /// Names of all instances, host by host.
  std::vector<std::string> instances() const;

  const cluster_config& config() const;

  /// Every message traced so far (`[trace] enabled = true`), in the order
  /// recorded: a unit test can assert on the exact message sequence of an
  /// invocation. Throws `std::logic_error` when tracing is off.
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

  /// Names of the defined tasks.
  std::vector<std::string> tasks() const;

  /// Whether `name` is a defined task.
  bool has_task(const std::string& name) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace augur
