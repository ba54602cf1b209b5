#include "augur/messages/protocol.hpp"

#include <caf/actor_system_config.hpp>

#include "augur/messages/interfaces.hpp"

namespace augur {

const char* to_string(outcome x) {
  switch (x) {
    case outcome::ok:
      return "ok";
    case outcome::failed:
      return "failed";
    case outcome::rejected:
      return "rejected";
    case outcome::unknown_task:
      return "unknown_task";
    case outcome::refused:
      return "refused";
  }
  return "invalid";
}

void register_messages(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::augur>();
  // Handles sent inside messages (joins and subscriptions).
  cfg.add_message_type<instance_actor>("augur::instance_actor");
  cfg.add_message_type<profile_listener_actor>("augur::profile_listener_actor");
  cfg.add_message_type<channel_listener_actor>("augur::channel_listener_actor");
  cfg.add_message_type<frontend_actor>("augur::frontend_actor");
  cfg.add_message_type<profile_registry_actor>("augur::profile_registry_actor");
  cfg.add_message_type<gate_actor>("augur::gate_actor");
}

} // namespace augur
