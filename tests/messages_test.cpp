#include <doctest/doctest.h>

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
  p.services = {service_likelihood{"db", 0.8, 2, 30, 4096, 5, true}};
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
