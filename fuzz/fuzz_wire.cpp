// The wire decoder: any bytes, every message type. A damaged buffer must be
// a `wire_error`, never another exception, a crash or a huge allocation.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "augur/messages/protocol.hpp"
#include "augur/messages/wire.hpp"

namespace {

template <class T>
struct tag_of {
  using type = T;
};

template <class... Ts>
void decode_all(std::string_view bytes) {
  auto one = [&](auto tag) {
    using T = typename decltype(tag)::type;
    try {
      auto x = augur::wire::decode<T>(bytes);
      // What decodes encodes again, to the same value.
      auto again = augur::wire::encode(x);
      if (augur::wire::encode(augur::wire::decode<T>(again)) != again)
        __builtin_trap();
    } catch (const augur::wire::wire_error&) {
      // The expected answer to damage.
    }
  };
  (one(tag_of<Ts>{}), ...);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  try {
    augur::wire::peek_tag(bytes);
  } catch (const augur::wire::wire_error&) {
  }
  using namespace augur;
  decode_all<invoke_request, bid, placement_reason, invoke_result, bid_request,
             execute_request, service_use, observation, service_likelihood,
             task_profile, task_spec, channel_sample, link_spec, instance_info,
             service_info, instance_status, frontend_status, process_outcome,
             task_definition>(bytes);
  return 0;
}
