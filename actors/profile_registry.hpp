#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "augur/actors/listener_set.hpp"
#include "augur/messages/interfaces.hpp"
#include "augur/model/profile_estimator.hpp"
#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

/// How the registry learns and when it pushes.
struct profile_registry_settings {
  profile_estimator::settings estimator;
  /// Services every task may use.
  std::vector<std::string> services;
  /// A profile is pushed to the frontends when some likelihood moved by at
  /// least this much since the last push.
  double push_delta = 0.01;
  /// Evidence learned before a restart: a task gets its own back when it is
  /// defined.
  std::vector<profile_snapshot> restored;
  /// Called with a task's evidence whenever it moved, and with nullptr when
  /// the task is forgotten (a state store keeps them; on the actor's
  /// thread: it must only hand them on).
  std::function<void(const std::string&, const profile_snapshot*)> persist;
};

struct profile_registry_state {
  profile_estimator estimator;
  double push_delta = 0.01;
  listener_set<profile_listener_actor> listeners;
  /// What the frontends last received, per task.
  std::map<std::string, task_profile> pushed;
  std::map<std::string, profile_snapshot> restored;
  std::function<void(const std::string&, const profile_snapshot*)> persist;
  static inline const char* name = "profile_registry";
};

/// The profile registry: learns from observations, merges declared hints,
/// pushes profiles to frontends when an estimate moves.
profile_registry_actor::behavior_type profile_registry(
  traced_pointer<profile_registry_actor, profile_registry_state> self,
  profile_registry_settings cfg);

} // namespace augur
