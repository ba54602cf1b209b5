#include "augur/messages/wire.hpp"

namespace augur::wire {

uint32_t peek_tag(std::string_view bytes) {
  msgpack::object_handle oh;
  try {
    oh = msgpack::unpack(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    throw wire_error(std::string{"not msgpack: "} + e.what());
  }
  auto& env = oh.get();
  if (env.type != msgpack::type::ARRAY || env.via.array.size != 3
      || env.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER)
    throw wire_error("not an envelope [tag, version, body]");
  return env.via.array.ptr[0].as<uint32_t>();
}

} // namespace augur::wire
