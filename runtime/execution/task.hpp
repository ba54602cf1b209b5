#pragma once

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/model/network_emulator.hpp"

namespace augur {

/// Thrown from inside a task when a service call cannot complete; the
/// execution ends with `outcome::failed` and this message.
class task_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// How a task is declared.
struct task_options {
  /// Services the task declares it uses: they seed its profile.
  std::vector<std::string> hints;
  /// Modelled compute time of one execution, in milliseconds.
  double compute_ms = 0;
  /// Modelled cold start on an instance that does not keep it warm; a
  /// negative value takes the cluster's default.
  double cold_start_ms = -1;
};

/// What an execution sees: the instance it runs on, and its channels to the
/// auxiliary services. Every call goes through the instance's channel and is
/// counted; the counts are the observation that profiles learn from.
class task_context {
public:
  using service_handler = std::function<std::string(const std::string&)>;

  task_context(std::string host, std::string instance,
               network_emulator& network,
               const std::map<std::string, service_handler>& services);

  /// Sends `request` to `service` and returns its response. Costs one round
  /// trip over this host's link to the service (with retransmissions when
  /// the link loses packets) and the time the bytes take at the link's
  /// bandwidth. Throws `task_error` for an unknown service or
  /// when every attempt was lost.
  std::string call(const std::string& service, const std::string& request);

  /// Spends `ms` milliseconds of modelled compute.
  void compute(double ms) {
    compute_ms_ += ms;
  }

  const std::string& host() const noexcept {
    return host_;
  }

  const std::string& instance() const noexcept {
    return instance_;
  }

  /// What the execution did with each service so far.
  const std::vector<service_use>& used() const noexcept {
    return used_;
  }

  /// A transfer one call made: `bytes` to or from `service` that took `ms`
  /// at the link's bandwidth, starting `at_ms` into the execution (its
  /// compute and service time before them).
  struct transfer {
    std::string service;
    double at_ms = 0;
    uint64_t bytes = 0;
    double ms = 0;
  };

  /// The transfers of the execution so far, in order: the first
  /// `max_transfers` (the first of a channel tell its throughput).
  static constexpr size_t max_transfers = 16;
  const std::vector<transfer>& transfers() const noexcept {
    return transfers_;
  }

  /// Time spent in service calls so far.
  double aux_ms() const noexcept {
    return aux_ms_;
  }

  double compute_ms() const noexcept {
    return compute_ms_;
  }

private:
  std::string host_;
  std::string instance_;
  network_emulator& network_;
  const std::map<std::string, service_handler>& services_;
  std::vector<service_use> used_;
  std::vector<transfer> transfers_;
  double aux_ms_ = 0;
  double compute_ms_ = 0;
};

/// A task that runs a real program: each execution is a child process with
/// the payload on stdin and the result from stdout (see `run_process`).
struct command_spec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  double timeout_ms = 10000;
  uint64_t memory_mb = 0;
  /// Run once per instance before the first execution there (cold start).
  std::vector<std::string> setup;
  /// A deployed task's files: copied into the working directory of every
  /// instance at its cold start of this version (empty: none).
  std::string code_dir;
};

/// Unpacks a code archive's bytes into a new directory `dir`; returns the
/// archive's format, throws `std::exception` on a bad archive. A worker
/// node gets it from its caller (`augur node` passes libarchive's, which
/// the library behind `<augur/embedded.hpp>` does not link).
using code_unpacker = std::function<std::string(const std::string& bytes,
                                                const std::string& dir)>;

/// A directory name for a task: letters and digits as they are, every other
/// byte as `_XX` in hex, so that no two task names (`alice/x`, `alice_x`)
/// share a directory.
std::string task_directory_name(const std::string& task);

/// The body of a task: gets the context and the payload, returns the output.
using task_handler
  = std::function<std::string(task_context&, const std::string&)>;

/// The tasks and in-process services of one cluster, shared by its
/// instances. Definitions may be added while the cluster runs.
class task_catalog {
public:
  struct entry {
    task_options options;
    /// In-process tasks.
    task_handler handler;
    /// Process tasks (null for in-process ones).
    std::shared_ptr<const command_spec> command;
    /// Grows with every redeployment of the task: an instance warm with
    /// another version treats this one as cold.
    uint64_t version = 0;
  };

  void define(const std::string& name, task_options options,
              task_handler handler);

  /// Defines a task that runs a program; `version` tells one deployment of
  /// it from the next.
  void define_command(const std::string& name, task_options options,
                      command_spec command, uint64_t version = 0);

  /// Forgets a task: executions that hold its entry finish, new ones find
  /// nothing. Returns whether it was defined.
  bool remove(const std::string& name);

  /// Names of all tasks.
  std::vector<std::string> names() const;

  /// Looks a task up; returns nullptr when unknown.
  std::shared_ptr<const entry> find(const std::string& name) const;

  /// Sets the in-process behaviour of a service: `handler` turns a request
  /// into a response. A service without a handler echoes the request.
  void define_service(const std::string& name,
                      task_context::service_handler handler);

  /// Registers a service by name (echoing until a handler is defined).
  void add_service(const std::string& name);

  using service_map = std::map<std::string, task_context::service_handler>;

  /// A snapshot of the services, safe to use while others define more: a
  /// change replaces the map, so readers share it without copying.
  std::shared_ptr<const service_map> services() const;

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, std::shared_ptr<const entry>> tasks_;
  std::shared_ptr<const service_map> services_
    = std::make_shared<const service_map>();
};

} // namespace augur
