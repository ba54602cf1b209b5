#pragma once

/// The embedded augur cluster, for users' unit tests:
///
///   #include <augur/embedded.hpp>
///   auto cluster = augur::embedded_cluster::from_toml(R"(...)");
///   cluster.define_task("orders", {{"db"}}, handler);
///   auto r = cluster.invoke("orders", "{}");
///
/// The real actors of augur in one process, over an emulated network, on
/// CAF's deterministic test coordinator in virtual time (or in real time on
/// request). This header shows what a test needs and nothing of the node
/// runtime behind it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/runtime/execution/task.hpp"
#include "augur/runtime/tracing/trace_format.hpp"

namespace augur {

class node_runtime;

/// The answer to one invocation, as the embedded cluster hands it back.
struct invocation_result : invoke_result {
  /// From admission at the frontend to the answer.
  std::chrono::duration<double, std::milli> latency{0};

  bool ok() const noexcept {
    return status == outcome::ok;
  }
};

/// A whole augur cluster inside one process: a frontend, a profile registry,
/// one actor per auxiliary service, the instances of every host and one
/// channel probe per host.
///
/// In virtual time nothing happens between calls: `invoke` runs the cluster
/// until the answer is there (jumping over idle time), and `advance` moves
/// the clock. Errors in what a test passes (an unknown instance, service or
/// link) throw `std::invalid_argument`; a bad configuration throws
/// `std::runtime_error` naming the line and key.
class embedded_cluster {
public:
  enum class clock_mode { virtual_time, real_time };

  /// A submitted invocation, to wait for later.
  using ticket = uint64_t;

  /// Builds a cluster from the TOML text of a cluster file
  /// (`configs/README.md`).
  static embedded_cluster from_toml(std::string_view text,
                                    clock_mode mode = clock_mode::virtual_time);

  /// Builds a cluster from a cluster file.
  static embedded_cluster from_file(const std::string& path,
                                    clock_mode mode = clock_mode::virtual_time);

  embedded_cluster(embedded_cluster&&) noexcept;
  embedded_cluster& operator=(embedded_cluster&&) noexcept;
  ~embedded_cluster();

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
  invocation_result invoke(const std::string& task,
                           const std::string& payload = "");

  /// Submits an invocation without waiting; see `wait` and `drain`. Answers
  /// are kept until taken, at most `max_unclaimed` of them: past that,
  /// `submit` throws `std::length_error` (take some with `wait` or `drain`).
  static constexpr size_t max_unclaimed = 100000;
  ticket submit(const std::string& task, const std::string& payload = "");

  /// Waits for a submitted invocation and returns its answer.
  invocation_result wait(ticket t);

  /// Waits for every submitted invocation; returns their answers in order
  /// of submission (and forgets them).
  std::vector<invocation_result> drain();

  /// Runs a task on one named instance, bypassing the frontend (taking a
  /// slot behind the frontend's back).
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

  /// Every message traced so far (`[trace] enabled = true`), in the order
  /// recorded: a unit test can assert on the exact message sequence of an
  /// invocation. Throws `std::logic_error` when tracing is off.
  std::vector<trace_record> trace_records();

private:
  explicit embedded_cluster(std::unique_ptr<node_runtime> runtime);

  std::unique_ptr<node_runtime> runtime_;
};

} // namespace augur
