#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>

#include "augur/actors/listener_set.hpp"
#include "augur/messages/interfaces.hpp"
#include "augur/messages/wire.hpp"

using namespace augur;

TEST_CASE("wire: every message round-trips through msgpack") {
  invoke_result r;
  r.invocation = 42;
  r.task = "orders";
  r.status = outcome::failed;
  r.error = "boom";
  r.output = std::string{"\0binary\xff", 8};
  r.host = "near";
  r.instance = "near/0";
  r.reason.policy = placement_route::negotiated;
  r.reason.likelihood = 0.75;
  r.reason.service = "db";
  r.reason.channel_ms = 1.5;
  bid b;
  b.invocation = 42;
  b.instance = "near/0";
  b.accept = true;
  b.expected_ms = 3.25;
  r.reason.bids = {b, b};
  r.latency_ms = 12.5;
  r.cold_start = true;
  r.warmup_ms = 150;
  auto bytes = wire::encode(r);
  CHECK(wire::peek_tag(bytes) == caf::type_id<invoke_result>::value);
  auto back = wire::decode<invoke_result>(bytes);
  CHECK(back.invocation == 42);
  CHECK(back.status == outcome::failed);
  CHECK(back.output == r.output);
  CHECK(back.reason.bids.size() == 2);
  CHECK(back.reason.bids[1].expected_ms == 3.25);
  CHECK(back.reason.bids[1].accept);
  CHECK(back.cold_start);
  CHECK(back.warmup_ms == 150);
  CHECK(back.latency_ms == 12.5);

  observation o{7,
                "t",
                "h",
                "h/0",
                {service_use{"db", 3, 100, 200, 4.5, 2, 1.25, 65536, 8.5}}};
  auto o2 = wire::decode<observation>(wire::encode(o));
  REQUIRE(o2.used.size() == 1);
  CHECK(o2.used[0].round_trips == 3);
  CHECK(o2.used[0].bytes_in == 200);
  CHECK(o2.used[0].connections == 2);
  CHECK(o2.used[0].first_response_ms == 1.25);
  CHECK(o2.used[0].transfer_bytes == 65536);
  CHECK(o2.used[0].transfer_ms == 8.5);

  task_profile p;
  p.task = "t";
  p.known = true;
  p.services = {service_likelihood{"db", 0.8, 2, 30, 4096, 5, true, true}};
  auto p2 = wire::decode<task_profile>(wire::encode(p));
  CHECK(p2.known);
  CHECK(p2.services.at(0).likelihood == 0.8);
  CHECK(p2.services.at(0).hinted);
  CHECK(p2.services.at(0).bytes_in == 4096);

  channel_sample s{"h", "db", 1.5, 0.25, 0.1, 30, true, 12, 940};
  auto s2 = wire::decode<channel_sample>(wire::encode(s));
  CHECK(s2.srtt_ms == 1.5);
  CHECK(s2.probes == 12);
  CHECK(s2.throughput_mbps == 940);
}

TEST_CASE("wire: the wrong message, a damaged buffer, another version") {
  auto bytes = wire::encode(bid_request{1, "t", "db", 0.5, 2, {}, 0.5, {}, 1});
  CHECK_THROWS_AS(wire::decode<execute_request>(bytes), wire::wire_error);
  CHECK_NOTHROW(wire::decode<bid_request>(bytes));
  auto cut = bytes.substr(0, bytes.size() - 3);
  CHECK_THROWS_AS(wire::decode<bid_request>(cut), wire::wire_error);
  CHECK_THROWS_AS(wire::decode<bid_request>(std::string{"\xc1"}),
                  wire::wire_error);
  // An enum value the code does not know is damage.
  invoke_result odd;
  odd.status = static_cast<outcome>(9);
  CHECK_THROWS_WITH_AS(wire::decode<invoke_result>(wire::encode(odd)),
                       "enum value 9 out of range", wire::wire_error);
  odd.status = outcome::refused;
  CHECK(wire::decode<invoke_result>(wire::encode(odd)).status
        == outcome::refused);
  // Five bytes that ask for an array of ~4 billion elements (~96 GB to
  // unpack): refused by the limit before anything is allocated (without
  // it, the allocation fails, or a sanitizer aborts).
  CHECK_THROWS_WITH_AS(
    wire::decode<bid_request>(std::string{"\xdd\xff\x00\x00\x00", 5}),
    "not msgpack: array size overflow", wire::wire_error);
  // A number no quantity of augur's reaches (msgpack-c cannot pack 2^64
  // back without undefined behaviour: fuzz/fuzz_wire found it).
  link_spec huge{"h", "db", 1e19, 0, 0, 0};
  CHECK_THROWS_WITH_AS(wire::decode<link_spec>(wire::encode(huge)),
                       "number out of range", wire::wire_error);
  // Same envelope, another version.
  auto other = bytes;
  REQUIRE(static_cast<unsigned char>(other[0]) == 0x93); // fixarray of 3
  // The tag is a uint8 (0xcc xx) or uint16 (0xcd xx xx); then the version.
  auto marker = static_cast<unsigned char>(other[1]);
  auto pos = marker == 0xcc ? 3u : marker == 0xcd ? 4u : 2u;
  REQUIRE(other[pos] == static_cast<char>(wire::version));
  other[pos] = 1;
  CHECK_THROWS_WITH_AS(wire::decode<bid_request>(other),
                       "unsupported version 1", wire::wire_error);
}

// What an actor sends itself is not on the handle others hold.
template <class Handle, class Signature>
constexpr bool accepts
  = caf::detail::tl_contains<typename Handle::signatures, Signature>::value;

static_assert(!accepts<instance_actor, caf::reacts_to<done_atom, uint64_t>>);
static_assert(!accepts<instance_actor, caf::reacts_to<bid_atom, uint64_t>>);
static_assert(
  !accepts<instance_actor, caf::reacts_to<done_atom, process_outcome>>);
static_assert(
  accepts<instance_private_actor, caf::reacts_to<done_atom, uint64_t>>);
static_assert(!accepts<channel_probe_actor, caf::reacts_to<caf::tick_atom>>);
static_assert(
  !accepts<channel_probe_actor,
           caf::reacts_to<measured_atom, std::string, bool, double>>);
static_assert(
  accepts<channel_probe_private_actor, caf::reacts_to<caf::tick_atom>>);

// -- every message type: its ID, and a round trip both ways ------------------

namespace {

/// Walks a message through its `inspect` and gives every field a value of
/// its own (never the default), so that a round trip that loses, swaps or
/// truncates a field shows.
class filler {
public:
  using result_type = void;
  static constexpr bool reads_state = false;
  static constexpr bool writes_state = true;

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (fill(xs), ...);
  }

private:
  template <class T>
  void fill(T& x) {
    ++n_;
    if constexpr (caf::meta::is_annotation<T>::value) {
      // nop
    } else if constexpr (std::is_same_v<T, bool>) {
      x = true;
    } else if constexpr (std::is_enum_v<T>) {
      x = wire::enum_last<T>::value;
    } else if constexpr (std::is_floating_point_v<T>) {
      x = static_cast<T>(n_) + 0.25;
    } else if constexpr (std::is_arithmetic_v<T>) {
      x = static_cast<T>(n_ + 1000);
    } else if constexpr (std::is_same_v<T, std::string>) {
      x = "f" + std::to_string(n_) + std::string{"\0\xff", 2};
    } else if constexpr (wire::detail::is_vector<T>::value) {
      x.resize(2);
      for (auto& y : x)
        fill(y);
    } else {
      inspect(*this, x);
    }
  }

  uint64_t n_ = 0;
};

template <class T>
T filled() {
  T x;
  filler f;
  inspect(f, x);
  return x;
}

/// `x` through CAF's binary serializer, as the middleman sends it to
/// another node, inside a message.
template <class T>
T through_caf(caf::actor_system& sys, const T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto msg = caf::make_message(x);
  REQUIRE(!sink(msg));
  caf::binary_deserializer source{sys, buf};
  caf::message back;
  REQUIRE(!source(back));
  REQUIRE(back.match_elements<T>());
  return back.get_as<T>(0);
}

template <class T>
void round_trips(caf::actor_system& sys, uint16_t offset) {
  CAPTURE(caf::type_name<T>::value);
  // The wire format's tags and every node's registry depend on these.
  CHECK(caf::type_id<T>::value == caf::first_custom_type_id + offset);
  auto x = filled<T>();
  auto bytes = wire::encode(x);
  CHECK(wire::encode(wire::decode<T>(bytes)) == bytes);
  CHECK(wire::encode(through_caf(sys, x)) == bytes);
  // A default value is another message: the check above could fail.
  CHECK(wire::encode(T{}) != bytes);
}

struct system_config : caf::actor_system_config {
  system_config() {
    register_messages(*this);
  }
};

} // namespace

TEST_CASE("wire: every message type keeps its ID and round-trips") {
  system_config cfg;
  caf::actor_system sys{cfg};
  round_trips<invoke_request>(sys, 0);
  round_trips<bid>(sys, 1);
  round_trips<placement_reason>(sys, 2);
  round_trips<invoke_result>(sys, 3);
  round_trips<bid_request>(sys, 4);
  round_trips<execute_request>(sys, 5);
  round_trips<service_use>(sys, 6);
  round_trips<observation>(sys, 7);
  round_trips<service_likelihood>(sys, 8);
  round_trips<task_profile>(sys, 9);
  round_trips<task_spec>(sys, 10);
  round_trips<channel_sample>(sys, 11);
  round_trips<link_spec>(sys, 12);
  round_trips<instance_info>(sys, 13);
  round_trips<service_info>(sys, 14);
  round_trips<instance_status>(sys, 15);
  round_trips<frontend_status>(sys, 16);
  round_trips<process_outcome>(sys, 17);
  round_trips<task_definition>(sys, 18);
  // Every type of the block is above.
  CHECK(caf::id_block::augur::end - caf::id_block::augur::begin == 19);
  // Atoms travel as their text's value: a changed text is another message.
  CHECK(caf::to_string(status_atom::value) == "status");
  CHECK(caf::to_string(done_atom::value) == "done");
  CHECK(caf::to_string(bid_atom::value) == "bid");
  CHECK(caf::to_string(health_atom::value) == "health");
  CHECK(caf::to_string(channels_atom::value) == "channels");
  CHECK(caf::to_string(measured_atom::value) == "measured");
  CHECK(caf::to_string(registry_atom::value) == "registry");
  CHECK(caf::to_string(started_atom::value) == "started");
  CHECK(caf::to_string(prewarm_atom::value) == "prewarm");
  CHECK(caf::to_string(warmed_atom::value) == "warmed");
}

TEST_CASE("listener_set: once each, forgotten when down, bounded") {
  system_config cfg;
  caf::actor_system sys{cfg};
  // (An argument: CAF 0.17 dereferences a null argument pack for
  // argument-less function actors, which UBSan flags.)
  auto idle = [](caf::event_based_actor*, int) -> caf::behavior {
    return {[](int) {
    }};
  };
  auto a = sys.spawn(idle, 0);
  auto b = sys.spawn(idle, 0);
  auto c = sys.spawn(idle, 0);
  listener_set<caf::actor> set{2};
  using added = listener_set<caf::actor>::added;
  CHECK(set.add(a) == added::fresh);
  // A node that joins again subscribes again: still one entry.
  CHECK(set.add(a) == added::known);
  CHECK(set.add(b) == added::fresh);
  CHECK(set.size() == 2);
  CHECK(set.add(c) == added::full);
  CHECK(set.remove(a.address()));
  CHECK_FALSE(set.remove(a.address()));
  CHECK(set.size() == 1);
  CHECK(*set.begin() == b);
  CHECK(set.add(c) == added::fresh);
  for (auto* x : {&a, &b, &c})
    caf::anon_send_exit(*x, caf::exit_reason::user_shutdown);
}

namespace {

/// A message of each type the wire fuzzer starts from, with every field
/// set, as `fuzz/corpus/wire/<type>` holds it.
template <class F>
void each_corpus_message(F&& f) {
  bid b;
  b.invocation = 1;
  b.instance = "near/0";
  b.host = "near";
  b.accept = true;
  b.warm = true;
  b.free_slots = 1;
  b.channel_ms = 0.5;
  b.expected_ms = 3.25;
  b.control_ms = 0.2;
  invoke_result r;
  r.invocation = 1;
  r.task = "orders";
  r.output = "out";
  r.host = "near";
  r.instance = "near/0";
  r.reason.policy = placement_route::negotiated;
  r.reason.service = "db";
  r.reason.likelihood = 0.9;
  r.reason.bids = {b};
  r.reason.note = "note";
  r.latency_ms = 12.5;
  r.aux_ms = 2;
  r.cold_start = true;
  r.warmup_ms = 20;
  r.log = "log";
  f("invoke_result", wire::encode(r));
  f("invoke_request", wire::encode(invoke_request{"orders", "in"}));
  f("bid_request",
    wire::encode(bid_request{1, "orders", "db", 0.9, 3, {}, 0.5, {}, 1}));
  f("execute_request", wire::encode(execute_request{1, "orders", "in"}));
  f("observation",
    wire::encode(
      observation{1,
                  "orders",
                  "near",
                  "near/0",
                  {service_use{"db", 3, 100, 200, 4.5, 2, 1.25, 65536, 8.5}}}));
  task_profile p;
  p.task = "orders";
  p.known = true;
  p.services = {service_likelihood{"db", 0.8, 2, 30, 4096, 5, true, true}};
  p.observations = 5;
  p.version = 2;
  f("task_profile", wire::encode(p));
  f("channel_sample", wire::encode(channel_sample{"near", "db", 1.5, 0.25, 0.1,
                                                  30, true, 12, 940}));
  link_spec l;
  l.host = "near";
  l.service = "db";
  l.rtt_ms = 1;
  l.jitter_ms = 0.1;
  l.loss = 0.01;
  l.bandwidth_mbps = 100;
  f("link_spec", wire::encode(l));
  instance_status is;
  is.info.name = "near/0";
  is.info.host = "near";
  is.busy = 1;
  is.warm = {"orders"};
  is.executions = 3;
  is.cold_starts = 1;
  f("instance_status", wire::encode(is));
  frontend_status fs;
  fs.admitted = 3;
  fs.completed = 2;
  fs.negotiations = 1;
  f("frontend_status", wire::encode(fs));
}

} // namespace

TEST_CASE("wire: the fuzz corpus speaks the current version") {
  // With AUGUR_WRITE_WIRE_CORPUS set, writes it first (after a change of
  // the encoding: the fuzzer would refuse every entry of an older one at
  // the version and never reach the fields).
  std::string dir = AUGUR_SOURCE_DIR "/fuzz/corpus/wire/";
  each_corpus_message([&](const std::string& name, const std::string& bytes) {
    if (std::getenv("AUGUR_WRITE_WIRE_CORPUS") != nullptr)
      std::ofstream{dir + name, std::ios::binary} << bytes;
    std::ifstream in{dir + name, std::ios::binary};
    std::string kept{std::istreambuf_iterator<char>{in}, {}};
    INFO(name);
    CHECK(kept == bytes);
  });
}
