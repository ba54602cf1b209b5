// Message tracing: the chain of one invocation, files, damage, merging.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "augur/runtime/embedded_cluster.hpp"
#include "augur/runtime/trace_format.hpp"

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
  // lookup. The observation moves the estimate: the registry pushes again.
  std::vector<std::string> expected{
    "frontend:invoke_request",
    "instance:bid_request",
    "instance:bid_request",
    "frontend:bid (response)",
    "frontend:bid (response)",
    "instance:execute_request",
    "instance:done,@u64", // the execution's time (a cold start) elapsed
    "frontend:invoke_result (response)",
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
