#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "temp_dir.hpp"

#include "augur/runtime/node/config.hpp"
#include "augur/runtime/node/secrets.hpp"

using namespace augur;

namespace {

const char* good = R"(
[cluster]
threshold = 0.6
candidates = 2
probe_interval_ms = 50

[defaults]
same_zone_rtt_ms = 0.3
cross_zone_rtt_ms = 3

[[host]]
name = "a1"
zone = "a"
instances = 2
slots = 3

[[host]]
name = "b1"
zone = "b"

[[service]]
name = "db"
zone = "a"

[[link]]
host = "b1"
service = "db"
rtt_ms = 7.5
loss = 0.01
bandwidth_mbps = 250
)";

/// The error a config gives, or "" when it loads.
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "test.toml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("config: a good file loads, with defaults for unlisted links") {
  auto cfg = parse_config(good, "test.toml");
  CHECK(cfg.threshold == 0.6);
  CHECK(cfg.candidates == 2);
  CHECK(cfg.hosts.size() == 2);
  CHECK(cfg.hosts[0].slots == 3);
  CHECK(cfg.hosts[1].instances == 1);
  CHECK(cfg.instance_count() == 3);
  REQUIRE(cfg.links.size() == 2);
  CHECK(cfg.links[0].host == "b1");
  CHECK(cfg.links[0].rtt_ms == 7.5);
  CHECK(cfg.links[0].bandwidth_mbps == 250);
  CHECK(cfg.links[1].bandwidth_mbps == 0); // unlimited
  CHECK(cfg.links[1].host == "a1");
  CHECK(cfg.links[1].rtt_ms == 0.3); // same zone default
}

TEST_CASE("config: errors name the file, the line and the key") {
  CHECK(error_of(good) == "");
  CHECK(error_of("[cluster\nthreshold = 1")
          .rfind("test.toml:1: key '': malformed TOML", 0)
        == 0);
  CHECK(error_of("[cluster]\nthreshold = 1.5\n[[host]]\nname='x'")
        == "test.toml:2: key 'cluster.threshold': must be within [0, 1], "
           "got 1.5");
  CHECK(error_of("[cluster]\nthreshold = 'high'\n[[host]]\nname='x'")
        == "test.toml:2: key 'cluster.threshold': must be a number");
  CHECK(error_of("[cluster]\ncandidtes = 3\n[[host]]\nname='x'")
        == "test.toml:2: key 'cluster.candidtes': unknown key");
  CHECK(error_of("[cluster]\npolicy = 'magic'\n[[host]]\nname='x'")
          .find("unknown policy 'magic'")
        != std::string::npos);
  CHECK(error_of("[cluster]\nprewarm = 1\n[[host]]\nname='x'")
        == "test.toml:2: key 'cluster.prewarm': must be true or false");
  CHECK(error_of("[[host]]\nname='x'\n[trace]\nenabled = 'yes'\n")
        == "test.toml:4: key 'trace.enabled': must be true or false");
  CHECK_FALSE(
    parse_config("[cluster]\nprewarm = false\n[[host]]\nname='x'").prewarm);
  CHECK(error_of("[cluster]\n")
        == "test.toml:1: key 'host': at least one [[host]] is required");
  CHECK(error_of("[[host]]\nzone = 'a'\n")
        == "test.toml:1: key 'host[0].name': missing");
  CHECK(error_of("[[host]]\nname = 'a'\n\n[[host]]\nname = 'a'\n")
        == "test.toml:5: key 'host[1].name': duplicate host 'a'");
  CHECK(error_of("[[host]]\nname = 'a'\ninstances = 0\n")
        == "test.toml:3: key 'host[0].instances': must be within [1, "
           "1048576], got 0");
  CHECK(error_of("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                 "[[link]]\nhost='zz'\nservice='db'\nrtt_ms=1\n")
        == "test.toml:6: key 'link[0].host': no [[host]] named 'zz'");
  CHECK(error_of("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                 "[[link]]\nhost='a'\nservice='cache'\nrtt_ms=1\n")
        == "test.toml:7: key 'link[0].service': no [[service]] named "
           "'cache'");
  CHECK(error_of("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                 "[[link]]\nhost='a'\nservice='db'\n")
        == "test.toml:5: key 'link[0].rtt_ms': missing");
  CHECK(error_of("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                 "[[link]]\nhost='a'\nservice='db'\nrtt_ms=1\nloss=2\n")
        == "test.toml:9: key 'link[0].loss': must be within [0, 1], got 2");
  CHECK(error_of("[[host]]\nname='a'\n[[service]]\nname='db'\n"
                 "[[link]]\nhost='a'\nservice='db'\nrtt_ms=1\n"
                 "bandwidth_mbps=-5\n")
        == "test.toml:9: key 'link[0].bandwidth_mbps': must be within [0, "
           "1e+07], got -5");
  // nan passes every range check unless refused first.
  CHECK(error_of("[cluster]\nthreshold = nan\n[[host]]\nname='x'")
        == "test.toml:2: key 'cluster.threshold': must be a finite number");
  CHECK(error_of("[cluster]\nload_weight_ms = inf\n[[host]]\nname='x'")
        == "test.toml:2: key 'cluster.load_weight_ms': must be a finite "
           "number");
  CHECK(error_of("host = 3\n")
        == "test.toml:1: key 'host': must be an array of tables ([[host]])");
  CHECK(error_of("[[host]]\nname='a'\n[extra]\n")
        == "test.toml:3: key 'extra': unknown section");
}

TEST_CASE("config: a missing file is an error naming it") {
  CHECK_THROWS_WITH_AS(load_config("no/such/file.toml"),
                       "no/such/file.toml:0: key '': cannot open the file",
                       config_error);
}

TEST_CASE("config: nodes of a distributed deployment") {
  std::string nodes = R"(
[cluster]
secret = "s"

[[node]]
name = "control"
role = "control"
port = 7400

[[node]]
name = "w1"

[[host]]
name = "h1"
node = "w1"
)";
  auto cfg = parse_config(nodes, "test.toml");
  REQUIRE(cfg.nodes.size() == 2);
  CHECK(cfg.node("control")->port == 7400);
  CHECK(cfg.node("w1")->role == node_role::worker);
  CHECK(cfg.hosts[0].node == "w1");
  CHECK(cfg.secret == "s");
  CHECK(cfg.node("nobody") == nullptr);
  auto bad_host = nodes;
  bad_host.replace(bad_host.find("node = \"w1\""), 11, "node = \"control\"");
  CHECK(error_of(bad_host)
        == "test.toml:1: key 'host[0].node': host 'h1' must name a worker "
           "[[node]], got 'control'");
  CHECK(error_of("[[node]]\nname = 'a'\n[[host]]\nname = 'h'\nnode = 'a'\n")
        == "test.toml:1: key 'node': exactly one [[node]] must have role = "
           "\"control\"");
  CHECK(error_of("[[host]]\nname = 'h'\n[[node]]\nname = 'c'\nrole = 'boss'\n")
        == "test.toml:5: key 'node[0].role': must be control or worker, got "
           "'boss'");
  CHECK(error_of("[[node]]\nname = 'c'\nrole = 'control'\n[[host]]\nname='h'\n"
                 "node='c'\n")
          .find("a control node needs a port")
        != std::string::npos);
}

TEST_CASE("config: process tasks, services with endpoints, API, tenants") {
  auto cfg = parse_config(R"(
[api]
listen = "127.0.0.1:0"
max_body_bytes = 64

[[tenant]]
name = "t"
token = "tok"
tasks = ["*"]

[[host]]
name = "h"

[[service]]
name = "cache"
kind = "redis"
endpoint = "127.0.0.1:6379"

[[task]]
name = "run"
command = ["echo", "hi"]
hints = ["cache"]
timeout_ms = 500
memory_mb = 64
env = { A = "b" }
idempotent = true
)",
                          "test.toml");
  REQUIRE(cfg.tasks.size() == 1);
  CHECK(cfg.tasks[0].command == std::vector<std::string>{"echo", "hi"});
  CHECK(cfg.tasks[0].env.at("A") == "b");
  CHECK(cfg.tasks[0].idempotent);
  CHECK(cfg.services[0].kind == probe_kind::redis);
  CHECK(cfg.api.max_body_bytes == 64);
  CHECK(cfg.tenants[0].tasks == std::vector<std::string>{"*"});
  CHECK(error_of("[[host]]\nname='h'\n[[service]]\nname='s'\nendpoint='x'\n")
        == "test.toml:5: key 'service[0].endpoint': 'x' is not host:port: no "
           "':' before the port");
  CHECK(error_of("[[host]]\nname='h'\n[api]\nlisten='127.0.0.1:99999'\n")
        == "test.toml:4: key 'api.listen': '127.0.0.1:99999' is not "
           "host:port: the port must be a number from 1 to 65535");
  CHECK(error_of("[[host]]\nname='h'\n[[task]]\nname='t'\n")
        == "test.toml:3: key 'task[0].command': a non-empty array of strings "
           "(argv) is required");
  CHECK(error_of("[[host]]\nname='h'\n[[service]]\nname='s'\nkind='ftp'\n")
        == "test.toml:5: key 'service[0].kind': unknown service kind 'ftp' "
           "(known: tcp, redis)");
}

TEST_CASE("secrets: compared whole, whatever their length") {
  CHECK(same_secret("alice-token", "alice-token"));
  CHECK_FALSE(same_secret("alice-token", "alice-tokem"));
  CHECK_FALSE(same_secret("alice", "alice-token"));
  CHECK_FALSE(same_secret("", "alice-token"));
  CHECK(same_secret("", ""));
}

TEST_CASE("config: tokens and the secret from a file or the environment") {
  test::temp_dir t;
  std::ofstream{t.file("alice.token")} << "from-a-file\n";
  ::setenv("AUGUR_TEST_BOB_TOKEN", "from-the-env", 1);
  ::setenv("AUGUR_TEST_SECRET", "s3cret", 1);
  std::ofstream{t.file("cluster.toml")} << R"(
[cluster]
secret_env = "AUGUR_TEST_SECRET"

[[host]]
name = "a"

[[tenant]]
name = "alice"
token_file = "alice.token"

[[tenant]]
name = "bob"
token_env = "AUGUR_TEST_BOB_TOKEN"
)";
  auto cfg = load_config(t.file("cluster.toml"));
  CHECK(cfg.secret == "s3cret");
  REQUIRE(cfg.tenants.size() == 2);
  CHECK(cfg.tenants[0].token == "from-a-file");
  CHECK(cfg.tenants[1].token == "from-the-env");
  // The token file joins the cluster file among what executions never see.
  auto abs = [](const std::string& p) {
    return std::filesystem::absolute(p).lexically_normal().string();
  };
  CHECK(std::find(cfg.private_paths.begin(), cfg.private_paths.end(),
                  abs(t.file("alice.token")))
        != cfg.private_paths.end());
  CHECK(std::find(cfg.private_paths.begin(), cfg.private_paths.end(),
                  abs(t.file("cluster.toml")))
        != cfg.private_paths.end());
  const std::string head = "[[host]]\nname='a'\n[[tenant]]\nname='x'\n";
  CHECK(error_of(head + "token_env='AUGUR_TEST_NO_SUCH_VARIABLE'\n")
        == "test.toml:5: key 'tenant[0].token_env': the environment has no "
           "variable 'AUGUR_TEST_NO_SUCH_VARIABLE'");
  CHECK(error_of(head + "token='a'\ntoken_env='AUGUR_TEST_SECRET'\n")
        == "test.toml:6: key 'tenant[0].token': give one of token, "
           "token_file and token_env");
  CHECK(error_of(head)
        == "test.toml:3: key 'tenant[0].token': missing (or token_file, "
           "token_env)");
  CHECK(error_of(head + "token_file='/nonexistent/token'\n")
        == "test.toml:5: key 'tenant[0].token_file': cannot read "
           "'/nonexistent/token'");
}

TEST_CASE("config: TLS files and their directory are private") {
  auto cfg = parse_config(R"(
[tls]
ca = "/etc/augur/certs/ca.pem"
cert = "/etc/augur/certs/node.pem"
key = "/etc/augur/certs/node.key"

[[host]]
name = "a"
)",
                          "c.toml");
  auto has = [&](const std::string& p) {
    return std::find(cfg.private_paths.begin(), cfg.private_paths.end(), p)
           != cfg.private_paths.end();
  };
  CHECK(has("/etc/augur/certs/node.key"));
  // The authority's key sits there too, unnamed: the directory is hidden.
  CHECK(has("/etc/augur/certs"));
  CHECK(cfg.tls.enabled());
}
