// The example of the README, verbatim: a user's unit test against an
// embedded augur cluster.

#include <doctest/doctest.h>

#include <augur/embedded.hpp>

using namespace std::chrono_literals;

TEST_CASE("orders run next to the database, and follow it when it moves") {
  auto cluster = augur::embedded_cluster::from_toml(R"(
    [cluster]
    threshold = 0.5

    [[host]]
    name = "eu-1"
    zone = "eu"
    instances = 2

    [[host]]
    name = "us-1"
    zone = "us"
    instances = 2

    [[service]]
    name = "db"
    zone = "eu"

    [defaults]
    same_zone_rtt_ms = 0.5
    cross_zone_rtt_ms = 80
  )");
  cluster.define_task("orders", {{"db"}},
                      [](augur::task_context& ctx, const std::string& id) {
                        return ctx.call("db", "GET order:" + id);
                      });
  auto r = cluster.invoke("orders", "42");
  CHECK(r.ok());
  CHECK(r.output == "GET order:42");
  CHECK(r.host == "eu-1");
  CHECK(r.reason.policy == "negotiated");
  CHECK(r.latency < 100ms);

  // The EU link degrades: within a few probe intervals orders move.
  cluster.set_link("eu-1", "db", 200ms);
  cluster.advance(500ms);
  CHECK(cluster.invoke("orders", "43").host == "us-1");
  CHECK(cluster.profile("orders").services[0].likelihood > 0.9);
}
