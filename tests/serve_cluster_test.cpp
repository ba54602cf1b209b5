// Real mode: process tasks, real channels to a real Redis through gateways,
// profiles learned from gateway traffic alone.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "redis_fixture.hpp"
#include <augur/embedded.hpp>

using namespace augur;
using namespace std::chrono_literals;

namespace {

/// Waits for a condition on the real cluster's state (bounded).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = 60s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (condition())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

std::string cluster_toml(const std::string& redis_endpoint) {
  return R"(
[cluster]
threshold = 0.5
probe_interval_ms = 50
cold_start_ms = 0
# Real time, and sanitizers slow every actor: a generous bid deadline keeps a
# loaded machine from turning a negotiation into a fallback. These tests are
# about placement; the deadline has tests of its own.
bid_deadline_ms = 5000

[[host]]
name = "near"
instances = 2
slots = 2

[[host]]
name = "far"
zone = "b"
instances = 2
slots = 2

[[service]]
name = "cache"
kind = "redis"
endpoint = ")"
         + redis_endpoint + R"("

[[link]]
host = "near"
service = "cache"
rtt_ms = 10

[[link]]
host = "far"
service = "cache"
rtt_ms = 30

[[task]]
name = "counter"
command = ["/usr/bin/python3", "-c", '''
import os, socket
host, port = os.environ['AUGUR_SERVICE_CACHE'].split(':')
s = socket.create_connection((host, int(port)))
for _ in range(3):
    s.sendall(b'INCR hits\r\n')
    reply = s.recv(100)
print(reply.decode().strip(), end='')
''']

[[task]]
name = "shout"
command = ["tr", "a-z", "A-Z"]

[[task]]
name = "crash"
command = ["sh", "-c", "kill -SEGV $$"]

[[task]]
name = "slow"
command = ["sleep", "30"]
timeout_ms = 200

[[task]]
name = "fails"
command = ["sh", "-c", "echo bad input >&2; exit 4"]
)";
}

double srtt_of(embedded_cluster& c, const std::string& host) {
  for (auto& ch : c.channels())
    if (ch.host == host && ch.service == "cache" && ch.probes > 0)
      return ch.srtt_ms;
  return -1;
}

} // namespace

TEST_CASE("real mode: learned from gateway traffic, placed by real channel") {
  test::redis_server redis;
  auto c = embedded_cluster::from_toml(cluster_toml(redis.endpoint()),
                                       embedded_cluster::clock_mode::real_time);
  // The probes measure through their gateways, with the emulated RTT.
  REQUIRE(eventually(
    [&] { return srtt_of(c, "near") > 0 && srtt_of(c, "far") > 0; }));
  // Never below the emulated RTT (less 10% for the smoothing), and not far
  // above it: a loaded machine (sanitizers, parallel tests) only adds delay,
  // so the upper bound is wide; the order of the channels must hold.
  auto within = [&](const std::string& host, double d) {
    auto x = srtt_of(c, host);
    return x >= 0.9 * d && x <= 2 * d + 5;
  };
  CHECK(eventually([&] {
    return within("far", 30) && within("near", 10)
           && srtt_of(c, "far") > srtt_of(c, "near") + 10;
  }));

  // No hint: the gateways' traffic alone teaches the registry.
  auto first = c.invoke("counter");
  INFO(first.error, " / ", first.log);
  REQUIRE(first.ok());
  CHECK(first.output == ":3");
  CHECK(first.reason.policy == "fast-path");
  // Runs move next to the cache: at once when the first run was there, or
  // within a few runs when it warmed `far` and this (loaded) machine's cold
  // starts looked dearer than far's extra round trips.
  invocation_result r;
  int runs = 1;
  do {
    r = c.invoke("counter");
    ++runs;
    REQUIRE(r.ok());
  } while (
    runs < 5
    || ((r.host != "near" || r.reason.policy != "negotiated") && runs < 30));
  INFO(runs, " runs; ", r.reason.note);
  CHECK(r.reason.policy == "negotiated");
  CHECK(r.host == "near");
  auto p = c.profile("counter");
  REQUIRE(p.services.size() == 1);
  CHECK(p.services[0].likelihood > 0.5);
  CHECK(p.services[0].round_trips == doctest::Approx(3));
  CHECK(p.services[0].bytes_out == doctest::Approx(3 * 11)); // "INCR hits\r\n"
  CHECK(test::redis_command(redis.port(), "INCRBY hits 0")
        == ":" + std::to_string(3 * runs));

  // A task that never talks to Redis stays load-balanced.
  for (int i = 0; i < 4; ++i) {
    auto s = c.invoke("shout", "hello");
    REQUIRE(s.ok());
    CHECK(s.output == "HELLO");
    CHECK(s.reason.policy == "fast-path");
  }
  CHECK(c.profile("shout").services[0].likelihood < 0.1);

  // The probes see a degradation, and placements move.
  c.set_link("near", "cache", 60ms);
  REQUIRE(eventually([&] { return srtt_of(c, "near") > srtt_of(c, "far"); }));
  invocation_result moved;
  int more = 0;
  do {
    moved = c.invoke("counter");
    ++more;
  } while (moved.host != "far" && more < 30);
  INFO(more, " runs; ", moved.reason.note);
  CHECK(moved.host == "far");
  // It paid far's RTT on each of its three round trips (a loaded machine
  // only adds to it: no upper bound here; the host above says it moved).
  CHECK(moved.aux_ms >= 3 * 30);
}

TEST_CASE("real mode: crashes, timeouts and failures are clear results") {
  test::redis_server redis;
  auto c = embedded_cluster::from_toml(cluster_toml(redis.endpoint()),
                                       embedded_cluster::clock_mode::real_time);
  auto crash = c.invoke("crash");
  CHECK(crash.status == outcome::failed);
  CHECK(crash.error.find("killed by signal 11") != std::string::npos);
  auto slow = c.invoke("slow");
  CHECK(slow.status == outcome::failed);
  CHECK(slow.error.find("timed out") != std::string::npos);
  auto fails = c.invoke("fails");
  CHECK(fails.status == outcome::failed);
  CHECK(fails.error == "process exited with status 4");
  CHECK(fails.log == "bad input\n");
  // The instances stay healthy.
  auto ok = c.invoke("shout", "still here");
  CHECK(ok.ok());
  CHECK(ok.output == "STILL HERE");
  CHECK(c.status().failed == 3);
}

TEST_CASE("real mode: probes stay true while 50 cold starts run at once") {
  // Cold starts set up on the launcher threads and processes are reaped by
  // the I/O thread without blocking: a probe measuring meanwhile through
  // the same I/O thread still sees the link's 20 ms. A setup run where it
  // would block (0.2 s each, 50 of them: seconds of stall) would show in
  // every probe taken during the burst.
  test::redis_server redis;
  auto c = embedded_cluster::from_toml(R"(
[cluster]
probe_interval_ms = 20
cold_start_ms = 0
queue_capacity = 100

[[host]]
name = "h"
instances = 50
slots = 1

[[service]]
name = "cache"
kind = "redis"
endpoint = ")" + redis.endpoint() + R"("

[[link]]
host = "h"
service = "cache"
rtt_ms = 20

[[task]]
name = "cold"
command = ["true"]
setup = ["sleep", "0.2"]
timeout_ms = 60000
)",
                                       embedded_cluster::clock_mode::real_time);
  auto probes = [&] {
    for (auto& ch : c.channels())
      if (ch.host == "h" && ch.service == "cache")
        return ch.probes;
    return uint64_t{0};
  };
  REQUIRE(eventually([&] { return probes() > 5; }));
  std::vector<embedded_cluster::ticket> ts;
  for (int i = 0; i < 50; ++i)
    ts.push_back(c.submit("cold"));
  std::atomic<bool> done{false};
  std::vector<invocation_result> results;
  std::thread drain{[&] {
    for (auto t : ts)
      results.push_back(c.wait(t));
    done = true;
  }};
  // Sampled for as long as the burst lasts.
  auto before = probes();
  double worst = 0;
  while (!done) {
    worst = std::max(worst, srtt_of(c, "h"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  drain.join();
  size_t cold = 0;
  for (auto& r : results) {
    INFO(r.error);
    CHECK(r.ok());
    cold += r.cold_start ? 1 : 0;
  }
  CHECK(cold == 50);
  // Probes went on during the burst...
  CHECK(probes() > before);
  // ... and never saw more than the link's 20 ms plus a margin a loaded
  // machine (sanitizers, parallel tests) stays well inside; a blocked I/O
  // thread would add whole seconds.
  CHECK(worst >= 18);
  CHECK(worst < 250);
}
