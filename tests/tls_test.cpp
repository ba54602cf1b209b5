// Mutual TLS between nodes, over real sockets: strangers (plain CAF, or TLS
// with a certificate of another authority) are refused before any message
// reaches an actor, and the cluster's own worker joins and serves after
// them.

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/remote_actor.hpp>

#include "redis_fixture.hpp"
#include "temp_dir.hpp"

#include "augur/runtime/node/certs.hpp"
#include "augur/runtime/node/node_runtime.hpp"

using namespace augur;

namespace {

/// Polls `done` for up to `limit`: a bound with a wide margin, not a timing
/// assumption.
bool within(std::chrono::seconds limit, const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string cluster_file(const std::string& dir, uint16_t port) {
  return R"(
[cluster]
secret = "s3cret"
cold_start_ms = 0

[tls]
ca = ")" + dir
         + R"(/ca.pem"

[[node]]
name = "control"
role = "control"
port = )" + std::to_string(port)
         + R"(
cert = ")"
         + dir + R"(/control.pem"
key = ")" + dir
         + R"(/control.key"

[[node]]
name = "w1"
cert = ")"
         + dir + R"(/w1.pem"
key = ")" + dir
         + R"(/w1.key"

[[host]]
name = "h1"
node = "w1"
instances = 1

[[service]]
name = "db"
)";
}

} // namespace

TEST_CASE("tls: strangers are refused, the cluster's own node joins") {
  test::temp_dir ours;
  test::temp_dir theirs;
  make_cluster_certs(ours.path().string(), {"control", "w1"});
  // A stranger with an authority of its own, who also knows (and trusts)
  // the cluster's public authority certificate.
  make_cluster_certs(theirs.path().string(), {"stranger"});
  auto port = test::free_port();
  auto cfg = parse_config(cluster_file(ours.path().string(), port));
  node_runtime control{cfg, node_runtime::clock_mode::real_time, {}, "control"};
  REQUIRE(control.cluster_port() == port);

  // A small CAF client that asks for the gate as a member would (its typed
  // interface, augur's message types known): plain, or over TLS with the
  // given certificate and key, trusting the cluster's authority.
  auto reach_gate = [&](const std::string& cert,
                        const std::string& key) -> caf::expected<gate_actor> {
    caf::actor_system_config c;
    register_messages(c);
    c.load<caf::io::middleman>();
    if (!cert.empty()) {
      c.load<caf::openssl::manager>();
      c.openssl_certificate = cert;
      c.openssl_key = key;
      c.openssl_cafile = ours.file("ca.pem");
    }
    caf::actor_system sys{c};
    return cert.empty()
             ? sys.middleman().remote_actor<gate_actor>("127.0.0.1", port)
             : caf::openssl::remote_actor<gate_actor>(sys, "127.0.0.1", port);
  };
  // The refusal is the transport's, not a mismatch of interfaces: the same
  // client with a certificate of the cluster gets the gate.
  auto refused = [](const caf::expected<gate_actor>& x) {
    return !x
           && x.error()
                != caf::make_error(
                  caf::sec::unexpected_actor_messaging_interface);
  };
  SUBCASE("a member's certificate reaches the gate") {
    auto x = reach_gate(ours.file("w1.pem"), ours.file("w1.key"));
    CHECK(x);
  }
  SUBCASE("plain CAF") {
    CHECK(refused(reach_gate("", "")));
  }
  SUBCASE("TLS with a certificate of another authority") {
    CHECK(refused(
      reach_gate(theirs.file("stranger.pem"), theirs.file("stranger.key"))));
  }
  // Afterwards the cluster's own worker joins and serves.
  node_runtime worker{cfg, node_runtime::clock_mode::real_time, {}, "w1"};
  for (auto* n : {&control, &worker})
    n->define_task("hello", {}, [](task_context&, const std::string& in) {
      return "hello " + in;
    });
  REQUIRE(within(std::chrono::seconds(30),
                 [&] { return control.status().live_instances == 1; }));
  auto r = control.invoke("hello", "tls");
  CHECK(r.status == outcome::ok);
  CHECK(r.output == "hello tls");
  CHECK(r.host == "h1");
}

TEST_CASE("tls: a cluster address beyond loopback needs TLS or says so") {
  auto text = std::string{R"(
[[node]]
name = "control"
role = "control"
address = "10.1.2.3"
port = 7400

[[node]]
name = "w1"

[[host]]
name = "h1"
node = "w1"
)"};
  auto error_of = [](const std::string& t) {
    try {
      node_runtime n{parse_config(t, "c.toml"),
                     node_runtime::clock_mode::real_time,
                     {},
                     "w1"};
    } catch (const config_error& e) {
      return std::string{e.what()};
    }
    return std::string{"started"};
  };
  INFO(error_of(text));
  CHECK(error_of(text).rfind("c.toml:2: key 'tls': the cluster address "
                             "10.1.2.3 is not loopback",
                             0)
        == 0);
  // Insecure and an authority at once: one or the other.
  auto both = "[tls]\nca = 'ca.pem'\ninsecure = true\n" + text;
  CHECK(error_of(both)
        == "c.toml:3: key 'tls.insecure': insecure = true and a ca: choose "
           "one");
}

TEST_CASE("tls: bad files are start-up errors, and the authority is kept") {
  test::temp_dir d;
  make_cluster_certs(d.path().string(), {"control", "w1"});
  auto text = cluster_file(d.path().string(), test::free_port());
  // w1 presents control's key: refused at start, naming file and key.
  auto swapped = text;
  swapped.replace(swapped.find("/w1.key"), 7, "/control.key");
  try {
    node_runtime n{parse_config(swapped, "c.toml"),
                   node_runtime::clock_mode::real_time,
                   {},
                   "w1"};
    FAIL("started with a key that is not its certificate's");
  } catch (const config_error& e) {
    CHECK(std::string{e.what()}.find("key 'tls.key'") != std::string::npos);
    CHECK(std::string{e.what()}.find("not the key of") != std::string::npos);
  }
  // One half of the authority gone: never silently a new authority.
  std::filesystem::remove(d.file("ca.key"));
  CHECK_THROWS_WITH_AS(make_cluster_certs(d.path().string(), {"w2"}),
                       doctest::Contains("refusing to replace"),
                       std::runtime_error);
}
