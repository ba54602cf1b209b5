#include "augur/runtime/node/config.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/node/toml_reader.hpp"

namespace augur {

config_error::config_error(std::string file, uint32_t line, std::string key,
                           const std::string& problem)
  : std::runtime_error(file + ":" + std::to_string(line) + ": key '" + key
                       + "': " + problem),
    file_(std::move(file)),
    line_(line),
    key_(std::move(key)) {
  // nop
}

const node_config* cluster_config::node(const std::string& name) const {
  for (auto& n : nodes)
    if (n.name == name)
      return &n;
  return nullptr;
}

const node_config* cluster_config::control() const {
  for (auto& n : nodes)
    if (n.role == node_role::control)
      return &n;
  return nullptr;
}

size_t cluster_config::instance_count() const {
  size_t n = 0;
  for (auto& h : hosts)
    n += h.instances;
  return n;
}

const char* to_string(node_role x) {
  switch (x) {
    case node_role::all:
      return "all";
    case node_role::control:
      return "control";
    case node_role::worker:
      return "worker";
  }
  return "invalid";
}

namespace detail {

toml::table parse_toml(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw config_error(source, static_cast<uint32_t>(e.source().begin.line), "",
                       std::string{"malformed TOML: "}
                         + std::string{e.description()});
  }
}

/// TLS files and the directories that hold them are private: the
/// authority's key sits beside the certificates `augur certs` makes, unnamed
/// in the file (keep certificates in a directory of their own).
void add_tls_paths(cluster_config& cfg,
                   std::initializer_list<std::string> paths) {
  for (auto& p : paths) {
    if (p.empty())
      continue;
    for (auto& x : {p, std::filesystem::path{p}.parent_path().string()})
      if (std::find(cfg.private_paths.begin(), cfg.private_paths.end(), x)
          == cfg.private_paths.end())
        cfg.private_paths.push_back(x);
  }
}

cluster_config read_cluster(const toml::table& root, const std::string& source,
                            const std::set<std::string>& extra_sections,
                            cluster_config cfg) {
  std::set<std::string> top_keys{"cluster", "defaults", "host", "service",
                                 "link",    "trace",    "api",  "tenant",
                                 "node",    "sandbox",  "tls",  "state"};
  // A scenario's [[task]] is its own; a cluster's [[task]] runs programs.
  bool command_tasks = extra_sections.count("task") == 0;
  if (command_tasks)
    top_keys.insert("task");
  top_keys.insert(extra_sections.begin(), extra_sections.end());
  for (auto& [k, v] : root)
    if (top_keys.count(std::string{k.str()}) == 0)
      throw config_error(source, static_cast<uint32_t>(v.source().begin.line),
                         std::string{k.str()}, "unknown section");
  if (auto tbl = table_of(source, root, "cluster")) {
    table_reader r{source, *tbl, "cluster."};
    cfg.threshold = r.number("threshold", cfg.threshold, 0, 1);
    cfg.candidates
      = static_cast<uint32_t>(r.integer("candidates", cfg.candidates, 1, 1024));
    cfg.probe_interval_ms = r.number("probe_interval_ms", cfg.probe_interval_ms,
                                     0.001, 3.6e6);
    auto policy = r.string("policy", to_string(cfg.policy));
    if (auto p = parse_placement_policy(policy)) {
      cfg.policy = *p;
    } else {
      std::string names;
      for (auto known : all_placement_policies())
        names += (names.empty() ? "" : ", ") + std::string{to_string(known)};
      r.fail(r.node("policy"), "policy",
             "unknown policy '" + policy + "' (known: " + names + ")");
    }
    cfg.queue_capacity = static_cast<uint32_t>(
      r.integer("queue_capacity", cfg.queue_capacity, 0, 1u << 24));
    cfg.bid_deadline_ms = r.number("bid_deadline_ms", cfg.bid_deadline_ms,
                                   0.001, 60000);
    cfg.cold_start_ms = r.number("cold_start_ms", cfg.cold_start_ms, 0, 3.6e6);
    cfg.warm_capacity = static_cast<uint32_t>(
      r.integer("warm_capacity", cfg.warm_capacity, 0, 1u << 16));
    cfg.profile_half_life = r.number("profile_half_life", cfg.profile_half_life,
                                     1, 1e9);
    cfg.load_weight_ms = r.number("load_weight_ms", cfg.load_weight_ms, 0,
                                  3.6e6);
    cfg.stale_half_life_ms = r.number("stale_half_life_ms",
                                      cfg.stale_half_life_ms, 0.001, 3.6e6);
    cfg.stale_penalty_ms = r.number("stale_penalty_ms", cfg.stale_penalty_ms, 0,
                                    3.6e6);
    cfg.assumed_bandwidth_mbps = r.number(
      "assumed_bandwidth_mbps", cfg.assumed_bandwidth_mbps, 0.001, 1e7);
    cfg.homes = static_cast<uint32_t>(r.integer("homes", cfg.homes, 0, 64));
    cfg.control_rtt_ms = r.number("control_rtt_ms", cfg.control_rtt_ms, 0,
                                  60000);
    cfg.warm_horizon_s = r.number("warm_horizon_s", cfg.warm_horizon_s, 0,
                                  86400);
    cfg.lease_ms = r.number("lease_ms", cfg.lease_ms, 0, 3.6e6);
    cfg.prewarm = r.boolean("prewarm", cfg.prewarm);
    cfg.seed = r.integer("seed", cfg.seed, 0,
                         std::numeric_limits<int64_t>::max());
    cfg.secret = r.secret("secret", false, cfg.private_paths);
    cfg.heartbeat_ms = r.number("heartbeat_ms", cfg.heartbeat_ms, 1, 60000);
    cfg.node_timeout_ms = r.number("node_timeout_ms", cfg.node_timeout_ms, 1,
                                   600000);
    r.no_other_keys();
  }
  if (auto tbl = table_of(source, root, "defaults")) {
    table_reader r{source, *tbl, "defaults."};
    cfg.same_zone_rtt_ms = r.number("same_zone_rtt_ms", cfg.same_zone_rtt_ms, 0,
                                    60000);
    cfg.cross_zone_rtt_ms = r.number("cross_zone_rtt_ms", cfg.cross_zone_rtt_ms,
                                     0, 60000);
    cfg.same_zone_jitter_ratio = r.number("same_zone_jitter_ratio",
                                          cfg.same_zone_jitter_ratio, 0, 10);
    cfg.cross_zone_jitter_ratio = r.number("cross_zone_jitter_ratio",
                                           cfg.cross_zone_jitter_ratio, 0, 10);
    r.no_other_keys();
  }
  if (auto tbl = table_of(source, root, "trace")) {
    table_reader r{source, *tbl, "trace."};
    cfg.trace.enabled = r.boolean("enabled", cfg.trace.enabled);
    cfg.trace.content = r.boolean("content", cfg.trace.content);
    cfg.trace.file = r.string("file", "");
    cfg.trace.sample = r.number("sample", 1, 0, 1);
    cfg.trace.node = r.string("node", "local");
    cfg.trace.memory_records = r.integer(
      "memory_records", cfg.trace.memory_records, 1, uint64_t{1} << 26);
    r.no_other_keys();
  }
  std::set<std::string> host_names;
  if (auto arr = array_of_tables(source, root, "host")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "host[" + std::to_string(i) + "]."};
      host_config h;
      h.name = r.string("name", "", true);
      h.zone = r.string("zone", "default");
      h.instances
        = static_cast<uint32_t>(r.integer("instances", 1, 1, 1u << 20));
      h.slots = static_cast<uint32_t>(r.integer("slots", 1, 1, 1u << 16));
      h.bid_delay_ms = r.number("bid_delay_ms", 0, 0, 60000);
      if (r.node("control_rtt_ms"))
        h.control_rtt_ms = r.number("control_rtt_ms", 0, 0, 60000);
      h.node = r.string("node", "");
      r.no_other_keys();
      if (!host_names.insert(h.name).second)
        r.fail(r.node("name"), "name", "duplicate host '" + h.name + "'");
      cfg.hosts.push_back(std::move(h));
    }
  }
  if (cfg.hosts.empty())
    throw config_error(source, 1, "host", "at least one [[host]] is required");
  std::set<std::string> service_names;
  if (auto arr = array_of_tables(source, root, "service")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "service[" + std::to_string(i) + "]."};
      service_config s;
      s.name = r.string("name", "", true);
      s.zone = r.string("zone", "default");
      s.endpoint = r.string("endpoint", "");
      if (!s.endpoint.empty()) {
        try {
          parse_endpoint(s.endpoint);
        } catch (const std::invalid_argument& e) {
          r.fail(r.node("endpoint"), "endpoint", e.what());
        }
      }
      auto kind = r.string("kind", "tcp");
      if (kind == "tcp")
        s.kind = probe_kind::tcp;
      else if (kind == "redis")
        s.kind = probe_kind::redis;
      else
        r.fail(r.node("kind"), "kind",
               "unknown service kind '" + kind + "' (known: tcp, redis)");
      r.no_other_keys();
      if (!service_names.insert(s.name).second)
        r.fail(r.node("name"), "name", "duplicate service '" + s.name + "'");
      cfg.services.push_back(std::move(s));
    }
  }
  std::set<std::pair<std::string, std::string>> listed;
  if (auto arr = array_of_tables(source, root, "link")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "link[" + std::to_string(i) + "]."};
      link_spec l;
      l.host = r.reference("host", host_names, "host");
      l.service = r.reference("service", service_names, "service");
      l.rtt_ms = r.number("rtt_ms", 0, 0, 60000, true);
      l.jitter_ms = r.number("jitter_ms", 0, 0, 60000);
      l.loss = r.number("loss", 0, 0, 1);
      l.bandwidth_mbps = r.number("bandwidth_mbps", 0, 0, 1e7);
      r.no_other_keys();
      if (!listed.emplace(l.host, l.service).second)
        r.fail(r.node("host"), "host",
               "second link from '" + l.host + "' to '" + l.service + "'");
      cfg.links.push_back(std::move(l));
    }
  }
  if (command_tasks) {
    if (auto arr = array_of_tables(source, root, "task")) {
      std::set<std::string> names;
      for (size_t i = 0; i < arr->size(); ++i) {
        auto& tbl = *arr->get(i)->as_table();
        table_reader r{source, tbl, "task[" + std::to_string(i) + "]."};
        command_task_config t;
        t.name = r.string("name", "", true);
        t.command = r.strings("command");
        if (t.command.empty())
          r.fail(r.node("command"), "command",
                 "a non-empty array of strings (argv) is required");
        t.hints = r.strings("hints");
        for (auto& h : t.hints)
          if (service_names.count(h) == 0)
            r.fail(r.node("hints"), "hints",
                   "no [[service]] named '" + h + "'");
        t.timeout_ms = r.number("timeout_ms", 10000, 1, 3.6e6);
        t.memory_mb = r.integer("memory_mb", 0, 0, 1u << 20);
        t.setup = r.strings("setup");
        t.idempotent = r.boolean("idempotent", false);
        if (auto env = r.table("env")) {
          for (auto& [k, v] : *env) {
            if (!v.is_string())
              r.fail(&v, "env." + std::string{k.str()}, "must be a string");
            t.env[std::string{k.str()}] = *v.value<std::string>();
          }
        }
        r.no_other_keys();
        if (!names.insert(t.name).second)
          r.fail(r.node("name"), "name", "duplicate task '" + t.name + "'");
        cfg.tasks.push_back(std::move(t));
      }
    }
  }
  if (auto tbl = table_of(source, root, "sandbox")) {
    table_reader r{source, *tbl, "sandbox."};
    auto mode = r.string("mode", "bwrap");
    if (mode != "bwrap" && mode != "none")
      r.fail(r.node("mode"), "mode",
             "unknown sandbox mode '" + mode + "' (known: bwrap, none)");
    cfg.sandbox.bwrap = mode == "bwrap";
    if (auto n = r.node("mode"))
      cfg.sandbox.line = static_cast<uint32_t>(n->source().begin.line);
    cfg.sandbox.uid
      = static_cast<uint32_t>(r.integer("uid", cfg.sandbox.uid, 1, 4294967294));
    cfg.sandbox.gid
      = static_cast<uint32_t>(r.integer("gid", cfg.sandbox.gid, 1, 4294967294));
    r.no_other_keys();
  }
  if (auto tbl = table_of(source, root, "api")) {
    table_reader r{source, *tbl, "api."};
    cfg.api.listen = r.string("listen", cfg.api.listen);
    try {
      parse_endpoint(cfg.api.listen, true);
    } catch (const std::invalid_argument& e) {
      r.fail(r.node("listen"), "listen", e.what());
    }
    cfg.api.max_body_bytes = r.integer("max_body_bytes", cfg.api.max_body_bytes,
                                       1, 1ull << 32);
    cfg.api.idle_timeout_ms = r.number("idle_timeout_ms",
                                       cfg.api.idle_timeout_ms, 1, 3.6e6);
    cfg.api.max_connections = r.integer("max_connections",
                                        cfg.api.max_connections, 1, 1u << 20);
    r.no_other_keys();
  }
  if (auto tbl = table_of(source, root, "state")) {
    table_reader r{source, *tbl, "state."};
    cfg.state.path = r.path("path");
    cfg.state.retention_s = r.number("retention_s", cfg.state.retention_s, 1,
                                     3.2e7);
    cfg.state.max_records = r.integer("max_records", cfg.state.max_records, 1,
                                      1ull << 32);
    cfg.state.max_code_bytes
      = r.integer("max_code_bytes", cfg.state.max_code_bytes, 1, 1ull << 32);
    cfg.state.max_unpacked_bytes = r.integer(
      "max_unpacked_bytes", cfg.state.max_unpacked_bytes, 1, 1ull << 36);
    cfg.state.max_tasks = static_cast<uint32_t>(
      r.integer("max_tasks", cfg.state.max_tasks, 1, 1000000));
    r.no_other_keys();
  }
  if (auto arr = array_of_tables(source, root, "tenant")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "tenant[" + std::to_string(i) + "]."};
      tenant_config t;
      t.name = r.string("name", "", true);
      t.token = r.secret("token", true, cfg.private_paths);
      t.tasks = r.strings("tasks");
      r.no_other_keys();
      cfg.tenants.push_back(std::move(t));
    }
  }
  if (auto tbl = table_of(source, root, "tls")) {
    table_reader r{source, *tbl, "tls."};
    cfg.tls.line = static_cast<uint32_t>(tbl->source().begin.line);
    cfg.tls.ca = r.path("ca");
    cfg.tls.cert = r.path("cert");
    cfg.tls.key = r.path("key");
    cfg.tls.insecure = r.boolean("insecure", false);
    if (cfg.tls.insecure && cfg.tls.enabled())
      r.fail(r.node("insecure"), "insecure",
             "insecure = true and a ca: choose one");
    if (!cfg.tls.enabled() && (!cfg.tls.cert.empty() || !cfg.tls.key.empty()))
      r.fail(r.node("ca"), "ca",
             "missing: a certificate needs the cluster's authority");
    if (cfg.tls.cert.empty() != cfg.tls.key.empty())
      r.fail(r.node(cfg.tls.cert.empty() ? "key" : "cert"),
             cfg.tls.cert.empty() ? "cert" : "key",
             "missing: a certificate and its key go together");
    r.no_other_keys();
    add_tls_paths(cfg, {cfg.tls.ca, cfg.tls.cert, cfg.tls.key});
  }
  if (auto arr = array_of_tables(source, root, "node")) {
    std::set<std::string> names;
    size_t controls = 0;
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "node[" + std::to_string(i) + "]."};
      node_config n;
      n.name = r.string("name", "", true);
      n.address = r.string("address", "127.0.0.1");
      n.port = static_cast<uint16_t>(r.integer("port", 0, 0, 65535));
      n.line = static_cast<uint32_t>(tbl.source().begin.line);
      n.cert = r.path("cert");
      n.key = r.path("key");
      if (n.cert.empty() != n.key.empty())
        r.fail(r.node(n.cert.empty() ? "key" : "cert"),
               n.cert.empty() ? "cert" : "key",
               "missing: a certificate and its key go together");
      if (!n.cert.empty() && !cfg.tls.enabled())
        r.fail(r.node("cert"), "cert",
               "a node's certificate needs [tls] ca, the cluster's authority");
      if (cfg.tls.enabled() && n.cert.empty() && cfg.tls.cert.empty())
        r.fail(nullptr, "cert",
               "missing: with [tls], every node presents a certificate "
               "(here or in [tls])");
      add_tls_paths(cfg, {n.cert, n.key});
      auto role = r.string("role", "worker");
      if (role == "control")
        n.role = node_role::control;
      else if (role == "worker")
        n.role = node_role::worker;
      else
        r.fail(r.node("role"), "role",
               "must be control or worker, got '" + role + "'");
      if (n.role == node_role::control) {
        ++controls;
        if (n.port == 0)
          r.fail(r.node("port"), "port", "a control node needs a port");
      }
      r.no_other_keys();
      if (!names.insert(n.name).second)
        r.fail(r.node("name"), "name", "duplicate node '" + n.name + "'");
      cfg.nodes.push_back(std::move(n));
    }
    if (controls != 1)
      throw config_error(source, 1, "node",
                         "exactly one [[node]] must have role = \"control\"");
    for (size_t i = 0; i < cfg.hosts.size(); ++i) {
      auto& h = cfg.hosts[i];
      auto n = cfg.node(h.node);
      if (n == nullptr || n->role != node_role::worker)
        throw config_error(source, 1, "host[" + std::to_string(i) + "].node",
                           "host '" + h.name
                             + "' must name a worker [[node]], got '" + h.node
                             + "'");
    }
  }
  // Every other host-service pair gets a link from [defaults], by zone.
  for (auto& h : cfg.hosts)
    for (auto& s : cfg.services)
      if (listed.count({h.name, s.name}) == 0) {
        auto same = h.zone == s.zone;
        auto rtt = same ? cfg.same_zone_rtt_ms : cfg.cross_zone_rtt_ms;
        auto ratio = same ? cfg.same_zone_jitter_ratio
                          : cfg.cross_zone_jitter_ratio;
        cfg.links.push_back(link_spec{h.name, s.name, rtt, ratio * rtt, 0});
      }
  return cfg;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw config_error(path, 0, "", "cannot open the file");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

} // namespace detail

cluster_config parse_config(std::string_view text, const std::string& source) {
  auto cfg = detail::read_cluster(detail::parse_toml(text, source), source, {});
  cfg.source = source;
  return cfg;
}

cluster_config load_config(const std::string& path) {
  auto cfg = parse_config(detail::read_file(path), path);
  // Command arguments that start with ./ or ../ are relative to the file.
  auto dir = std::filesystem::absolute(path).parent_path();
  cfg.private_paths.push_back(
    std::filesystem::absolute(path).lexically_normal().string());
  if (cfg.state.path.empty())
    cfg.state.path
      = (dir / (std::filesystem::path{path}.stem().string() + ".state"))
          .lexically_normal()
          .string();
  for (auto& t : cfg.tasks)
    for (auto* args : {&t.command, &t.setup})
      for (auto& a : *args)
        if (a.rfind("./", 0) == 0 || a.rfind("../", 0) == 0)
          a = (dir / a).lexically_normal().string();
  return cfg;
}

} // namespace augur
