#include "augur/messages/wire.hpp"

namespace augur::wire {

envelope unpack_envelope(std::string_view bytes) {
  envelope env;
  try {
    env.handle = msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr,
                                 limit_for(bytes.size()));
  } catch (const std::exception& e) {
    throw wire_error(std::string{"not msgpack: "} + e.what());
  }
  auto& obj = env.handle.get();
  if (obj.type != msgpack::type::ARRAY || obj.via.array.size != 3)
    throw wire_error("not an envelope [tag, version, body]");
  try {
    obj.via.array.ptr[0].convert(env.tag);
    obj.via.array.ptr[1].convert(env.version);
  } catch (const msgpack::type_error&) {
    throw wire_error("envelope tag or version is not an integer");
  }
  env.body = &obj.via.array.ptr[2];
  return env;
}

} // namespace augur::wire
