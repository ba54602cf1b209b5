#include "augur/actors/aux_service.hpp"

namespace augur {

aux_service_actor::behavior_type
aux_service(aux_service_actor::stateful_pointer<aux_service_state> self,
            service_info info) {
  self->state.info = std::move(info);
  return {
    [=](caf::get_atom) { return self->state.info; },
    [=](health_atom, bool healthy) { self->state.info.healthy = healthy; },
  };
}

} // namespace augur
