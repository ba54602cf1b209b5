// Message tracing: the chain of one invocation, files, damage, merging.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"

#include "augur/runtime/tracing/trace_format.hpp"
#include <augur/embedded.hpp>

using namespace augur;

namespace {

const char* traced_cluster = R"(
[cluster]
candidates = 2

[trace]
enabled = true

[[host]]
name = "near"
instances = 2

[[host]]
name = "far"
zone = "b"
instances = 2

[[service]]
name = "db"
)";

/// The consumed messages of one invocation, as "receiver:type".
std::vector<std::string> chain(std::vector<trace_record> records,
                               uint64_t invocation) {
  resolve_invocations(records);
  std::vector<std::string> result;
  for (auto& x : records)
    if (x.invocation == invocation && x.event == "consume")
      result.push_back(x.receiver + ":" + x.type
                       + (x.response ? " (response)" : ""));
  return result;
}

} // namespace

TEST_CASE("trace: the whole chain of one invocation, in order") {
  auto c = embedded_cluster::from_toml(traced_cluster);
  c.define_task("orders", {{"db"}}, [](task_context& ctx, const std::string&) {
    return ctx.call("db", "q");
  });
  auto r = c.invoke("orders", "1");
  REQUIRE(r.ok());
  auto records = c.trace_records();
  // The profile was pushed when the task was defined: a cache hit, no
  // lookup. The host's probe gets the call's RTT (the first sample of the
  // service there); the observation moves the estimate: the registry pushes
  // again.
  std::vector<std::string> expected{
    "frontend:invoke_request",
    "instance:bid_request",
    "instance:bid_request",
    "frontend:bid (response)",
    "frontend:bid (response)",
    "instance:execute_request",
    "instance:done,@u64", // the execution's time (a cold start) elapsed
    "frontend:invoke_result (response)",
    "channel_probe:observation",
    "profile_registry:observation",
    "frontend:task_profile",
  };
  CHECK(chain(records, r.invocation) == expected);
  // The bid requests went to the two instances of the near host.
  std::vector<uint64_t> bidders;
  for (auto& x : records)
    if (x.type == "bid_request" && x.event == "consume")
      bidders.push_back(x.receiver_id);
  CHECK(bidders.size() == 2);
  CHECK(bidders[0] != bidders[1]);
  // A request and its response share the request id.
  auto req = std::find_if(records.begin(), records.end(), [](auto& x) {
    return x.type == "execute_request" && x.event == "consume";
  });
  REQUIRE(req != records.end());
  auto resp = std::find_if(records.begin(), records.end(), [&](auto& x) {
    return x.type == "invoke_result" && x.response && x.event == "consume"
           && x.request == req->request;
  });
  CHECK(resp != records.end());
  // The answered bid requests' timeouts arrive later and are dropped.
  auto drops = std::count_if(records.begin(), records.end(),
                             [](auto& x) { return x.event == "drop"; });
  CHECK(drops == 2);
}

TEST_CASE("trace: damaged files are read up to the damage") {
  trace_record a;
  a.time_ns = 5;
  a.node = "n";
  a.event = "send";
  a.type = "bid";
  a.invocation = 7;
  std::string bytes;
  write_record(bytes, a);
  auto first = bytes.size();
  a.time_ns = 6;
  write_record(bytes, a);
  auto whole = parse_trace(bytes, "t");
  CHECK(whole.damage.empty());
  REQUIRE(whole.records.size() == 2);
  CHECK(whole.records[1].time_ns == 6);
  CHECK(whole.records[0].invocation == 7);
  SUBCASE("truncated") {
    auto cut = parse_trace(bytes.substr(0, bytes.size() - 4), "t");
    CHECK(cut.records.size() == 1);
    CHECK(cut.damage == "truncated record");
    CHECK(cut.damage_offset == first);
  }
  SUBCASE("garbage") {
    auto bad = bytes.substr(0, first) + "\xc1\xc1\xc1" + bytes.substr(first);
    auto t = parse_trace(bad, "t");
    CHECK(t.records.size() == 1);
    CHECK(t.damage.rfind("not msgpack", 0) == 0);
    CHECK(t.damage_offset == first);
  }
  SUBCASE("a length that asks for gigabytes") {
    auto t = parse_trace(
      bytes.substr(0, first) + std::string{"\xdd\xff\x00\x00\x00", 5}, "t");
    CHECK(t.records.size() == 1);
    CHECK(t.damage_offset == first);
    CHECK(t.damage == "not msgpack (array size overflow)");
  }
  SUBCASE("not a record") {
    auto t = parse_trace(bytes.substr(0, first) + "\x93\x01\x02\x03", "t");
    CHECK(t.records.size() == 1);
    CHECK(t.damage == "not a trace record: not a msgpack map");
    auto u = parse_trace(std::string{"\x81\xa4node\xa1x"}, "t");
    CHECK(u.records.empty());
    CHECK(u.damage == "not a trace record: no key 'version'");
    CHECK(u.damage_offset == 0);
  }
  CHECK_THROWS_AS(read_trace("no/such/trace"), std::runtime_error);
}

TEST_CASE("trace: files of two nodes merge by time") {
  test::temp_dir tmp;
  auto file_a = tmp.file("merge_a.trace");
  auto file_b = tmp.file("merge_b.trace");
  auto make = [](const std::string& node, const std::string& file) {
    std::string cfg = traced_cluster;
    cfg.replace(cfg.find("enabled = true"), 14,
                "enabled = true\nnode = \"" + node + "\"\nfile = \"" + file
                  + "\"");
    return embedded_cluster::from_toml(cfg);
  };
  {
    auto a = make("control", file_a);
    auto b = make("worker", file_b);
    for (auto* c : {&a, &b})
      c->define_task("t", {{"db"}}, [](task_context& ctx, const std::string&) {
        return ctx.call("db", "");
      });
    a.invoke("t");
    b.advance(std::chrono::milliseconds(500));
    b.invoke("t");
  }
  auto fa = read_trace(file_a);
  auto fb = read_trace(file_b);
  CHECK(fa.damage.empty());
  CHECK(fb.damage.empty());
  auto all = merge_traces({fa, fb});
  CHECK(all.size() == fa.records.size() + fb.records.size());
  CHECK(std::is_sorted(all.begin(), all.end(),
                       [](auto& x, auto& y) { return x.time_ns < y.time_ns; }));
  auto nodes = std::count_if(all.begin(), all.end(),
                             [](auto& x) { return x.node == "worker"; });
  CHECK(nodes == static_cast<long>(fb.records.size()));
  // Both nodes numbered their first invocation 1: ids resolve per node.
  resolve_invocations(all);
  auto executes = std::count_if(all.begin(), all.end(), [](auto& x) {
    return x.type == "execute_request" && x.event == "consume"
           && x.invocation == 1;
  });
  CHECK(executes == 2);
}

TEST_CASE("trace: sampling keeps whole invocations") {
  std::string cfg = traced_cluster;
  cfg.replace(cfg.find("enabled = true"), 14, "enabled = true\nsample = 0.5");
  auto c = embedded_cluster::from_toml(cfg);
  c.define_task("t", {{"db"}}, [](task_context& ctx, const std::string&) {
    return ctx.call("db", "");
  });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back(c.invoke("t").invocation);
  auto records = c.trace_records();
  resolve_invocations(records);
  size_t kept = 0;
  size_t negotiated = 0;
  for (auto id : ids) {
    auto n = std::count_if(records.begin(), records.end(), [&](auto& x) {
      return x.invocation == id && x.event == "consume"
             && x.type == "execute_request";
    });
    auto bids = std::count_if(records.begin(), records.end(), [&](auto& x) {
      return x.invocation == id && x.event == "consume"
             && x.type == "bid_request";
    });
    // All or nothing (a run placed by a lease asks no bids, unless it
    // renews the lease).
    CHECK(((n == 1 && (bids == 0 || bids >= 2)) || (n == 0 && bids == 0)));
    kept += n;
    negotiated += n == 1 && bids >= 2;
  }
  CHECK(negotiated > 0);
  CHECK(kept > 5);
  CHECK(kept < 35);
}

TEST_CASE("trace: off records nothing and costs no sink") {
  auto c = embedded_cluster::from_toml(R"(
[[host]]
name = "h"
[[service]]
name = "db"
)");
  c.define_task("t", {}, [](task_context&, const std::string&) {
    return std::string{};
  });
  CHECK(c.invoke("t").ok());
  CHECK_THROWS_AS(c.trace_records(), std::logic_error);
}

TEST_CASE("trace: memory keeps the latest records, at most memory_records") {
  std::string cfg = traced_cluster;
  cfg.replace(cfg.find("enabled = true"), 14,
              "enabled = true\nmemory_records = 50");
  auto c = embedded_cluster::from_toml(cfg);
  c.define_task("t", {{"db"}}, [](task_context& ctx, const std::string&) {
    return ctx.call("db", "");
  });
  uint64_t last = 0;
  for (int i = 0; i < 40; ++i)
    last = c.invoke("t").invocation;
  auto records = c.trace_records();
  CHECK(records.size() == 50);
  // The newest are there: the last invocation's execution, and the first
  // invocation's admission gave way.
  resolve_invocations(records);
  CHECK(std::any_of(records.begin(), records.end(), [&](auto& x) {
    return x.invocation == last && x.type == "execute_request";
  }));
  CHECK(std::none_of(records.begin(), records.end(), [](auto& x) {
    return x.invocation == 1 && x.type == "invoke_request";
  }));
}

TEST_CASE("trace: content that is not UTF-8 still exports (fuzz)") {
  // Found by fuzz/fuzz_trace: a record's text with a byte that is not
  // UTF-8 made the Chrome export throw (and `augur trace chrome` abort).
  trace_record x;
  x.node = "n";
  x.event = "send";
  x.sender = "a\x9c";
  x.receiver = "b";
  x.type = "t";
  x.content = std::string{"\xff\xfe"};
  std::string json;
  REQUIRE_NOTHROW(json = to_chrome_json({x}));
  CHECK(json.find("\xEF\xBF\xBD") != std::string::npos); // U+FFFD
}
