#pragma once

// The msgpack encoding of augur's messages, for traces, files and anything
// outside CAF. Every message is an envelope, a msgpack array
//
//   [ tag, version, body ]
//
// where `tag` is the message's CAF type ID (stable: the ID block is only
// ever appended to), `version` is `wire::version`, and `body` is the
// message's fields, in the order its `inspect` lists them, as a msgpack
// array (nested structs and vectors likewise as arrays, enums as their
// integer value). The field lists come from the same `inspect` functions
// that CAF uses, so the encoding cannot drift from the protocol.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/meta/annotation.hpp>
#include <caf/type_id.hpp>
#include <msgpack.hpp>

#include "augur/messages/protocol.hpp"

namespace augur::wire {

/// The version of the encoding; a reader refuses any other. 2: bids carry
/// every service and the task's homes, a placement reason is an enum, the
/// frontend's status counts pre-warms and home placements. 3: links have a
/// bandwidth, channel samples a throughput, a service's use the bytes and
/// time of its transfers, a profile the bytes received. 4: a bid carries the
/// control round trip the frontend measured to its instance. 5: a result
/// carries the time its run waited for a warm-up. 6: the frontend's status
/// counts placements by lease.
constexpr uint32_t version = 6;

/// A buffer that does not hold the message expected, or is damaged.
class wire_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The last value of each enum carried on the wire: a decoded value beyond
/// it is damage, never a value the code does not know. A new enum in a
/// message does not compile until it is listed here.
template <class T>
struct enum_last;

template <>
struct enum_last<outcome> {
  static constexpr auto value = outcome::refused;
};

template <>
struct enum_last<placement_route> {
  static constexpr auto value = placement_route::hint_zone;
};

namespace detail {

template <class T>
struct is_vector : std::false_type {};

template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
constexpr size_t field_count() {
  return caf::meta::is_annotation<std::decay_t<T>>::value ? 0 : 1;
}

/// Walks a message through its `inspect` and packs each field.
class packer_inspector {
public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;

  explicit packer_inspector(msgpack::packer<msgpack::sbuffer>& pk) : pk_(pk) {
    // nop
  }

  template <class... Ts>
  void operator()(Ts&&... xs) {
    pk_.pack_array(static_cast<uint32_t>((field_count<Ts>() + ... + 0)));
    (apply(xs), ...);
  }

  template <class T>
  void apply(const T& x) {
    if constexpr (caf::meta::is_annotation<T>::value) {
      // Annotations (type names) carry no data.
    } else if constexpr (std::is_same_v<T, bool> || std::is_arithmetic_v<T>) {
      pk_.pack(x);
    } else if constexpr (std::is_enum_v<T>) {
      pk_.pack(static_cast<std::underlying_type_t<T>>(x));
    } else if constexpr (std::is_same_v<T, std::string>) {
      pk_.pack(x);
    } else if constexpr (is_vector<T>::value) {
      pk_.pack_array(static_cast<uint32_t>(x.size()));
      for (auto& y : x)
        apply(y);
    } else {
      inspect(*this, const_cast<T&>(x));
    }
  }

private:
  msgpack::packer<msgpack::sbuffer>& pk_;
};

/// Walks a message through its `inspect` and fills each field from a
/// msgpack array.
class unpacker_inspector {
public:
  using result_type = void;
  static constexpr bool reads_state = false;
  static constexpr bool writes_state = true;

  explicit unpacker_inspector(const msgpack::object& obj) : obj_(&obj) {
    // nop
  }

  template <class... Ts>
  void operator()(Ts&&... xs) {
    constexpr auto n = (field_count<Ts>() + ... + 0);
    if (obj_->type != msgpack::type::ARRAY || obj_->via.array.size != n)
      throw wire_error("expected an array of " + std::to_string(n) + " fields");
    size_t pos = 0;
    (apply_at(xs, pos), ...);
  }

private:
  template <class T>
  void apply_at(T& x, size_t& pos) {
    if constexpr (!caf::meta::is_annotation<std::decay_t<T>>::value)
      read(obj_->via.array.ptr[pos++], x);
  }

  template <class T>
  static void read(const msgpack::object& o, T& x) {
    if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> tmp;
      read(o, tmp);
      if (tmp > static_cast<std::underlying_type_t<T>>(enum_last<T>::value))
        throw wire_error("enum value " + std::to_string(tmp) + " out of range");
      x = static_cast<T>(tmp);
    } else if constexpr (
      std::is_same_v<
        T, bool> || std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
      try {
        o.convert(x);
      } catch (const msgpack::type_error&) {
        throw wire_error("field of the wrong type");
      }
      if constexpr (std::is_floating_point_v<T>) {
        // No quantity of augur's comes near 2^63; msgpack-c cannot even
        // pack 2^64 without undefined behaviour (found by fuzz/fuzz_wire).
        if (x >= 0x1p63 || x <= -0x1p63)
          throw wire_error("number out of range");
      }
    } else if constexpr (is_vector<T>::value) {
      if (o.type != msgpack::type::ARRAY)
        throw wire_error("expected an array");
      x.resize(o.via.array.size);
      for (size_t i = 0; i < x.size(); ++i)
        read(o.via.array.ptr[i], x[i]);
    } else {
      unpacker_inspector nested{o};
      inspect(nested, x);
    }
  }

  const msgpack::object* obj_;
};

} // namespace detail

/// Encodes `x` as an envelope.
template <class T>
std::string encode(const T& x) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  pk.pack_array(3);
  pk.pack(static_cast<uint32_t>(caf::type_id<T>::value));
  pk.pack(version);
  detail::packer_inspector f{pk};
  f.apply(x);
  return std::string{buf.data(), buf.size()};
}

/// A buffer unpacked as an envelope: its tag, version and body.
struct envelope {
  msgpack::object_handle handle;
  uint32_t tag = 0;
  uint32_t version = 0;
  const msgpack::object* body = nullptr;
};

/// Limits for unpacking `bytes` bytes of msgpack: no count beyond the bytes
/// there are (each element takes one at least), nesting at most 64 deep, so
/// that a damaged length is an error, never an allocation of gigabytes.
inline msgpack::unpack_limit limit_for(std::size_t bytes) {
  return {bytes, bytes, bytes, bytes, bytes, 64};
}

/// Unpacks `bytes` as an envelope (throws `wire_error` when it is none).
envelope unpack_envelope(std::string_view bytes);

/// The tag of an encoded envelope (throws `wire_error` if it is none).
inline uint32_t peek_tag(std::string_view bytes) {
  return unpack_envelope(bytes).tag;
}

/// Decodes an envelope holding a `T`; throws `wire_error` when the buffer is
/// damaged, holds another message, or comes from another version.
template <class T>
T decode(std::string_view bytes) {
  auto env = unpack_envelope(bytes);
  if (env.tag != caf::type_id<T>::value)
    throw wire_error(std::string{"expected "} + caf::type_name<T>::value
                     + ", got tag " + std::to_string(env.tag));
  if (env.version != version)
    throw wire_error("unsupported version " + std::to_string(env.version));
  T result;
  detail::unpacker_inspector f{*env.body};
  inspect(f, result);
  return result;
}

} // namespace augur::wire
