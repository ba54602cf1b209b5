#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "augur/model/homes.hpp"
#include "augur/model/instance_pool.hpp"
#include "augur/model/network_emulator.hpp"
#include "augur/model/placement.hpp"
#include "augur/model/profile_estimator.hpp"
#include "augur/model/warm_set.hpp"

using namespace augur;

namespace {

double likelihood_of(const task_profile& p, const std::string& svc) {
  for (auto& s : p.services)
    if (s.service == svc)
      return s.likelihood;
  return -1;
}

std::vector<service_use> uses(const std::string& svc, uint32_t rt = 1) {
  return {service_use{svc, rt, 10, 10, 1}};
}

} // namespace

TEST_CASE("profile_estimator: hints seed, observations teach") {
  profile_estimator est;
  est.add_service("db");
  est.add_service("store");
  est.define("hinted", {"db"});
  est.define("plain", {});
  CHECK(est.likelihood("hinted", "db") == doctest::Approx(0.9));
  CHECK(est.likelihood("plain", "db") == doctest::Approx(0.05));
  CHECK(est.likelihood("nosuch", "db") == 0);
  CHECK_FALSE(est.observe("nosuch", {}));
  SUBCASE("learned from observations without hints") {
    for (int i = 0; i < 3; ++i)
      est.observe("plain", uses("db", 4));
    auto p = est.profile("plain");
    CHECK(likelihood_of(p, "db") > 0.6);
    CHECK(likelihood_of(p, "store") < 0.05);
    CHECK(p.services.size() == 2);
    auto db = std::find_if(p.services.begin(), p.services.end(),
                           [](auto& s) { return s.service == "db"; });
    CHECK(db->round_trips == doctest::Approx(4));
    CHECK(p.observations == 3);
    // A service never used keeps some of the prior, yet counts nothing in
    // the time in services; one used once, or hinted, counts.
    auto store = std::find_if(p.services.begin(), p.services.end(),
                              [](auto& s) { return s.service == "store"; });
    CHECK(store->likelihood > 0);
    CHECK_FALSE(store->used);
    CHECK(placement::counted_likelihood(*store) == 0);
    CHECK(db->used);
    CHECK(placement::counted_likelihood(*db) == db->likelihood);
    auto h = est.profile("hinted").services;
    auto hinted = std::find_if(h.begin(), h.end(),
                               [](auto& s) { return s.service == "db"; });
    CHECK_FALSE(hinted->used);
    CHECK(placement::counted_likelihood(*hinted) == doctest::Approx(0.9));
  }
  SUBCASE("a wrong hint is corrected") {
    for (int i = 0; i < 3; ++i)
      est.observe("hinted", {});
    CHECK(est.likelihood("hinted", "db") < 0.5);
  }
  SUBCASE("a change of behaviour is followed despite long history") {
    for (int i = 0; i < 200; ++i)
      est.observe("plain", {});
    CHECK(est.likelihood("plain", "db") < 0.05);
    int n = 0;
    while (est.likelihood("plain", "db") < 0.5 && n < 100) {
      est.observe("plain", uses("db"));
      ++n;
    }
    // Half-life 20: the old evidence weighs half after 20 observations, so
    // the estimate crosses 0.5 well before 40.
    CHECK(n > 1);
    CHECK(n <= 25);
  }
}

TEST_CASE("profile_moved detects moves beyond delta") {
  profile_estimator est;
  est.add_service("db");
  est.define("t", {});
  auto before = est.profile("t");
  CHECK_FALSE(profile_moved(before, est.profile("t"), 0.01));
  est.observe("t", uses("db"));
  CHECK(profile_moved(before, est.profile("t"), 0.01));
  // A service used for the first time is a move whatever the delta: from
  // now on it counts in the task's time in services.
  CHECK(profile_moved(before, est.profile("t"), 0.9));
  auto used = est.profile("t");
  est.observe("t", uses("db"));
  CHECK_FALSE(profile_moved(used, est.profile("t"), 0.9));
}

TEST_CASE("warm_set keeps the most recent tasks") {
  warm_set w{2};
  CHECK(w.touch("a"));
  CHECK(w.touch("b"));
  CHECK_FALSE(w.touch("a"));
  CHECK(w.touch("c")); // evicts b, the least recently used
  CHECK(w.contains("a"));
  CHECK_FALSE(w.contains("b"));
  CHECK(w.contains("c"));
}

TEST_CASE("instance_pool keeps free lists consistent") {
  instance_pool pool;
  auto a = pool.add("a", "h1", 2);
  auto b = pool.add("b", "h1", 1);
  auto c = pool.add("c", "h2", 1);
  CHECK(pool.hosts() == 2);
  CHECK(pool.free().size() == 3);
  pool.acquire(b);
  CHECK(pool.free().size() == 2);
  CHECK(pool.free_on_host(0).size() == 1);
  pool.acquire(a);
  CHECK(pool.has_free_slot(a));
  pool.acquire(a);
  CHECK_FALSE(pool.has_free_slot(a));
  CHECK(pool.free().size() == 1);
  CHECK(pool.free()[0] == c);
  CHECK_THROWS_AS(pool.acquire(a), std::logic_error);
  pool.release(a);
  pool.release(b);
  CHECK(pool.free().size() == 3);
  CHECK(pool.total_busy() == 1);
  pool.retire(c);
  CHECK(pool.free().size() == 2);
  CHECK(pool.free_on_host(1).empty());
  CHECK_THROWS_AS(pool.add("a", "h3", 1), std::invalid_argument);
}

TEST_CASE("shortlist takes the best hosts' free instances") {
  instance_pool pool;
  pool.add("far0", "far", 1);
  pool.add("near0", "near", 1);
  pool.add("near1", "near", 1);
  pool.add("mid0", "mid", 1);
  std::vector<double> cost{20, 1, 5}; // far, near, mid (order of mention)
  auto s = placement::shortlist(pool, cost, 3);
  REQUIRE(s.size() == 3);
  CHECK(pool.host_name(pool.host_of(s[0])) == "near");
  CHECK(pool.host_name(pool.host_of(s[1])) == "near");
  CHECK(pool.name(s[2]) == "mid0");
  pool.acquire(pool.find("near0"));
  pool.acquire(pool.find("near1"));
  s = placement::shortlist(pool, cost, 3);
  REQUIRE(s.size() == 2);
  CHECK(pool.name(s[0]) == "mid0");
  CHECK(pool.name(s[1]) == "far0");
  cost[2] = std::numeric_limits<double>::infinity();
  s = placement::shortlist(pool, cost, 3);
  REQUIRE(s.size() == 1);
  CHECK(pool.name(s[0]) == "far0");
}

TEST_CASE(
  "shortlist takes the best host's instances where the task is warm first") {
  instance_pool pool;
  pool.add("near0", "near", 2);
  pool.add("near1", "near", 2);
  pool.add("near2", "near", 2);
  pool.add("far0", "far", 2);
  pool.add("far1", "far", 2);
  std::vector<double> cost{1, 20};
  // near2 is warm for the task but busier than near0 and near1.
  pool.acquire(pool.find("near2"));
  pool.touch(pool.find("near2"), "task");
  auto s = placement::shortlist(pool, cost, 2, "task");
  REQUIRE(s.size() == 2);
  CHECK(pool.name(s[0]) == "near2");
  CHECK(pool.name(s[1]) == "near0");
  // On a worse host, the least busy first, warm or not.
  pool.acquire(pool.find("far0"));
  pool.touch(pool.find("far0"), "task");
  s = placement::shortlist(pool, cost, 4, "task");
  REQUIRE(s.size() == 4);
  CHECK(pool.name(s[3]) == "far1");
  // Without a task, the least busy first.
  s = placement::shortlist(pool, cost, 2);
  REQUIRE(s.size() == 2);
  CHECK(pool.name(s[0]) == "near0");
  CHECK(pool.name(s[1]) == "near1");
}

TEST_CASE("power_of_k prefers low load and warmth") {
  instance_pool pool;
  auto busy = pool.add("busy", "h", 4);
  auto idle = pool.add("idle", "h", 4);
  pool.acquire(busy);
  pool.acquire(busy);
  std::mt19937_64 rng{7};
  // With k = 2 both are always sampled: the idle one wins.
  for (int i = 0; i < 20; ++i)
    CHECK(placement::power_of_k(pool, 2, "t", rng) == idle);
  // Warmth is worth half a unit of load: busy at 0.25 - 0.5 beats idle at 0.
  pool.touch(busy, "t");
  pool.release(busy);
  CHECK(placement::power_of_k(pool, 2, "t", rng) == busy);
  instance_pool empty;
  CHECK(placement::power_of_k(empty, 2, "t", rng) == instance_pool::npos);
}

TEST_CASE("power_of_k samples distinct instances uniformly") {
  instance_pool pool;
  for (int i = 0; i < 10; ++i)
    pool.add("i" + std::to_string(i), "h", 1);
  std::mt19937_64 rng{3};
  std::set<instance_pool::index> seen;
  for (int i = 0; i < 200; ++i)
    seen.insert(placement::power_of_k(pool, 1, "t", rng));
  CHECK(seen.size() == 10);
}

TEST_CASE("least_loaded picks the lowest load") {
  instance_pool pool;
  auto a = pool.add("a", "h", 2);
  auto b = pool.add("b", "h", 2);
  pool.acquire(a);
  std::mt19937_64 rng{1};
  CHECK(placement::least_loaded(pool, rng) == b);
}

TEST_CASE("expected latency and bid choice") {
  placement::bid_inputs in;
  in.cold_start_ms = 50;
  in.services = {{0.5, 4, 10}};
  in.busy = 1;
  in.slots = 2;
  in.load_weight_ms = 2;
  CHECK(placement::expected_latency_ms(in) == doctest::Approx(50 + 20 + 1));
  in.warm = true;
  CHECK(placement::expected_latency_ms(in) == doctest::Approx(21));
  // Every service counts: one touched briefly on nearly every run (a, one
  // round trip), one used heavily on most runs (b, 20 round trips). Near b
  // is better, although a is the more likely service.
  std::vector<placement::service_term> near_a{{0.95, 1, 0.1}, {0.7, 20, 30}};
  std::vector<placement::service_term> near_b{{0.95, 1, 30}, {0.7, 20, 0.1}};
  CHECK(placement::expected_service_ms(near_b, 0.5)
        < placement::expected_service_ms(near_a, 0.5));
  CHECK(placement::expected_service_ms(near_b, 0.5)
        == doctest::Approx(0.95 * 30 + 0.7 * 20 * 0.1));
  // Bytes count too: a near channel (1 ms) that moves an execution's bytes
  // in 320 ms loses to a farther one (6 ms) that moves them in 3.2 ms.
  std::vector<placement::service_term> thin{{0.9, 1, 1, 320}};
  std::vector<placement::service_term> wide{{0.9, 1, 6, 3.2}};
  CHECK(placement::expected_service_ms(thin, 0.5)
        == doctest::Approx(0.9 * (1 + 320)));
  CHECK(placement::expected_service_ms(wide, 0.5)
        < placement::expected_service_ms(thin, 0.5));
  // An unmeasured channel: unusable for a likely service, a round trip at
  // the unknown cost for an unlikely one.
  auto inf = std::numeric_limits<double>::infinity();
  CHECK(std::isinf(placement::expected_service_ms({{0.9, 1, inf}}, 0.5)));
  CHECK(placement::expected_service_ms({{0.1, 2, inf}}, 0.5, 1000)
        == doctest::Approx(200));
  std::vector<bid> bids(4);
  for (size_t i = 0; i < bids.size(); ++i)
    bids[i].instance = "i" + std::to_string(i);
  bids[0].accept = true;
  bids[0].expected_ms = 5;
  bids[1].accept = false;
  bids[1].expected_ms = 1;
  bids[2].accept = true;
  bids[2].expected_ms = 3;
  bids[3].accept = true;
  bids[3].expected_ms = 3;
  // Accepting bids by expected latency, ties in order of arrival, declining
  // ones last.
  CHECK(placement::rank_bids(bids) == 3);
  CHECK(bids[0].instance == "i2");
  CHECK(bids[1].instance == "i3");
  CHECK(bids[2].instance == "i0");
  CHECK(bids[3].instance == "i1");
  for (auto& b : bids)
    b.accept = false;
  CHECK(placement::rank_bids(bids) == 0);
}

TEST_CASE("placement: a lease holds until it is due or a channel moves") {
  placement::lease l;
  l.instances = {0};
  l.expires_ms = 1000;
  l.winner_ms = 20; // the winner's host, 20 ms in services
  l.best_ms = 18;   // another host a little better (the winner was warm)
  using placement::check_lease;
  using placement::lease_state;
  CHECK(check_lease(l, 10, 20, 18, 0.1) == lease_state::holds);
  // Noise within 10% of the winner's cost (2 ms) changes nothing.
  CHECK(check_lease(l, 10, 21.5, 19.5, 0.1) == lease_state::holds);
  CHECK(check_lease(l, 10, 18.5, 17, 0.1) == lease_state::holds);
  // Expired but unmoved: due, usable while bids renew it.
  CHECK(check_lease(l, 1000, 20, 18, 0.1) == lease_state::due);
  // The winner's channel degraded.
  CHECK(check_lease(l, 10, 22.5, 18, 0.1) == lease_state::moved);
  // Another host recovered: the winner now lags the best by far more.
  CHECK(check_lease(l, 10, 20, 10, 0.1) == lease_state::moved);
  // Everything got better together, the winner stays best: holds.
  CHECK(check_lease(l, 10, 15, 13, 0.1) == lease_state::holds);
  // The winner became unreachable.
  auto inf = std::numeric_limits<double>::infinity();
  CHECK(check_lease(l, 10, inf, 18, 0.1) == lease_state::moved);
  // A cheap winner moves by at least the slack.
  l.winner_ms = l.best_ms = 0.2;
  CHECK(check_lease(l, 10, 0.24, 0.24, 0.1, 0.05) == lease_state::holds);
  CHECK(check_lease(l, 10, 0.26, 0.26, 0.1, 0.05) == lease_state::moved);
}

TEST_CASE("placement policies: names parse back to the same policy") {
  for (auto p : all_placement_policies())
    CHECK(parse_placement_policy(to_string(p)) == p);
  CHECK_FALSE(parse_placement_policy("magic").has_value());
  CHECK(to_string(placement_route::fast_path) == std::string{"fast-path"});
  CHECK(placement_route::negotiated == "negotiated");
  CHECK(parse_placement_route("hint-zone") == placement_route::hint_zone);
  CHECK(placement_route::negotiated != "fast-path");
}

TEST_CASE("network_emulator: bytes take bytes / bandwidth") {
  network_emulator n;
  n.set_link({"h", "s", 2, 0, 0, 100});
  // 100 Mbit/s moves 12,500 bytes per millisecond.
  CHECK(n.transfer_ms("h", "s", 1'250'000) == doctest::Approx(100));
  CHECK(n.transfer_ms("h", "s", 0) == 0);
  // Unlimited, or no link: nothing.
  n.set_link({"h", "u", 2, 0, 0, 0});
  CHECK(n.transfer_ms("h", "u", 1e9) == 0);
  CHECK(n.transfer_ms("h", "none", 1e9) == 0);
}

TEST_CASE("network_emulator: deterministic draws, loss and retransmission") {
  network_emulator a{42};
  network_emulator b{42};
  link_spec l{"h", "db", 10, 2, 0.3};
  a.set_link(l);
  b.set_link(l);
  for (int i = 0; i < 50; ++i) {
    auto x = a.probe("h", "db");
    auto y = b.probe("h", "db");
    CHECK(x.has_value() == y.has_value());
    if (x && y)
      CHECK(*x == *y);
  }
  CHECK_FALSE(a.probe("h", "nosuch"));
  a.set_link(link_spec{"h", "db", 10, 0, 0});
  auto ok = a.round_trip("h", "db");
  CHECK(ok.delivered);
  CHECK(ok.attempts == 1);
  CHECK(ok.ms == doctest::Approx(10));
  a.set_link(link_spec{"h", "db", 10, 0, 1});
  auto lost = a.round_trip("h", "db", 4);
  CHECK_FALSE(lost.delivered);
  CHECK(lost.attempts == 4);
  // Every lost attempt costs TCP's minimum retransmission timeout.
  CHECK(lost.ms == doctest::Approx(4 * 200));
}

/// Hosts h0, h1, h2 with four instances of two slots each (h1/0, ...).
static instance_pool three_hosts_of_four() {
  instance_pool pool;
  for (int h = 0; h < 3; ++h)
    for (int k = 0; k < 4; ++k)
      pool.add("h" + std::to_string(h) + "/" + std::to_string(k),
               "h" + std::to_string(h), 2);
  return pool;
}

TEST_CASE("homes: stable, on the good hosts, spread by task") {
  auto pool = three_hosts_of_four();
  homes::settings cfg;
  cfg.count = 2;
  // Host 1 is best, host 2 within the tolerance, host 0 far.
  std::vector<double> cost{20, 1.0, 1.05};
  auto a = homes::choose(pool, cost, "orders", cfg);
  REQUIRE(a.size() == 2);
  for (auto i : a)
    CHECK(pool.host_of(i) != 0);
  // The same inputs give the same homes.
  CHECK(homes::choose(pool, cost, "orders", cfg) == a);
  // Tasks spread: over many tasks, every good instance is somebody's home.
  std::set<instance_pool::index> used;
  for (int t = 0; t < 200; ++t)
    for (auto i : homes::choose(pool, cost, "task" + std::to_string(t), cfg))
      used.insert(i);
  CHECK(used.size() == 8);
  // A retired home is replaced; the other one stays (rendezvous hashing).
  pool.retire(a[0]);
  auto b = homes::choose(pool, cost, "orders", cfg);
  REQUIRE(b.size() == 2);
  CHECK(std::find(b.begin(), b.end(), a[1]) != b.end());
  CHECK(std::find(b.begin(), b.end(), a[0]) == b.end());
  // No usable host, no homes.
  auto inf = std::numeric_limits<double>::infinity();
  CHECK(homes::choose(pool, {inf, inf, inf}, "orders", cfg).empty());
}

TEST_CASE("homes: sticky while their host stays close to the best") {
  auto pool = three_hosts_of_four();
  homes::settings cfg;
  cfg.count = 4;
  // Only host 0 is good at first.
  auto a = homes::choose(pool, {1.0, 5.0, 9.0}, "orders", cfg);
  REQUIRE(a.size() == 4);
  for (auto i : a)
    CHECK(pool.host_of(i) == 0);
  // Host 1 comes within the tolerance (noise, or a better estimate): nobody
  // moves, although a fresh choice would have spread over both hosts.
  std::vector<double> close{1.0, 1.2, 9.0};
  CHECK(homes::choose(pool, close, "orders", cfg, a) == a);
  // Host 0 falls behind by more than the tolerance: the homes move to the
  // new best host, in rendezvous order.
  std::vector<double> degraded{3.0, 1.2, 9.0};
  auto b = homes::choose(pool, degraded, "orders", cfg, a);
  REQUIRE(b.size() == 4);
  for (auto i : b)
    CHECK(pool.host_of(i) == 1);
  CHECK(b == homes::choose(pool, degraded, "orders", cfg));
  // It recovers: back to the same instances as before (still warm there).
  CHECK(homes::choose(pool, {1.0, 1.6, 9.0}, "orders", cfg, b) == a);
  // New homes come only from hosts within half the tolerance; a home that
  // is kept may sit anywhere within all of it.
  cfg.count = 6;
  auto c = homes::choose(pool, {1.0, 1.4, 9.0}, "orders", cfg, b);
  REQUIRE(c.size() == 6);
  CHECK(std::equal(b.begin(), b.end(), c.begin()));
  CHECK(pool.host_of(c[4]) == 0);
  CHECK(pool.host_of(c[5]) == 0);
  // A retired home is dropped; the rest keep their order.
  pool.retire(a[1]);
  auto d = homes::choose(pool, {1.0, 5.0, 9.0}, "orders", cfg, a);
  CHECK(d[0] == a[0]);
  CHECK(d[1] == a[2]);
  CHECK(std::find(d.begin(), d.end(), a[1]) == d.end());
}

TEST_CASE("homes: new ones where the task is warm, then where a slot is free") {
  auto pool = three_hosts_of_four();
  homes::settings cfg;
  cfg.count = 2;
  std::vector<double> cost{1.0, 9.0, 9.0}; // host 0 alone is good
  auto plain = homes::choose(pool, cost, "orders", cfg);
  REQUIRE(plain.size() == 2);
  // The task ran on another instance of host 0: that one comes first.
  instance_pool::index other = 0;
  while (std::find(plain.begin(), plain.end(), other) != plain.end())
    ++other;
  pool.touch(other, "orders");
  auto warm = homes::choose(pool, cost, "orders", cfg);
  CHECK(warm[0] == other);
  CHECK(warm[1] == plain[0]);
  // Warm on another host: no home there.
  pool.touch(4, "orders");
  CHECK(homes::choose(pool, cost, "orders", cfg) == warm);
  // The first choice full of other tasks' runs: passed over for one with
  // a free slot.
  pool.acquire(plain[0]);
  pool.acquire(plain[0]);
  auto free = homes::choose(pool, cost, "orders", cfg);
  CHECK(free[0] == other);
  CHECK(free[1] != plain[0]);
  CHECK(pool.host_of(free[1]) == 0);
  // Kept homes stay as they are, full or not.
  CHECK(homes::choose(pool, cost, "orders", cfg, warm) == warm);
}

TEST_CASE("homes: a task with nothing declared is learned before they move") {
  homes::settings cfg; // 8 runs
  task_profile p;
  p.services.push_back({"db", 0.6, 1, 0, 0, 2, false});
  p.observations = 2;
  CHECK(homes::learning(p, cfg));
  p.observations = 8;
  CHECK_FALSE(homes::learning(p, cfg));
  // A declared service is known from the start.
  p.observations = 0;
  p.services.push_back({"cache", 0.9, 1, 0, 0, 0, true});
  CHECK_FALSE(homes::learning(p, cfg));
}

TEST_CASE("homes: as many as the task's load needs") {
  homes::settings cfg; // half of each home's slots
  CHECK(homes::needed(0, 4, 8, cfg) == 1);
  CHECK(homes::needed(1.9, 4, 8, cfg) == 1);
  CHECK(homes::needed(2.1, 4, 8, cfg) == 2);
  CHECK(homes::needed(7.5, 4, 8, cfg) == 4);
  CHECK(homes::needed(100, 4, 8, cfg) == 8);
  CHECK(homes::needed(1e300, 4, 8, cfg) == 8);
  CHECK(homes::needed(3, 4, 0, cfg) == 0);
  // A one-slot home counts as one run at a time.
  CHECK(homes::needed(2.5, 1, 8, cfg) == 3);
}

TEST_CASE("homes: one more while the waits it spares outweigh its cold start") {
  // Erlang C against closed forms: M/M/1 waits with probability rho, M/M/2
  // at rho 0.5 with 2 rho^2 / (1 + rho) = 1/3.
  CHECK(homes::erlang_c(1, 0.5) == doctest::Approx(0.5));
  CHECK(homes::erlang_c(2, 1) == doctest::Approx(1.0 / 3));
  CHECK(homes::erlang_c(4, 0) == 0);
  CHECK(homes::erlang_c(4, 4) == 1);
  // M/M/1 at rho 0.5, 10 ms runs: 10 ms of wait; regular runs wait half.
  CHECK(homes::expected_queue_wait_ms(1, 0.5, 10) == doctest::Approx(10));
  CHECK(homes::expected_queue_wait_ms(1, 0.5, 10, 0) == doctest::Approx(5));
  CHECK(std::isinf(homes::expected_queue_wait_ms(2, 2, 10)));
  // 67 runs/s of 50 ms on one 8-slot home: 3.35 slots busy, so the utilization
  // rule asks for one home; but it is full 2.5% of the time, and over a
  // minute the waits a second home spares (about 0.5 s) outweigh its
  // 120 ms cold start...
  CHECK(homes::needed(67 * 0.05, 8, 8, homes::settings{}) == 1);
  CHECK(homes::worth(1, 67, 50, 8, 8, 120, 60, 0) == 2);
  // ...not a 1.2 s one, nor a third home, nor one that is not there.
  CHECK(homes::worth(1, 67, 50, 8, 8, 1200, 60, 0) == 1);
  CHECK(homes::worth(1, 67, 50, 8, 1, 120, 60, 0) == 1);
  // 29 runs/s of 25 ms on 4 slots: the waits spared (42 ms a minute, 85 ms
  // for runs as irregular as exponential ones) are not worth 150 ms.
  CHECK(homes::worth(1, 28.6, 25, 4, 8, 150, 60, 0) == 1);
  CHECK(homes::worth(1, 28.6, 25, 4, 8, 150, 60, 1) == 1);
  // Never fewer than asked for; none without arrivals beyond that.
  CHECK(homes::worth(3, 67, 50, 8, 8, 120, 60, 0) >= 3);
  CHECK(homes::worth(1, 0, 50, 8, 8, 120, 60) == 1);
  // Overloaded: one more, whatever its cold start.
  CHECK(homes::worth(1, 200, 50, 8, 8, 1e9, 60) == 2);
}

TEST_CASE("task demand: how irregular its runs are") {
  task_demand d;
  CHECK(d.run_cv2(0) == 1); // nothing known: as irregular as exponential
  d.ran(10, 0, false);
  CHECK(d.run_cv2(0) == 1); // one run says nothing of how runs vary
  for (int i = 0; i < 50; ++i)
    d.ran(10, 0, false); // always 10 ms
  CHECK(d.run_cv2(0) == doctest::Approx(0));
  task_demand v;
  for (int i = 0; i < 400; ++i)
    v.ran(i % 2 == 0 ? 5 : 15, 0, false); // 10 ms on average, +-5 ms
  CHECK(v.run_cv2(0) > 0.15);
  CHECK(v.run_cv2(0) < 0.4);
}

TEST_CASE("task demand: concurrency where it lives, and a cold start's price") {
  task_demand d;
  CHECK(d.concurrency(0, 5) == 0);
  CHECK(d.cold_extra_ms(50) == 50); // nothing seen: the prior
  for (int i = 0; i < 40; ++i)
    d.arrive(i * 10.0); // a hundred a second
  // The first run was cold: 208 ms, 8 of them in services.
  d.ran(208, 8, true);
  CHECK(d.cold_extra_ms(50) == 50); // no warm run yet
  for (int i = 0; i < 40; ++i)
    d.ran(38, 30, false); // far from its service: 30 ms of 38 there
  CHECK(d.cold_extra_ms(50) == doctest::Approx(192));
  // At home a run spends 2 ms in services: 8 + 2 ms a run, 100 a second.
  CHECK(d.concurrency(390, 2) == doctest::Approx(1.0));
  CHECK(d.concurrency(390, 30) == doctest::Approx(3.8));
  // A warm run that waited for a cold start under way says nothing of warm
  // runs: its wait is left out.
  task_demand e;
  e.ran(208, 8, true, 200);
  for (int i = 0; i < 40; ++i)
    e.ran(148, 0, false, 140);
  CHECK(e.cold_extra_ms(50) == doctest::Approx(192));
}

TEST_CASE("the wait for a slot of a full instance") {
  CHECK(expected_wait_ms(0, 4, 20) == doctest::Approx(5));
  CHECK(expected_wait_ms(3, 4, 20) == doctest::Approx(20));
  CHECK(expected_wait_ms(0, 0, 20) == doctest::Approx(20));
  CHECK(expected_wait_ms(0, 4, -1) == 0);
  // No run ended yet: the first cold start, begun 30 ms ago, frees every
  // slot in 90 ms; each round of four waiting before costs another one.
  CHECK(first_runs_wait_ms(-30, 0, 4, 120) == doctest::Approx(90));
  CHECK(first_runs_wait_ms(-30, 3, 4, 120) == doctest::Approx(90));
  CHECK(first_runs_wait_ms(-30, 4, 4, 120) == doctest::Approx(210));
  // Its first cold start is over and still no run ended: a run that has
  // lasted 500 ms is expected to last as long again, not to end now.
  CHECK(first_runs_wait_ms(-500, 0, 4, 120) == doctest::Approx(500));
  CHECK(first_runs_wait_ms(-500, 4, 4, 120) == doctest::Approx(1000));
  CHECK(first_runs_wait_ms(-30, 2, 0, 120) == doctest::Approx(330));
}

TEST_CASE("slot price: a scarce host's slots go to the runs that gain most") {
  // Two slots, 80% of them to give (1.6): `orders` saves 7.5 ms per 4.6 ms
  // run (1.6 ms per slot-ms) with 1.1 slots busy, `render` 2.1 ms per 13 ms
  // (0.16) with 0.78. Both do not fit: render is priced out, orders is not.
  slot_demand orders{1.1, 7.5, 4.6};
  slot_demand render{0.78, 2.1, 13};
  auto p = slot_price({render, orders}, 1.6);
  CHECK(p == doctest::Approx(1.25 * 2.1 / 13));
  CHECK(render.gain_ms < p * render.run_ms); // no better there than next best
  CHECK(orders.gain_ms > p * orders.run_ms); // still best there
  // They fit: no price.
  CHECK(slot_price({render, orders}, 2.0) == 0);
  // The first always fits, however much it asks: a host is never priced
  // out of the task that gains most from it.
  CHECK(slot_price({slot_demand{5, 7.5, 4.6}}, 1.6) == 0);
  CHECK(slot_price({slot_demand{5, 7.5, 4.6}, render}, 1.6)
        == doctest::Approx(1.25 * 2.1 / 13));
  CHECK(slot_price({}, 1.6) == 0);
}

TEST_CASE("held prices: a burst moves no price, a lasting scarcity does") {
  held_prices held{5000};
  // Host 1 is scarce for 3 s (a burst): no price holds.
  CHECK(held.update({0, 0.2}, 0) == std::vector<double>{0, 0});
  CHECK(held.update({0, 0.2}, 3000) == std::vector<double>{0, 0});
  CHECK(held.update({0, 0}, 3500) == std::vector<double>{0, 0});
  // Scarce again, from 4 s on: the price holds at 9 s, not before, and
  // follows the computed price from then on.
  CHECK(held.update({0, 0.3}, 4000)[1] == 0);
  CHECK(held.update({0, 0.3}, 8999)[1] == 0);
  CHECK(held.update({0, 0.3}, 9000)[1] == doctest::Approx(0.3));
  CHECK(held.update({0, 0.4}, 9500)[1] == doctest::Approx(0.4));
  // A calm moment keeps it; only 5 s of calm remove it.
  CHECK(held.update({0, 0}, 10000)[1] == doctest::Approx(0.4));
  CHECK(held.update({0, 0}, 14999)[1] == doctest::Approx(0.4));
  CHECK(held.update({0, 0}, 15000)[1] == 0);
  // A host that joined grows the table; one not in the computed prices
  // keeps what it held.
  CHECK(held.update({0, 0, 0.1}, 16000).size() == 3);
  CHECK(held.update({0}, 17000).size() == 3);
  CHECK(held.prices().size() == 3);
}

TEST_CASE("arrival rate: the smoothed rate weighs a silence as one gap") {
  arrival_rate fast;
  arrival_rate slow{1.0 / 128};
  for (int i = 0; i < 200; ++i) {
    fast.add(i * 10.0); // a hundred a second
    slow.add(i * 10.0);
  }
  CHECK(slow.smoothed_per_s(1990) == doctest::Approx(100));
  // 200 arrivals: more than the slow mean remembers (128), not before.
  CHECK(slow.settled());
  arrival_rate young{1.0 / 128};
  for (int i = 0; i < 100; ++i)
    young.add(i * 10.0);
  CHECK_FALSE(young.settled());
  CHECK(young.arrivals() == 100);
  // 40 ms without an arrival: the plain rate takes it as the gap, the
  // smoothed one as one more gap among many.
  CHECK(fast.per_s(2030) == doctest::Approx(25));
  CHECK(slow.smoothed_per_s(2030) > 95);
  // A long silence still brings it down.
  CHECK(slow.smoothed_per_s(200000) < 10);
}

TEST_CASE("arrival rate and the runs a cold start serves") {
  arrival_rate r;
  CHECK(r.per_s(0) == 0);
  for (int i = 0; i < 20; ++i)
    r.add(i * 100.0); // ten a second
  CHECK(r.per_s(1900) == doctest::Approx(10));
  // A long silence lowers the rate.
  CHECK(r.per_s(11900) == doctest::Approx(0.1));
  CHECK(expected_runs(10, 60, 2) == doctest::Approx(300));
  CHECK(expected_runs(0, 60, 2) == 1);
}
