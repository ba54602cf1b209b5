#include "augur/messages/protocol.hpp"

#include <caf/actor_system_config.hpp>

#include "augur/messages/errors.hpp"
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

const char* to_string(placement_route x) {
  switch (x) {
    case placement_route::none:
      return "none";
    case placement_route::negotiated:
      return "negotiated";
    case placement_route::fast_path:
      return "fast-path";
    case placement_route::fallback:
      return "fallback";
    case placement_route::least_loaded:
      return "least-loaded";
    case placement_route::random:
      return "random";
    case placement_route::round_robin:
      return "round-robin";
    case placement_route::hash_home:
      return "hash-home";
    case placement_route::oracle:
      return "oracle";
    case placement_route::hint_zone:
      return "hint-zone";
  }
  return "invalid";
}

std::optional<placement_route> parse_placement_route(std::string_view name) {
  for (auto i = 0; i <= static_cast<int>(placement_route::hint_zone); ++i) {
    auto x = static_cast<placement_route>(i);
    if (name == to_string(x))
      return x;
  }
  return std::nullopt;
}

bool operator==(placement_route x, std::string_view name) {
  return name == to_string(x);
}

bool operator!=(placement_route x, std::string_view name) {
  return !(x == name);
}

const char* to_string(ec x) {
  switch (x) {
    case ec::wrong_secret:
      return "wrong_secret";
    case ec::unknown_task:
      return "unknown_task";
    case ec::unknown_instance:
      return "unknown_instance";
    case ec::not_installed:
      return "not_installed";
  }
  return "invalid";
}

caf::error make_error(ec x, std::string context) {
  if (context.empty())
    return caf::error{static_cast<uint8_t>(x), error_category};
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::move(context))};
}

void register_messages(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::augur>();
  // augur's errors render as "wrong_secret: <context>".
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& context) {
    std::string result = to_string(static_cast<ec>(code));
    if (context.match_elements<std::string>())
      result += ": " + context.get_as<std::string>(0);
    return result;
  });
  // Handles sent inside messages (joins and subscriptions).
  cfg.add_message_type<instance_actor>("augur::instance_actor");
  cfg.add_message_type<profile_listener_actor>("augur::profile_listener_actor");
  cfg.add_message_type<channel_listener_actor>("augur::channel_listener_actor");
  cfg.add_message_type<frontend_actor>("augur::frontend_actor");
  cfg.add_message_type<profile_registry_actor>("augur::profile_registry_actor");
  cfg.add_message_type<gate_actor>("augur::gate_actor");
  cfg.add_message_type<node_agent_actor>("augur::node_agent_actor");
  cfg.add_message_type<deploy_hub_actor>("augur::deploy_hub_actor");
}

} // namespace augur
