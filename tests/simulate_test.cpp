// augur simulate: determinism, events, baselines, bad scenarios, traces.

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "temp_dir.hpp"

#include "augur/model/placement.hpp"
#include "augur/runtime/simulation/azure_trace.hpp"
#include "augur/runtime/simulation/scenario.hpp"
#include "augur/runtime/simulation/simulator.hpp"

using namespace augur;

namespace {

// Host `a` is next to the database, host `b` far from it.
const std::string two_hosts = R"(
[cluster]
threshold = 0.5
probe_interval_ms = 100
cold_start_ms = 10

[[host]]
name = "a"
zone = "za"
instances = 2
slots = 2

[[host]]
name = "b"
zone = "zb"
instances = 2
slots = 2

[[service]]
name = "db"
zone = "za"

[defaults]
same_zone_rtt_ms = 0.5
cross_zone_rtt_ms = 20

[[task]]
name = "query"
duration_ms = 5
[[task.call]]
service = "db"
probability = 1.0
round_trips = 2

[[task]]
name = "cpu"
duration_ms = 5
)";

nlohmann::json run(const std::string& text, const std::string& policy,
                   uint64_t seed = 1) {
  auto p = parse_placement_policy(policy);
  REQUIRE(p.has_value());
  return simulate(parse_scenario(text, "test.toml"), *p, seed);
}

uint64_t placements(const nlohmann::json& r, const std::string& host) {
  return r["hosts"][host]["placements"].get<uint64_t>();
}

std::string error_of(const std::string& text) {
  try {
    parse_scenario(text, "test.toml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("simulate: the same seed gives the same report") {
  auto text = two_hosts + R"(
[workload]
requests = 2000
rate_per_s = 200
)";
  auto a = run(text, "predictive", 7);
  auto b = run(text, "predictive", 7);
  CHECK(deterministic_part(a) == deterministic_part(b));
  CHECK(a["invocations"] == 2000);
  CHECK(a["completed"] == 2000);
  auto c = run(text, "predictive", 8);
  CHECK(deterministic_part(a) != deterministic_part(c));
  // Every policy sees the same arrivals.
  auto ll = run(text, "least-loaded", 7);
  CHECK(ll["invocations"] == a["invocations"]);
  CHECK(ll["simulated_s"].get<double>()
        == doctest::Approx(a["simulated_s"].get<double>()).epsilon(0.01));
}

TEST_CASE("simulate: predictive learns, places by channel, beats baselines") {
  auto text = two_hosts + R"(
[workload]
requests = 3000
rate_per_s = 40
mix = { query = 1 }
)";
  auto p = run(text, "predictive");
  auto ll = run(text, "least-loaded");
  auto o = run(text, "oracle");
  // Negotiated, or placed by a lease a negotiation left (most of them).
  auto leased = p["leased"].get<uint64_t>();
  CHECK(p["negotiations"].get<uint64_t>() + leased > 2900);
  CHECK(leased > 2 * p["negotiations"].get<uint64_t>());
  CHECK(placements(p, "a") > 2900);
  CHECK(p["tasks"]["query"]["likelihood"]["db"].get<double>() > 0.9);
  // 2 round trips of 0.5 ms next to the database (links the scenario does
  // not list jitter; a draw below zero counts as zero, so a little more).
  CHECK(p["after_first_minute"]["aux_latency_ms"]["mean"].get<double>()
        == doctest::Approx(1.0).epsilon(0.05));
  CHECK(ll["aux_latency_ms"]["mean"].get<double>() > 10);
  // The oracle too, but for bursts beyond host a's four slots.
  CHECK(placements(o, "a") > 2950);
}

TEST_CASE("simulate: a link event degrades, and placements follow") {
  auto text = two_hosts + R"(
[workload]
requests = 800
rate_per_s = 20
mix = { query = 1 }

[[event]]
at_s = 20
kind = "link"
host = "a"
service = "db"
rtt_ms = 60
)";
  auto p = run(text, "predictive");
  auto ll = run(text, "least-loaded");
  REQUIRE(p["phases"].size() == 2);
  CHECK(p["phases"][0]["to_s"] == 20);
  auto& before = p["phases"][0];
  auto& after = p["phases"][1];
  CHECK(before["hosts"]["a"]["placements"].get<uint64_t>()
        > 0.95 * before["invocations"].get<double>());
  CHECK(after["hosts"]["b"]["placements"].get<uint64_t>()
        > 0.95 * after["invocations"].get<double>());
  // The baseline pays the degraded link half of the time.
  CHECK(ll["phases"][1]["aux_latency_ms"]["mean"].get<double>()
        > ll["phases"][0]["aux_latency_ms"]["mean"].get<double>() + 10);
  CHECK(after["aux_latency_ms"]["mean"].get<double>()
        < ll["phases"][1]["aux_latency_ms"]["mean"].get<double>());
}

TEST_CASE("simulate: a task event is behaviour drift, and it is learned") {
  auto text = two_hosts + R"(
[workload]
requests = 4000
rate_per_s = 100
mix = { cpu = 1 }

[[event]]
at_s = 20
kind = "task"
task = "cpu"
service = "db"
probability = 1.0
)";
  auto p = run(text, "predictive");
  CHECK(p["phases"][0]["aux_latency_ms"]["mean"] == 0.0);
  CHECK(p["phases"][1]["aux_latency_ms"]["mean"].get<double>() > 0);
  CHECK(p["tasks"]["cpu"]["likelihood"]["db"].get<double>() > 0.9);
  // Before the drift `cpu` takes the fast path (to its home); after it, it
  // is negotiated.
  CHECK(p["fast_path"].get<uint64_t>()
        >= p["phases"][0]["invocations"].get<uint64_t>());
  CHECK(p["negotiations"].get<uint64_t>() + p["leased"].get<uint64_t>() > 1500);
}

TEST_CASE(
  "simulate: instance_down fails in-flight work, and the pool shrinks") {
  auto text = two_hosts + R"(
[[task]]
name = "slow"
duration_ms = 500
[[task.call]]
service = "db"

[workload]
requests = 200
rate_per_s = 10
mix = { slow = 1 }

[[event]]
at_s = 5
kind = "instance_down"
host = "a"
count = 2
)";
  auto p = run(text, "predictive");
  CHECK(p["failed"].get<uint64_t>() > 0);
  CHECK(p["failed"].get<uint64_t>() <= 4); // at most the slots in flight
  CHECK(p["phases"][1]["hosts"]["a"]["placements"] == 0);
  CHECK(p["phases"][1]["completed"].get<uint64_t>()
        == p["phases"][1]["invocations"].get<uint64_t>());
  CHECK(p["rejected"] == 0);
  CHECK(p["unanswered"] == 0);
}

TEST_CASE("simulate: the baselines behave as described") {
  // One task, well spaced: never two executions at once.
  auto text = two_hosts + R"(
[workload]
requests = 400
rate_per_s = 10
mix = { cpu = 1 }
)";
  SUBCASE("round-robin cycles through the instances in order") {
    auto r = run(text, "round-robin");
    CHECK(placements(r, "a") == 200);
    CHECK(placements(r, "b") == 200);
    CHECK(r["cold_starts"] == 4);
  }
  SUBCASE("hash-home keeps a task on its home instance while it is free") {
    auto r = run(text, "hash-home");
    CHECK((placements(r, "a") == 400 || placements(r, "b") == 400));
    CHECK(r["cold_starts"] == 1);
  }
  SUBCASE("random spreads over all instances") {
    auto r = run(text, "random");
    CHECK(placements(r, "a") > 150);
    CHECK(placements(r, "b") > 150);
    CHECK(r["cold_starts"] == 4);
  }
  SUBCASE("least-loaded ignores channels") {
    auto q = two_hosts + R"(
[workload]
requests = 400
rate_per_s = 10
mix = { query = 1 }
)";
    auto r = run(q, "least-loaded");
    CHECK(placements(r, "b") > 150);
  }
}

TEST_CASE("hash-home steps by a coprime step") {
  // OpenWhisk's pairwise coprime step sizes.
  CHECK(placement::coprime_steps(4) == std::vector<size_t>{1, 3});
  CHECK(placement::coprime_steps(10) == std::vector<size_t>{1, 3, 7});
  CHECK(placement::coprime_steps(12) == std::vector<size_t>{1, 5, 7, 11});
}

TEST_CASE("simulate: a bad scenario is refused with file, line and key") {
  CHECK(error_of(two_hosts)
        == "test.toml:1: key 'workload': a [workload] table is required");
  CHECK(error_of(two_hosts + "[workload]\nrate_per_s = 1\n")
        == "test.toml:38: key 'workload.requests': missing");
  CHECK(error_of(two_hosts
                 + "[workload]\nrequests = 1\nrate_per_s = 1\nmix = {x = 1}\n")
          .find("key 'workload.mix.x': no [[task]] named 'x'")
        != std::string::npos);
  CHECK(error_of(two_hosts
                 + "[workload]\nrequests = 1\nrate_per_s = 1\n"
                   "[[event]]\nat_s = 1\nkind = 'quake'\n")
        == "test.toml:43: key 'event[0].kind': unknown event kind 'quake' "
           "(known: link, task, instance_down)");
  CHECK(error_of(two_hosts
                 + "[workload]\nrequests = 1\nrate_per_s = 1\n"
                   "[[event]]\nat_s = 1\nkind = 'link'\nhost = 'zz'\n")
        == "test.toml:44: key 'event[0].host': no [[host]] named 'zz'");
  CHECK(error_of("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                 "[[task]]\nname='t'\n[[task.call]]\nservice='cache'\n"
                 "[workload]\nrequests=1\nrate_per_s=1\n")
        == "test.toml:8: key 'task[0].call[0].service': no [[service]] "
           "named 'cache'");
  CHECK(error_of("[[host]]\nname='a'\n[workload]\ntrace='azure2019'\n"
                 "invocations='nope.csv'\ndurations='nope.csv'\n")
        == "test.toml:5: key 'workload.invocations': nope.csv: cannot open "
           "the file");
}

TEST_CASE("azure trace: counts per minute and durations from percentiles") {
  // A derived sample in the format of the Azure Functions 2019 trace.
  test::temp_dir tmp;
  auto dir = tmp.file("azure_trace_test");
  {
    std::ofstream inv{dir + "_inv.csv"};
    inv << "HashOwner,HashApp,HashFunction,Trigger,480,481,482\n"
           "o1,a1,f1,http,1,0,2\n"
           "o2,a2,f2,queue,0,5,0\n";
    std::ofstream dur{dir + "_dur.csv"};
    dur << "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,"
           "percentile_Average_0,percentile_Average_1,percentile_Average_25,"
           "percentile_Average_50,percentile_Average_75,percentile_Average_99,"
           "percentile_Average_100\n"
           "o1,a1,f1,100,3,10,1000,10,10,50,100,150,900,1000\n";
  }
  auto t = load_azure_trace(dir + "_inv.csv", dir + "_dur.csv");
  CHECK(t.first_minute == 480);
  REQUIRE(t.functions.size() == 2);
  CHECK(t.total() == 8);
  CHECK(t.functions[1].trigger == "queue");
  auto& f = t.functions[0];
  CHECK(f.duration_at(0.5) == doctest::Approx(100));
  CHECK(f.duration_at(0.375) == doctest::Approx(75)); // between 25 and 50
  CHECK(f.duration_at(1.0) == doctest::Approx(1000));
  CHECK(t.functions[1].duration_percentiles.empty());
  {
    std::ofstream bad{dir + "_bad.csv"};
    bad << "HashOwner,HashApp,HashFunction,Trigger,480\no,a,f,http,x\n";
  }
  CHECK_THROWS_WITH_AS(load_azure_trace(dir + "_bad.csv", dir + "_dur.csv"),
                       (dir + "_bad.csv:2: not a finite number: 'x'").c_str(),
                       trace_error);
  // nan and huge values are refused with their line, not cast.
  {
    std::ofstream bad{dir + "_nan.csv"};
    bad << "HashOwner,HashApp,HashFunction,Trigger,480\no,a,f,http,nan\n";
    std::ofstream huge{dir + "_huge.csv"};
    huge << "HashOwner,HashApp,HashFunction,Trigger,480\no,a,f,http,1e30\n";
  }
  CHECK_THROWS_WITH_AS(load_azure_trace(dir + "_nan.csv", dir + "_dur.csv"),
                       (dir + "_nan.csv:2: not a finite number: 'nan'").c_str(),
                       trace_error);
  CHECK_THROWS_AS(load_azure_trace(dir + "_huge.csv", dir + "_dur.csv"),
                  trace_error);
  // Keys do not collide: "o1"+"a1f"+"1" is not "o1"+"a1"+"f1".
  {
    std::ofstream inv{dir + "_keys.csv"};
    inv << "HashOwner,HashApp,HashFunction,Trigger,480\no1,a1f,1,http,1\n";
  }
  auto k = load_azure_trace(dir + "_keys.csv", dir + "_dur.csv");
  REQUIRE(k.functions.size() == 1);
  CHECK(k.functions[0].duration_percentiles.empty());
}

TEST_CASE("azure trace: a first minute that is no minute is refused (fuzz)") {
  // Found by fuzz/fuzz_azure: the header's first minute was cast to int
  // unchecked (undefined for 5.5e11).
  std::istringstream inv{
    "HashOwner,HashApp,HashFunction,Trigger,555555555551,2\no,a,f,http,1,2\n"};
  std::istringstream dur{""};
  CHECK_THROWS_WITH_AS(
    parse_azure_trace(inv, "inv.csv", dur, "dur.csv"),
    "inv.csv:1: first minute '555555555551' is not a minute (0 to a year's)",
    trace_error);
  std::istringstream frac{"HashOwner,HashApp,HashFunction,Trigger,1.5\n"};
  CHECK_THROWS_AS(parse_azure_trace(frac, "inv.csv", dur, "dur.csv"),
                  trace_error);
}

TEST_CASE("simulate: hint-zone runs hinted tasks in their service's zone") {
  auto text = two_hosts + R"(
[workload]
requests = 1000
rate_per_s = 20
mix = { query = 1 }
)";
  // The same world, with `query` declaring the database.
  auto hinted = text;
  hinted.replace(hinted.find("name = \"query\""), 14,
                 "name = \"query\"\nhints = [\"db\"]");
  auto h = run(hinted, "hint-zone");
  CHECK(h["policy"] == "hint-zone");
  // In a's zone, but for bursts beyond a's four slots.
  CHECK(placements(h, "a") >= 990);
  // Without a hint it is least-loaded: both hosts.
  auto u = run(text, "hint-zone");
  CHECK(placements(u, "b") > 100);
}

TEST_CASE("scenarios: links not listed jitter as measured networks do") {
  auto sc = parse_scenario(
    two_hosts + "[workload]\nrequests = 1\nrate_per_s = 1\n", "t.toml");
  REQUIRE(sc.cluster.links.size() == 2);
  for (auto& l : sc.cluster.links) {
    auto same = l.host == "a";
    CHECK(l.jitter_ms
          == doctest::Approx(l.rtt_ms
                             * (same ? scenario_jitter_ratios::same_zone
                                     : scenario_jitter_ratios::cross_zone)));
  }
  // A cluster file keeps them exact unless it asks.
  auto cfg = parse_config("[[host]]\nname='a'\n[[service]]\nname='db'\n");
  CHECK(cfg.links.at(0).jitter_ms == 0);
  auto asked = parse_config("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                            "[defaults]\nsame_zone_jitter_ratio = 0.5\n");
  CHECK(asked.links.at(0).jitter_ms
        == doctest::Approx(0.5 * asked.same_zone_rtt_ms));
}

TEST_CASE("simulate: bytes cost transfer time, and throughput is learned") {
  // Host `a` is 1 ms from the database over 100 Mbit/s, `b` 6 ms over
  // 10 Gbit/s; nothing is declared and no throughput is known at first.
  // Moving 4 MB costs 320 ms from a, 3.2 ms from b: b is the place for
  // `upload`. `lookup` moves a few bytes in 10 round trips: a is its place.
  // The two-host world above, its database links given bandwidths.
  std::string text = two_hosts + R"(
[[link]]
host = "a"
service = "db"
rtt_ms = 1
bandwidth_mbps = 100
[[link]]
host = "b"
service = "db"
rtt_ms = 6
bandwidth_mbps = 10000

[[task]]
name = "upload"
duration_ms = 5
[[task.call]]
service = "db"
bytes = 4000000

[[task]]
name = "lookup"
duration_ms = 5
[[task.call]]
service = "db"
round_trips = 10
bytes = 100

[workload]
requests = 2000
rate_per_s = 20
)";
  auto only = [&](const std::string& task) {
    return text + "mix = { " + task + " = 1 }\n";
  };
  auto up = run(only("upload"), "predictive");
  // A few runs may go to `a` before its throughput is measured.
  CHECK(placements(up, "b") >= 1950);
  CHECK(up["after_first_minute"]["aux_latency_ms"]["mean"].get<double>() < 20);
  // Least-loaded pays the transfer whenever it picks `a`.
  auto ll = run(only("upload"), "least-loaded");
  CHECK(ll["aux_latency_ms"]["mean"].get<double>()
        > 3 * up["aux_latency_ms"]["mean"].get<double>());
  auto lookup = run(only("lookup"), "predictive");
  CHECK(placements(lookup, "a") >= 1950);
}
