// The gateway between an execution and a real Redis: relays, emulates the
// link, counts what passes.

#include <doctest/doctest.h>

#include <chrono>

#include "augur/runtime/execution/gateway.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "redis_fixture.hpp"

using namespace augur;

TEST_CASE("gateway: relays to Redis and counts round trips and bytes") {
  test::redis_server redis;
  io_runner io;
  link_spec link{"h", "cache", 0, 0, 0};
  auto gw = gateway::open(io.context(), "cache", "127.0.0.1", redis.port(),
                          [&link] { return link; }, 1);
  REQUIRE(gw->port() != 0);
  CHECK(test::redis_command(gw->port(), "SET k 42") == "+OK");
  CHECK(test::redis_command(gw->port(), "GET k") == "$2");
  auto c = gw->counts();
  CHECK(c.service == "cache");
  CHECK(c.round_trips == 2);
  CHECK(c.bytes_out == 10 + 7);         // "SET k 42\r\n", "GET k\r\n"
  CHECK(c.bytes_in == 5 + 8);           // "+OK\r\n", "$2\r\n42\r\n"
  CHECK(gw->connections() == 2);
  CHECK(gw->first_response_ms() >= 0);
  gw->close();
}

TEST_CASE("gateway: an emulated RTT is paid on every round trip") {
  test::redis_server redis;
  io_runner io;
  link_spec link{"h", "cache", 30, 0, 0};
  auto gw = gateway::open(io.context(), "cache", "127.0.0.1", redis.port(),
                          [&link] { return link; }, 1);
  auto start = std::chrono::steady_clock::now();
  CHECK(test::redis_command(gw->port(), "PING") == "+PONG");
  std::chrono::duration<double, std::milli> took
    = std::chrono::steady_clock::now() - start;
  CHECK(took.count() >= 30);
  CHECK(gw->counts().aux_ms >= 30);
  gw->close();
}

TEST_CASE("gateway: an unreachable service fails the connection, not us") {
  io_runner io;
  auto port = test::free_port();
  auto gw = gateway::open(io.context(), "db", "127.0.0.1", port, nullptr, 1);
  CHECK_THROWS(test::redis_command(gw->port(), "PING"));
  CHECK(gw->upstream_failures() == 1);
  gw->close();
}

TEST_CASE("gateway: environment names and endpoints") {
  CHECK(service_env_name("db") == "AUGUR_SERVICE_DB");
  CHECK(service_env_name("object-store.v2") == "AUGUR_SERVICE_OBJECT_STORE_V2");
  CHECK(split_endpoint("127.0.0.1:6379")
        == std::pair<std::string, uint16_t>{"127.0.0.1", 6379});
  CHECK_THROWS_AS(split_endpoint("nohost"), std::invalid_argument);
  CHECK_THROWS_AS(split_endpoint("h:0"), std::invalid_argument);
}
