#include "augur/actors/aux_service.hpp"

namespace augur {

aux_service_actor::behavior_type
aux_service(traced_pointer<aux_service_actor, aux_service_state> self,
            service_info info) {
  self->state.info = std::move(info);
  return {
    [=](caf::get_atom) {
      // Healthy until some host reports, then while some host reaches it.
      auto& st = self->state;
      st.info.healthy = st.reachable.empty();
      for (auto& [host, up] : st.reachable)
        st.info.healthy = st.info.healthy || up;
      return st.info;
    },
    [=](health_atom, const std::string& host, bool up) {
      self->state.reachable[host] = up;
    },
  };
}

} // namespace augur
