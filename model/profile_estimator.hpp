#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "augur/messages/protocol.hpp"

namespace augur {

/// What a profile estimator learned about one task, as it is kept across
/// restarts: the decayed evidence per service (priors come from the hints
/// the task is defined with).
struct profile_snapshot {
  struct service {
    std::string name;
    double successes = 0;
    double failures = 0;
    double round_trips = 0;
    double bytes_out = 0;
    double bytes_in = 0;
  };
  std::string task;
  uint64_t observations = 0;
  std::vector<service> services;
};

/// Learns, per task and auxiliary service, the probability that an execution
/// of the task uses the service.
///
/// Each (task, service) pair keeps a Beta posterior: a prior Beta(a0, b0) plus
/// decayed evidence. A declared hint sets the prior's mean to `hinted_mean`,
/// no hint to `unhinted_mean`; both priors weigh `prior_weight` observations.
/// Every observation first multiplies the pair's evidence by 2^(-1/half_life)
/// and then adds one success (the execution used the service) or one failure,
/// so the estimate follows a change of behaviour within about `half_life`
/// observations while the prior never decays. The likelihood is the posterior
/// mean (a0 + successes) / (a0 + b0 + successes + failures).
class profile_estimator {
public:
  struct settings {
    /// Observations after which old evidence weighs half.
    double half_life = 20;
    double prior_weight = 2;
    double hinted_mean = 0.9;
    double unhinted_mean = 0.05;
  };

  profile_estimator() = default;

  explicit profile_estimator(settings cfg) : cfg_(cfg) {
    // nop
  }

  /// Adds a service that every task may use.
  void add_service(const std::string& name);

  /// Defines `task` (or redefines its hints, keeping its evidence);
  /// `idempotent` tasks may run again elsewhere after losing their instance.
  void define(const std::string& task, const std::vector<std::string>& hints,
              bool idempotent = false);

  bool known(const std::string& task) const {
    return tasks_.count(task) != 0;
  }

  /// Learns from one execution of `task`. Returns false for an unknown task.
  bool observe(const std::string& task, const std::vector<service_use>& used);

  /// The current profile of `task` (`known == false` if undefined).
  task_profile profile(const std::string& task) const;

  /// The evidence learned about `task` (no services if undefined).
  profile_snapshot snapshot(const std::string& task) const;

  /// Puts back evidence learned before (a restart) into a defined task;
  /// returns false when the task is not defined.
  bool restore(const profile_snapshot& x);

  /// Forgets a task and all it learned; returns whether it was defined.
  bool forget(const std::string& task);

  /// The likelihood that `task` uses `service` (0 when either is unknown).
  double likelihood(const std::string& task, const std::string& service) const;

  const settings& config() const noexcept {
    return cfg_;
  }

private:
  struct estimate {
    bool hinted = false;
    double successes = 0;
    double failures = 0;
    double round_trips = 0;
    double bytes_out = 0;
    double bytes_in = 0;
  };

  struct task_state {
    bool idempotent = false;
    std::map<std::string, estimate> services;
    uint64_t observations = 0;
    uint64_t version = 0;
  };

  double mean(const estimate& x) const;

  settings cfg_;
  std::vector<std::string> services_;
  std::map<std::string, task_state> tasks_;
  /// Profile versions never repeat, not even for a task forgotten and
  /// defined again.
  uint64_t versions_ = 0;
};

/// True when some likelihood of `now` differs from `before` by at least
/// `delta`, a service appeared, or the bytes a service moves changed by
/// half: worth pushing to the frontends.
bool profile_moved(const task_profile& before, const task_profile& now,
                   double delta);

} // namespace augur
