#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "augur/probes/channel_estimator.hpp"
#include "augur/probes/channel_quality.hpp"
#include "augur/probes/channel_table.hpp"
#include "augur/probes/level_shift.hpp"
#include "augur/probes/loss_window.hpp"
#include "augur/probes/passive_sampler.hpp"
#include "augur/probes/rtt_estimator.hpp"

using namespace augur;

TEST_CASE("rtt_estimator follows RFC 6298") {
  rtt_estimator e;
  e.add(100);
  CHECK(e.srtt() == doctest::Approx(100));
  CHECK(e.rttvar() == doctest::Approx(50));
  CHECK(e.rto() == doctest::Approx(300));
  e.add(200);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 100 + 1/8 200.
  CHECK(e.rttvar() == doctest::Approx(62.5));
  CHECK(e.srtt() == doctest::Approx(112.5));
  CHECK(e.samples() == 2);
}

TEST_CASE("loss_window counts losses over the last N probes") {
  loss_window w{4};
  CHECK(w.loss() == 0);
  w.add(true);
  w.add(false);
  CHECK(w.loss() == doctest::Approx(0.5));
  w.add(true);
  w.add(true);
  CHECK(w.consecutive_failures() == 2);
  CHECK(w.loss() == doctest::Approx(0.75));
  // The first loss falls out of the window.
  w.add(false);
  CHECK(w.loss() == doctest::Approx(0.5));
  CHECK(w.consecutive_failures() == 0);
}

TEST_CASE("channel_estimator marks a link down after consecutive failures") {
  channel_estimator e{10, 3};
  CHECK_FALSE(e.up());
  e.success(2, 0);
  CHECK(e.up());
  e.failure();
  e.failure();
  CHECK(e.up());
  e.failure();
  CHECK_FALSE(e.up());
  auto s = e.sample("h", "db", 500);
  CHECK_FALSE(s.up);
  CHECK(s.age_ms == doctest::Approx(500));
  CHECK(s.loss == doctest::Approx(0.75));
  e.success(2, 600);
  CHECK(e.up());
}

TEST_CASE("channel_quality orders channels by latency, jitter, loss, age") {
  channel_quality q;
  channel_sample base;
  base.up = true;
  base.probes = 10;
  base.srtt_ms = 2;
  base.rttvar_ms = 0.1;
  auto fresh = q.cost_ms(base, 0);
  CHECK(fresh == doctest::Approx(2.1));
  auto slower = base;
  slower.srtt_ms = 5;
  CHECK(q.cost_ms(slower, 0) > fresh);
  auto jittery = base;
  jittery.rttvar_ms = 2;
  CHECK(q.cost_ms(jittery, 0) > fresh);
  auto lossy = base;
  lossy.loss = 0.2;
  CHECK(q.cost_ms(lossy, 0) > fresh);
  // Half the staleness penalty at one half-life.
  CHECK(q.cost_ms(base, q.config().stale_half_life_ms)
        == doctest::Approx(fresh + q.config().stale_penalty_ms / 2));
  // Within `fresh_ms` (two probe intervals) an estimate is as good as new,
  // so that which host was probed last decides nothing; staleness counts
  // from there.
  channel_quality::settings cadence;
  cadence.fresh_ms = 200;
  channel_quality p{cadence};
  CHECK(p.cost_ms(base, 150) == doctest::Approx(fresh));
  CHECK(p.cost_ms(base, 200) == doctest::Approx(fresh));
  CHECK(p.cost_ms(base, 200 + cadence.stale_half_life_ms)
        == doctest::Approx(fresh + cadence.stale_penalty_ms / 2));
  CHECK(q.cost_ms(base, 150) > fresh);
  auto down = base;
  down.up = false;
  CHECK(std::isinf(q.cost_ms(down, 0)));
  auto unmeasured = base;
  unmeasured.probes = 0;
  CHECK(std::isinf(q.cost_ms(unmeasured, 0)));
}

TEST_CASE("channel_table: one table of the latest samples, aging as it waits") {
  channel_table table{channel_quality{}};
  CHECK(table.cost_ms("h", "db", 0) == channel_quality::unusable);
  channel_sample x;
  x.host = "h";
  x.service = "db";
  x.srtt_ms = 2;
  x.up = true;
  x.probes = 5;
  table.update(x, 1000);
  auto fresh = table.cost_ms("h", "db", 1000);
  CHECK(fresh == doctest::Approx(2));
  // Nothing new arrived for a second: the estimate is staler, not cheaper.
  CHECK(table.cost_ms("h", "db", 2000) > fresh);
  CHECK(table.cost_ms("other", "db", 1000) == channel_quality::unusable);
  x.srtt_ms = 5;
  table.update(x, 2000);
  CHECK(table.cost_ms("h", "db", 2000) == doctest::Approx(5));
  REQUIRE(table.samples().size() == 1);
  CHECK(table.samples()[0].srtt_ms == 5);
}

TEST_CASE("channel_estimator follows a degradation within a few probes") {
  channel_estimator e;
  for (int i = 0; i < 50; ++i)
    e.success(1.0 + 0.01 * (i % 3), i * 100.0);
  auto before = e.rtt().srtt();
  CHECK(before == doctest::Approx(1.01).epsilon(0.02));
  // The link degrades to 25 ms: after three probes the estimate is there
  // (RFC 6298 alone would still be at about 9 ms).
  for (int i = 0; i < 3; ++i)
    e.success(25.0, 5000 + i * 100.0);
  CHECK(e.shifts() == 1);
  CHECK(e.rtt().srtt() == doctest::Approx(25));
  // And back: the recovery is followed as fast.
  for (int i = 0; i < 3; ++i)
    e.success(1.0, 6000 + i * 100.0);
  CHECK(e.shifts() == 2);
  CHECK(e.rtt().srtt() == doctest::Approx(1));
}

TEST_CASE("channel_estimator learns passively from executions") {
  channel_estimator e;
  e.success(10, 0);
  e.failure();
  // An execution's first response is an RTT sample and keeps the estimate
  // fresh; losses stay the probes' to judge.
  service_use u;
  u.first_response_ms = 10;
  e.passive(u, 500);
  CHECK(e.rtt().samples() == 2);
  CHECK(e.age_ms(500) == 0);
  CHECK(e.losses().loss() == doctest::Approx(0.5));
  // Throughput: no sample until a transfer is long enough to tell.
  CHECK(e.throughput(500) == 0);
  CHECK(e.sample("h", "s", 500).throughput_mbps == 0);
  u.first_response_ms = -1;
  u.transfer_bytes = 1000;
  u.transfer_ms = 1;
  e.passive(u, 600);
  CHECK(e.throughput(600) == 0);
  // 1,250,000 bytes in 100 ms: 12,500 bytes/ms, 100 Mbit/s.
  u.transfer_bytes = 1'250'000;
  u.transfer_ms = 100;
  e.passive(u, 700);
  CHECK(e.throughput(700) == doctest::Approx(12'500));
  CHECK(e.sample("h", "s", 700).throughput_mbps == doctest::Approx(100));
  // A slower transfer (the sender paused) does not lower the estimate: a
  // transfer can be slower than its path, never faster...
  u.transfer_ms = 400;
  e.passive(u, 800);
  CHECK(e.sample("h", "s", 800).throughput_mbps == doctest::Approx(100));
  // ... but once the window holds only slower ones, the path is slower.
  for (size_t i = 0; i < channel_estimator::throughput_window; ++i)
    e.passive(u, 900 + i);
  CHECK(e.sample("h", "s", 1000).throughput_mbps == doctest::Approx(25));
  // Five minutes without a transfer: forgotten, the channel is assumed
  // fast again and gets tried.
  CHECK(e.sample("h", "s", 900 + channel_estimator::throughput_max_age_ms)
          .throughput_mbps
        == doctest::Approx(25));
  CHECK(e.sample("h", "s", 1000 + 2 * channel_estimator::throughput_max_age_ms)
          .throughput_mbps
        == 0);
  // A transfer too quick to time (no bandwidth limit at all) says the
  // channel is faster than any timed one, not that it is unknown.
  channel_estimator quick;
  u.transfer_bytes = 1'250'000;
  u.transfer_ms = 0;
  quick.passive(u, 1000);
  CHECK(quick.throughput(1000) > 1e9);
  // What it costs to move bytes: learned, or assumed before any transfer.
  channel_quality q;
  auto s = e.sample("h", "s", 1000);
  CHECK(q.transfer_ms(s, 3'125'000) == doctest::Approx(1000));
  s.throughput_mbps = 0;
  CHECK(q.transfer_ms(s, 1'250'000)
        == doctest::Approx(1'250'000 / (q.config().assumed_mbps * 125)));
}

TEST_CASE("channel_estimator: a service's time to answer is no RTT") {
  // Probes see 10 ms; an execution's first response comes after 13 ms, 3 of
  // them the service's own work.
  channel_estimator e;
  for (int i = 0; i < 4; ++i)
    e.success(10, i * 100.0);
  service_use u;
  u.first_response_ms = 13;
  for (int i = 0; i < 60; ++i) {
    e.passive(u, 400 + i * 10.0);
    if (i % 10 == 9)
      e.success(10, 400 + i * 10.0);
  }
  CHECK(e.service_time_ms() == doctest::Approx(3).epsilon(0.05));
  CHECK(e.rtt().srtt() == doctest::Approx(10).epsilon(0.05));
  CHECK(e.shifts() == 0);
  // The path degrades by 20 ms: probes and executions both see it, and the
  // estimate follows within a few probes.
  u.first_response_ms = 33;
  double t = 1000;
  for (int i = 0; i < 4; ++i) {
    e.success(30, t);
    for (int k = 0; k < 5; ++k)
      e.passive(u, t += 10);
  }
  CHECK(e.rtt().srtt() == doctest::Approx(30).epsilon(0.1));
  CHECK(e.service_time_ms() == doctest::Approx(3).epsilon(0.1));
}

TEST_CASE("passive_sampler: transfers always, an RTT per interval") {
  passive_sampler p{100, 16384};
  service_use u;
  u.service = "db";
  u.first_response_ms = 5;
  // The first RTT of a service goes, then one per interval, whatever it is.
  CHECK(p.take(u, 0));
  CHECK_FALSE(p.take(u, 50));
  u.first_response_ms = 500;
  CHECK_FALSE(p.take(u, 99));
  CHECK(p.take(u, 100));
  CHECK_FALSE(p.take(u, 150));
  // Each service has its own interval.
  u.service = "cache";
  CHECK(p.take(u, 150));
  // No response: nothing to tell; a transfer long enough: always.
  u.first_response_ms = -1;
  CHECK_FALSE(p.take(u, 400));
  u.transfer_bytes = 20000;
  u.transfer_ms = 2;
  CHECK(p.take(u, 401));
  CHECK(p.take(u, 402));
  u.transfer_bytes = 1000;
  CHECK_FALSE(p.take(u, 403));
}

TEST_CASE("channel_estimator: noise and single spikes are no shift") {
  channel_estimator e;
  std::mt19937_64 rng{7};
  std::normal_distribution<double> jitter{10.0, 1.0};
  for (int i = 0; i < 2010; ++i) {
    // A spike of 100 ms every 50 probes, alone.
    e.success(i % 50 == 49 ? 100.0 : std::max(0.1, jitter(rng)), i * 100.0);
  }
  // A spike pulls the smoothed RTT up for a moment; it is set right within
  // a few probes, but it is no change of the path.
  CHECK(e.shifts() == 0);
  CHECK(e.resyncs() > 0);
  CHECK(e.rtt().srtt() == doctest::Approx(10).epsilon(0.3));
}

TEST_CASE("channel_estimator: a shift forgets the old path's losses") {
  channel_estimator e{20, 3};
  for (int i = 0; i < 10; ++i) {
    e.success(25.0, i * 100.0);
    e.failure();
  }
  CHECK(e.losses().loss() > 0.4);
  for (int i = 0; i < 3; ++i)
    e.success(1.0, 2000 + i * 100.0);
  CHECK(e.shifts() == 1);
  CHECK(e.losses().loss() == 0);
  CHECK(e.up());
}

TEST_CASE("level_shift: a run stays on one side and agrees with itself") {
  level_shift d;
  CHECK_FALSE(d.add(20, 10));
  CHECK_FALSE(d.add(1, 10)); // the other side: a new run
  CHECK_FALSE(d.add(1, 10));
  CHECK(d.add(1, 10));
  CHECK(d.run() == std::vector<double>{1, 1, 1});
  CHECK_FALSE(d.add(11, 10)); // inside the band
  // Outside on one side, but scattered: noise, not a new level.
  CHECK_FALSE(d.add(14, 10));
  CHECK_FALSE(d.add(30, 10));
  CHECK_FALSE(d.add(13, 10));
}
