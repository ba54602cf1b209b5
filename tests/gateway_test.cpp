// The gateway between an execution and a real Redis: relays, emulates the
// link, counts what passes.

#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/read.hpp>

#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/execution/gateway.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "redis_fixture.hpp"

using namespace augur;

TEST_CASE("gateway: relays to Redis and counts round trips and bytes") {
  test::redis_server redis;
  io_runner io;
  link_spec link{"h", "cache", 0, 0, 0};
  auto gw = gateway::open(
    io.context(), "cache", "127.0.0.1", redis.port(), [&link] { return link; },
    1);
  REQUIRE(gw->port() != 0);
  CHECK(test::redis_command(gw->port(), "SET k 42") == "+OK");
  CHECK(test::redis_command(gw->port(), "GET k") == "$2");
  auto c = gw->counts();
  CHECK(c.service == "cache");
  CHECK(c.round_trips == 2);
  CHECK(c.bytes_out == 10 + 7); // "SET k 42\r\n", "GET k\r\n"
  CHECK(c.bytes_in == 5 + 8);   // "+OK\r\n", "$2\r\n42\r\n"
  CHECK(gw->connections() == 2);
  CHECK(gw->first_response_ms() >= 0);
  gw->close();
}

TEST_CASE("gateway: an emulated RTT is paid on every round trip") {
  test::redis_server redis;
  io_runner io;
  link_spec link{"h", "cache", 30, 0, 0};
  auto gw = gateway::open(
    io.context(), "cache", "127.0.0.1", redis.port(), [&link] { return link; },
    1);
  auto start = std::chrono::steady_clock::now();
  CHECK(test::redis_command(gw->port(), "PING") == "+PONG");
  std::chrono::duration<double, std::milli> took
    = std::chrono::steady_clock::now() - start;
  CHECK(took.count() >= 30);
  CHECK(gw->counts().aux_ms >= 30);
  gw->close();
}

namespace {

/// SETs a value of `size` bytes and GETs it back over one connection, as a
/// real client would (RESP, not inline: inline commands are capped).
void set_and_get(uint16_t port, size_t size) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s{io};
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  std::string value(size, 'v');
  auto set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(size) + "\r\n"
             + value + "\r\n";
  asio::write(s, asio::buffer(set));
  asio::streambuf buf;
  asio::read_until(s, buf, "\r\n");
  buf.consume(buf.size());
  asio::write(s, asio::buffer(std::string{"GET k\r\n"}));
  // "$<size>\r\n", the value, "\r\n".
  auto want = 1 + std::to_string(size).size() + 2 + size + 2;
  asio::read(s, buf, asio::transfer_exactly(want));
}

} // namespace

TEST_CASE("gateway: bytes are paced at the link's bandwidth and measured") {
  test::redis_server redis;
  io_runner io;
  // 80 Mbit/s: 10,000 bytes per millisecond.
  link_spec link{"h", "store", 0, 0, 0, 80};
  auto gw = gateway::open(
    io.context(), "store", "127.0.0.1", redis.port(), [&link] { return link; },
    1);
  constexpr size_t size = 400'000;
  auto start = std::chrono::steady_clock::now();
  set_and_get(gw->port(), size);
  std::chrono::duration<double, std::milli> took
    = std::chrono::steady_clock::now() - start;
  // Up and down: 40 ms each at least, whatever the machine's load.
  CHECK(took.count() >= 80);
  auto c = gw->counts();
  // Every chunk of the value but each burst's first is a sample...
  CHECK(c.transfer_bytes >= 2 * (size - 16384));
  // ... and the link never looks faster than it is.
  REQUIRE(c.transfer_ms > 0);
  CHECK(static_cast<double>(c.transfer_bytes) / c.transfer_ms
        <= 10'000 * (1 + 1e-9));
  gw->close();
}

TEST_CASE("gateway: a long transfer's throughput is told while it runs") {
  test::redis_server redis;
  io_runner io;
  link_spec link{"h", "store", 0, 0, 0, 80};
  auto gw = gateway::open(
    io.context(), "store", "127.0.0.1", redis.port(), [&link] { return link; },
    1);
  std::mutex mtx;
  std::vector<service_use> told;
  gw->on_early_sample(1 << 20, [&](const service_use& u) {
    std::lock_guard<std::mutex> guard{mtx};
    told.push_back(u);
  });
  constexpr size_t size = 3'000'000;
  set_and_get(gw->port(), size);
  auto c = gw->counts();
  std::lock_guard<std::mutex> guard{mtx};
  // Once, after the first MiB and long before the last byte...
  REQUIRE(told.size() == 1);
  CHECK(told[0].service == "store");
  CHECK(told[0].transfer_bytes >= 1 << 20);
  CHECK(told[0].transfer_bytes < c.transfer_bytes / 2);
  // ... at the link's pace: never faster than it is.
  REQUIRE(told[0].transfer_ms > 0);
  CHECK(static_cast<double>(told[0].transfer_bytes) / told[0].transfer_ms
        <= 10'000 * (1 + 1e-9));
  gw->close();
}

namespace {

/// Whether `gw` has no connection open once the relay saw every close
/// (which comes on its I/O thread): waits for that at most a minute.
bool all_closed(const gateway& gw) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{1};
  while (gw.open_connections() != 0)
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    else
      std::this_thread::yield();
  return true;
}

} // namespace

TEST_CASE("gateway: a closed connection leaves nothing behind") {
  // A host's probe gateway lives for weeks and relays a connection per
  // probe: it must keep only what is open.
  test::redis_server redis;
  io_runner io;
  auto gw = gateway::open(io.context(), "cache", "127.0.0.1", redis.port(),
                          nullptr, 1);
  for (int i = 0; i < 200; ++i)
    REQUIRE(test::redis_command(gw->port(), "PING") == "+PONG");
  CHECK(gw->connections() == 200);
  CHECK(all_closed(*gw));
  gw->close();
}

TEST_CASE("gateway: a sender faster than the link is held back") {
  test::redis_server redis;
  io_runner io;
  // 80 Mbit/s: 8 MiB take 0.8 s to pass, but loopback delivers them at
  // once; without backpressure the relay would hold them all.
  link_spec link{"h", "store", 0, 0, 0, 80};
  auto gw = gateway::open(
    io.context(), "store", "127.0.0.1", redis.port(), [&link] { return link; },
    1);
  constexpr size_t size = 8u << 20;
  set_and_get(gw->port(), size);
  CHECK(gw->counts().bytes_out >= size);
  CHECK(gw->peak_queued_bytes() > 0);
  CHECK(gw->peak_queued_bytes() <= (1u << 20) + 16384);
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
}

TEST_CASE("endpoints: one parser, clear errors") {
  auto e = parse_endpoint("127.0.0.1:6379");
  CHECK(e.host == "127.0.0.1");
  CHECK(e.port == 6379);
  auto v6 = parse_endpoint("[::1]:80");
  CHECK(v6.host == "::1");
  CHECK(to_string(v6) == "[::1]:80");
  CHECK(parse_endpoint("localhost:0", true).port == 0);
  auto error_of = [](const char* text, bool zero_ok = false) {
    try {
      parse_endpoint(text, zero_ok);
    } catch (const std::invalid_argument& err) {
      return std::string{err.what()};
    }
    return std::string{"no error"};
  };
  CHECK(error_of("nohost")
        == "'nohost' is not host:port: no ':' before the "
           "port");
  CHECK(error_of("h:0")
        == "'h:0' is not host:port: the port must be a "
           "number from 1 to 65535");
  CHECK(error_of(":80") == "':80' is not host:port: no host");
  CHECK(error_of("h:") == "'h:' is not host:port: no port");
  CHECK(error_of("h:65536").find("from 1 to 65535") != std::string::npos);
  CHECK(error_of("h:99999999999999999999").find("from 1 to 65535")
        != std::string::npos);
  CHECK(error_of("h:8o").find("from 1 to 65535") != std::string::npos);
  CHECK(error_of("::1:80").find("in brackets") != std::string::npos);
  CHECK(error_of("[::1:80").find("closing ']'") != std::string::npos);
}
