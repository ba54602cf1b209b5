#pragma once

#include <map>
#include <string>

#include "augur/messages/interfaces.hpp"
#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

/// State of an auxiliary service actor: what the cluster knows of one
/// service (name, zone, endpoint) and whether it is healthy.
struct aux_service_state {
  service_info info;
  /// Reachability reported per host.
  std::map<std::string, bool> reachable;
  static inline const char* name = "aux_service";
};

/// One auxiliary service.
aux_service_actor::behavior_type
aux_service(traced_pointer<aux_service_actor, aux_service_state> self,
            service_info info);

} // namespace augur
