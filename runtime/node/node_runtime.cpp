#include "augur/runtime/node/node_runtime.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/logger.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "augur/actors/aux_service.hpp"
#include "augur/actors/channel_probe.hpp"
#include "augur/actors/deploy_hub.hpp"
#include "augur/actors/frontend.hpp"
#include "augur/actors/instance.hpp"
#include "augur/actors/profile_registry.hpp"
#include "augur/messages/errors.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/node/request.hpp"
#include "augur/runtime/node/secrets.hpp"
#include "augur/runtime/state/state_writer.hpp"
#include "augur/runtime/tracing/tracing.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

/// The real OpenSSL function `name`, of type `F`.
template <class F>
F real_openssl(const char* name) {
  auto f = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
  if (f == nullptr) {
    std::fprintf(stderr, "augur: OpenSSL has no %s\n", name);
    std::abort();
  }
  return f;
}

} // namespace

// CAF 0.17.6's TLS sessions call SSL_read, SSL_write, SSL_accept and
// SSL_connect without clearing the thread's OpenSSL error queue first, which
// OpenSSL requires for SSL_get_error to be right: an error left behind by
// one connection that failed (a worker killed) turns the next harmless
// SSL_ERROR_WANT_READ of another connection on the same multiplexer thread
// into a fatal error, and CAF drops that healthy connection too. These
// definitions take the place of OpenSSL's for CAF (a program's symbols come
// first) and clear the queue before each call, as OpenSSL asks; nothing
// else in augur calls them.
extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto f = real_openssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return f(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto f = real_openssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return f(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto f = real_openssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return f(ssl);
}

int SSL_connect(SSL* ssl) {
  static auto f = real_openssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return f(ssl);
}

} // extern "C"

namespace augur {

namespace {

/// True for an address that never leaves the machine.
bool loopback(const std::string& address) {
  if (address == "localhost")
    return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

/// Mutual TLS for node `name` (CAF's OpenSSL module): its certificate and
/// key, and the cluster's authority, the only one whose certificates it
/// accepts. A node whose cluster address is not loopback refuses to run
/// without TLS unless the file says `insecure = true`.
void prepare_tls(caf::actor_system_config& cfg, const cluster_config& cluster,
                 const std::string& name) {
  auto& tls = cluster.tls;
  if (!tls.enabled()) {
    auto control = cluster.control();
    if (control != nullptr && !loopback(control->address) && !tls.insecure)
      throw config_error(
        cluster.source, tls.line != 0 ? tls.line : control->line, "tls",
        "the cluster address " + control->address
          + " is not loopback: give [tls] ca, cert and key (see `augur "
            "certs`), or say [tls] insecure = true to run without TLS");
    return;
  }
  auto me = cluster.node(name);
  cfg.load<caf::openssl::manager>();
  cfg.openssl_cafile = tls.ca;
  cfg.openssl_certificate = me != nullptr && !me->cert.empty() ? me->cert
                                                               : tls.cert;
  cfg.openssl_key = me != nullptr && !me->key.empty() ? me->key : tls.key;
  // CAF loads them per connection, on its network thread, and throws there
  // when one is bad: load them once now, so that a bad file is a start-up
  // error naming it.
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                   &SSL_CTX_free};
  auto bad = [&](const std::string& key, const std::string& path,
                 const std::string& what) {
    ERR_clear_error();
    throw config_error(cluster.source, tls.line, key,
                       "'" + path + "': " + what);
  };
  if (!ctx)
    bad("tls", "", "OpenSSL cannot make a context");
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.openssl_cafile.c_str(),
                                    nullptr)
      != 1)
    bad("tls.ca", cfg.openssl_cafile, "not a readable PEM certificate");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(),
                                         cfg.openssl_certificate.c_str())
      != 1)
    bad("tls.cert", cfg.openssl_certificate, "not a readable PEM certificate");
  // Loading the key also checks it against the certificate loaded above.
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.openssl_key.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1)
    bad("tls.key", cfg.openssl_key,
        "not a readable PEM key, or not the key of '" + cfg.openssl_certificate
          + "'");
}

/// How long a worker node may take to install a deployed task (unpack its
/// code) before the control node gives up on it.
constexpr int64_t install_timeout_ms = 60000;

caf::actor_system_config& prepare(caf::actor_system_config& cfg,
                                  node_runtime::clock_mode mode,
                                  const cluster_config& cluster,
                                  bool distributed, const std::string& name) {
  register_messages(cfg);
  if (distributed && mode == node_runtime::clock_mode::virtual_time) {
    // Deterministic nodes: CAF's test multiplexer instead of sockets, run by
    // hand (`step`), no heartbeats.
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.network-backend", caf::atom("testing"));
    cfg.set("middleman.manual-multiplexing", true);
    cfg.set("middleman.workers", size_t{0});
  } else if (distributed) {
    // CAF's middleman is the distributed engine; heartbeats and connection
    // timeouts are off by default: a frozen peer would never be noticed.
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.heartbeat-interval",
            caf::timespan{static_cast<int64_t>(cluster.heartbeat_ms * 1e6)});
    cfg.set("middleman.connection-timeout",
            caf::timespan{static_cast<int64_t>(cluster.node_timeout_ms * 1e6)});
    prepare_tls(cfg, cluster, name);
  }
  if (mode == node_runtime::clock_mode::virtual_time) {
    cfg.set("scheduler.policy", caf::atom("testing"));
  } else {
    auto threads = std::max(2u, std::thread::hardware_concurrency());
    cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  }
  return cfg;
}

} // namespace

struct node_runtime::impl {
  // -- state -----------------------------------------------------------------

  cluster_config cfg;
  clock_mode mode;
  /// Distributed deployments: this node's name and role (`control`,
  /// `worker`), or `all` for one process.
  std::string node_name;
  node_role role;
  /// Answers of submitted invocations; filled by client actors (from worker
  /// threads in real time).
  std::mutex mtx;
  std::condition_variable cv;
  std::map<ticket, std::optional<invoke_result>> answers;
  ticket next_ticket = 1;
  /// The latest error that no caller waited for (guarded by `mtx`).
  std::string last_error;
  /// Real mode: the I/O thread of processes, gateways and probes. Stopped
  /// first (`~impl`), destroyed last: actors that end while the system shuts
  /// down still post to its context (a probe closing its gateways).
  std::shared_ptr<io_runner> io;
  /// Real-time control and all-in-one nodes: the state file's writer (the
  /// registry hands it profiles until the actor system is gone).
  std::unique_ptr<state_writer> state;
  // (All declared before the actor system: callbacks of its actors use
  // them until the system is gone.)
  caf::actor_system_config sys_cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<network_emulator> network;
  std::shared_ptr<task_catalog> catalog;
  profile_registry_actor registry;
  frontend_actor front;
  std::vector<aux_service_actor> services;
  std::vector<std::pair<std::string, instance_actor>> instances;
  std::vector<instance_info> infos;
  std::vector<channel_probe_actor> probes;
  caf::actor_clock::time_point started;
  std::shared_ptr<trace_sink> tracer;
  /// Real mode: the working directories.
  std::string workdir;
  sandbox_spec sandbox;
  /// Control node: the published gate, and the hub that hands deployed
  /// tasks to the workers. Worker node: the thread that joins the control
  /// node and joins again after losing it, and the agent that installs
  /// what the hub hands it.
  gate_actor gate;
  deploy_hub_actor hub;
  node_agent_actor agent;
  code_unpacker unpack;
  uint16_t published_port = 0;
  std::thread joiner;
  std::atomic<bool> stopping{false};
  std::atomic<bool> joined{false};
  std::atomic<uint64_t> joins{0};

  static node_role role_of(const cluster_config& cfg, const std::string& node) {
    if (node.empty() || cfg.nodes.empty())
      return node_role::all;
    auto n = cfg.node(node);
    if (n == nullptr)
      throw std::invalid_argument("no [[node]] named '" + node + "'");
    return n->role;
  }

  bool runs_host(const host_config& h) const {
    return role == node_role::all
           || (role == node_role::worker && h.node == node_name);
  }

  // -- construction ----------------------------------------------------------

  /// Opens the state file (throws `state_error` naming it) and keeps it
  /// from executions: the file and its log are private, only the server's
  /// user may read them.
  void open_state() {
    state_store::limits lim;
    lim.retention_s = cfg.state.retention_s;
    lim.max_records = cfg.state.max_records;
    auto path = cfg.state.path.empty() ? std::string{":memory:"}
                                       : cfg.state.path;
    auto store = std::make_shared<state_store>(path, lim);
    if (!cfg.state.path.empty()) {
      for (auto& p : {path, path + "-wal", path + "-shm"}) {
        ::chmod(p.c_str(), 0600);
        cfg.private_paths.push_back(p);
      }
    }
    state = std::make_unique<state_writer>(std::move(store),
                                           std::chrono::milliseconds(200));
  }

  /// The root of the executions' directories: made fresh and exclusive
  /// (mkdtemp: nobody can have planted it or links in it), crossable but
  /// not listable by others, so that a dropped uid reaches its own
  /// directory and nothing else.
  static std::string make_work_root() {
    auto pattern
      = (std::filesystem::temp_directory_path() / "augur-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot make a working directory under "
                               + std::filesystem::temp_directory_path().string()
                               + ": " + std::strerror(errno));
    ::chmod(pattern.c_str(), 0711);
    return pattern;
  }

  /// True when every directory above `path` may be crossed by others.
  static bool reachable_by_others(const std::string& path) {
    namespace fs = std::filesystem;
    for (auto p = fs::path{path}.parent_path(); !p.empty();
         p = p.parent_path()) {
      struct stat st;
      if (::stat(p.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0)
        return false;
      if (p == p.root_path())
        break;
    }
    return true;
  }

  /// How this node confines executions: bubblewrap unless the file says
  /// `mode = "none"`; a missing bwrap is a start-up error when the file
  /// defines process tasks (tasks defined later fail, never run unconfined).
  static sandbox_spec sandbox_of(const cluster_config& cfg,
                                 const std::string& workdir) {
    sandbox_spec sb;
    if (!cfg.sandbox.bwrap) {
      if (!cfg.tasks.empty())
        std::cerr << "augur: " << cfg.source
                  << ": [sandbox] mode = \"none\": task processes run as "
                     "this server's user and see everything it sees\n";
      return sb;
    }
    auto path = std::getenv("PATH");
    sb.bwrap = find_program("bwrap", path != nullptr ? path : "/usr/bin:/bin");
    if (sb.bwrap.empty()) {
      sb.unavailable = "the sandbox needs bwrap, which is not in PATH: install "
                       "Debian's package 'bubblewrap', or set [sandbox] mode "
                       "= \"none\" to run tasks unconfined";
      if (!cfg.tasks.empty())
        throw config_error(cfg.source, cfg.sandbox.line, "sandbox.mode",
                           sb.unavailable);
    }
    sb.drop = ::geteuid() == 0;
    sb.uid = cfg.sandbox.uid;
    sb.gid = cfg.sandbox.gid;
    // What a dropped uid cannot reach needs no hiding (and bwrap, running
    // as that uid, could not cover it). Sorted once here into directories
    // and files, not at every execution.
    for (auto& p : cfg.private_paths) {
      std::error_code ec;
      if (sb.drop && !reachable_by_others(p))
        continue;
      if (std::filesystem::is_directory(p, ec))
        sb.hidden_dirs.push_back(p);
      else if (std::filesystem::exists(p, ec))
        sb.hidden_files.push_back(p);
    }
    sb.hidden_dirs.push_back(workdir);
    return sb;
  }

  impl(cluster_config config, clock_mode m, oracle_view oracle,
       std::string node, code_unpacker unpacker)
    : cfg(std::move(config)),
      mode(m),
      node_name(std::move(node)),
      role(role_of(cfg, node_name)),
      sys(prepare(sys_cfg, m, cfg, role != node_role::all, node_name)) {
    unpack = std::move(unpacker);
    if (mode == clock_mode::virtual_time)
      sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
    if (cfg.trace.enabled) {
      tracer = std::make_shared<trace_sink>(cfg.trace);
      attach_trace_sink(sys, tracer);
    }
    started = sys.clock().now();
    network = std::make_shared<network_emulator>(cfg.seed);
    for (auto& l : cfg.links)
      network->set_link(l);
    catalog = std::make_shared<task_catalog>();
    std::map<std::string, std::string> endpoints;
    std::map<std::string, std::pair<std::string, probe_kind>> real;
    if (mode == clock_mode::real_time)
      for (auto& s : cfg.services)
        if (!s.endpoint.empty()) {
          endpoints[s.name] = s.endpoint;
          real[s.name] = {s.endpoint, s.kind};
        }
    if (mode == clock_mode::real_time && role != node_role::worker)
      open_state();
    if (mode == clock_mode::real_time) {
      // Processes, gateways and real probes run on one I/O thread.
      io = std::make_shared<io_runner>();
      workdir = make_work_root();
      sandbox = sandbox_of(cfg, workdir);
    }
    std::vector<std::string> service_names;
    std::map<std::string, aux_service_actor> service_actors;
    for (auto& s : cfg.services) {
      catalog->add_service(s.name);
      service_names.push_back(s.name);
      if (role == node_role::worker)
        continue; // the service actors live on the control node
      auto h = sys.spawn(aux_service,
                         service_info{s.name, s.zone, s.endpoint, true});
      services.push_back(h);
      service_actors.emplace(s.name, h);
    }
    channel_quality::settings quality;
    quality.fresh_ms = 2 * cfg.probe_interval_ms;
    quality.stale_half_life_ms = cfg.stale_half_life_ms;
    quality.stale_penalty_ms = cfg.stale_penalty_ms;
    quality.assumed_mbps = cfg.assumed_bandwidth_mbps;
    profile_registry_settings rs;
    rs.estimator.half_life = cfg.profile_half_life;
    rs.services = service_names;
    if (state) {
      rs.restored = state->store().profiles();
      rs.persist = [w = state.get()](const std::string& task,
                                     const profile_snapshot* x) {
        w->profile(task, x);
      };
    }
    if (role != node_role::worker)
      registry = sys.spawn(profile_registry, rs);
    frontend_settings fs;
    fs.policy = cfg.policy;
    for (auto& s : cfg.services)
      fs.service_zones[s.name] = s.zone;
    fs.threshold = cfg.threshold;
    fs.candidates = cfg.candidates;
    fs.queue_capacity = cfg.queue_capacity;
    fs.bid_deadline_ms = cfg.bid_deadline_ms;
    fs.warm_capacity = cfg.warm_capacity;
    fs.quality = quality;
    fs.load_weight_ms = cfg.load_weight_ms;
    fs.homes.count = cfg.homes;
    fs.cold_start_ms = cfg.cold_start_ms;
    fs.warm_horizon_s = cfg.warm_horizon_s;
    fs.lease_ms = cfg.lease_ms;
    fs.homes_refresh_ms = std::max(cfg.probe_interval_ms, 100.0);
    fs.prewarm = cfg.prewarm;
    fs.oracle = oracle;
    fs.seed = cfg.seed;
    if (role != node_role::worker)
      front = sys.spawn(augur::frontend, fs, registry);
    if (role == node_role::control)
      hub = sys.spawn(deploy_hub, static_cast<double>(install_timeout_ms));
    if (role == node_role::worker) {
      auto code = workdir.empty() ? std::string{} : workdir + "/code";
      // Unpacking blocks: a thread of its own in real time.
      agent = mode == clock_mode::real_time
                ? sys.spawn<caf::detached>(node_agent, catalog, code, unpack)
                : sys.spawn(node_agent, catalog, code, unpack);
    }
    uint64_t h_index = 0;
    for (auto& h : cfg.hosts) {
      if (!runs_host(h)) {
        ++h_index;
        continue;
      }
      // The probe first: the host's instances tell it what their
      // executions saw (passive samples).
      channel_probe_settings ps;
      ps.host = h.name;
      ps.services = service_names;
      ps.interval_ms = cfg.probe_interval_ms;
      ps.seed = cfg.seed * 1000003 + h_index++;
      ps.io = io;
      ps.real = real;
      channel_probe_actor probe = sys.spawn(channel_probe, ps, network,
                                            service_actors);
      std::vector<channel_listener_actor> listeners;
      if (front)
        listeners.push_back(front);
      for (uint32_t k = 0; k < h.instances; ++k) {
        instance_settings is;
        is.info = instance_info{h.name + "/" + std::to_string(k), h.name,
                                h.zone, h.slots};
        is.cold_start_ms = cfg.cold_start_ms;
        is.load_weight_ms = cfg.load_weight_ms;
        is.warm_capacity = cfg.warm_capacity;
        is.bid_delay_ms = h.bid_delay_ms;
        // Only emulated in virtual time: real messages pay the real network.
        if (mode == clock_mode::virtual_time)
          is.control_rtt_ms = h.control_rtt_ms >= 0 ? h.control_rtt_ms
                                                    : cfg.control_rtt_ms;
        is.quality = quality;
        is.io = io;
        is.endpoints = endpoints;
        is.probe = probe;
        is.passive_interval_ms = cfg.probe_interval_ms;
        is.sandbox = sandbox;
        if (!workdir.empty())
          is.workdir = workdir + "/" + h.name + "-" + std::to_string(k);
        instance_actor inst = sys.spawn(augur::instance, is, catalog, network,
                                        registry);
        if (front)
          caf::anon_send(front, caf::join_atom::value, is.info, inst);
        infos.push_back(is.info);
        listeners.push_back(inst);
        instances.emplace_back(is.info.name, inst);
      }
      for (auto& l : listeners)
        caf::anon_send(probe, caf::subscribe_atom::value, l);
      probes.push_back(probe);
    }
    for (auto& t : cfg.tasks) {
      task_options opts;
      opts.hints = t.hints;
      command_spec cmd{t.command,   t.env,   t.timeout_ms,
                       t.memory_mb, t.setup, {}};
      catalog->define_command(t.name, opts, cmd);
      if (registry)
        caf::anon_send(registry, task_spec{t.name, t.hints, t.idempotent});
    }
    // Deterministic nodes publish and join when the test says so.
    if (role == node_role::control && sched == nullptr)
      publish_gate();
    else if (role == node_role::worker && sched == nullptr)
      joiner = std::thread{[this] {
        keep_joined();
      }};
    run();
  }

  // -- distribution ----------------------------------------------------------

  /// Control node: publishes the gate, the only actor a stranger can reach.
  void publish_gate() {
    spawn_gate();
    publish_gate_now();
  }

  void spawn_gate() {
    // Arguments, not captures: CAF 0.17 dereferences a null argument pack
    // for argument-less function actors (UBSan flags it).
    gate = sys.spawn(
      [](gate_actor::pointer, std::string secret, frontend_actor f,
         profile_registry_actor r,
         deploy_hub_actor h) -> gate_actor::behavior_type {
        return {
          [=](caf::join_atom, const std::string& given, const std::string&)
            -> caf::result<frontend_actor, profile_registry_actor,
                           deploy_hub_actor> {
            if (!same_secret(given, secret))
              return make_error(ec::wrong_secret,
                                "the cluster's secret was not given");
            return {f, r, h};
          },
        };
      },
      cfg.secret, front, registry, hub);
  }

  void publish_gate_now() {
    auto me = cfg.node(node_name);
    // With TLS, only through the OpenSSL module: a plain publish would
    // open the door TLS closes.
    auto port
      = cfg.tls.enabled()
          ? caf::openssl::publish(gate, me->port, me->address.c_str(), true)
          : sys.middleman().publish(gate, me->port, me->address.c_str(), true);
    if (!port) {
      caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
      throw std::runtime_error("cannot listen on " + me->address + ":"
                               + std::to_string(me->port) + ": "
                               + sys.render(port.error()));
    }
    published_port = *port;
  }

  /// Whether something accepts TCP connections at host:port within the
  /// deadline. CAF 0.17 connects with a blocking call and no timeout inside
  /// its one middleman actor: check first, with Asio.
  static bool reachable(const std::string& host, uint16_t port,
                        std::chrono::milliseconds deadline) {
    boost::asio::io_context ctx;
    boost::asio::ip::tcp::socket sock{ctx};
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(host, ec);
    if (ec)
      return false;
    bool ok = false;
    sock.async_connect({addr, port}, [&](auto err) { ok = !err; });
    ctx.run_for(deadline);
    return ok;
  }

  // -- deterministic nodes (virtual time, CAF's test multiplexer) ------------

  caf::io::network::test_multiplexer* test_mpx() {
    if (sched == nullptr || role == node_role::all)
      return nullptr;
    return &dynamic_cast<caf::io::network::test_multiplexer&>(
      sys.middleman().backend());
  }

  /// Control node: publishes the gate through the middleman actor, without
  /// blocking (the test steps the network meanwhile).
  void publish_gate_async(uint16_t port) {
    if (!gate)
      spawn_gate();
    auto me = cfg.node(node_name);
    auto mm = sys.middleman().actor_handle();
    sys.spawn(
      [this](caf::event_based_actor* self, caf::io::middleman_actor to,
             uint16_t p, std::string address, gate_actor g) {
        auto sigs = sys.message_types(g);
        self
          ->request(to, caf::infinite, caf::publish_atom::value, p,
                    caf::actor_cast<caf::strong_actor_ptr>(g), std::move(sigs),
                    std::move(address), true)
          .then([this](uint16_t actual) { published_port = actual; },
                [this](caf::error& err) {
                  report_error("cannot publish the gate: " + sys.render(err));
                });
      },
      mm, port, me->address, gate);
  }

  /// Worker node: joins the control node through the middleman actor,
  /// without blocking; the result shows in `joined`.
  void join_async() {
    auto control = cfg.control();
    auto mm = sys.middleman().actor_handle();
    sys.spawn(
      [this](caf::event_based_actor* self, caf::io::middleman_actor to,
             std::string host, uint16_t port) {
        self->request(to, caf::infinite, caf::connect_atom::value, host, port)
          .then(
            [=](caf::node_id&, caf::strong_actor_ptr& ptr,
                std::set<std::string>&) {
              auto g = caf::actor_cast<gate_actor>(ptr);
              self
                ->request(g, caf::infinite, caf::join_atom::value, cfg.secret,
                          node_name)
                .then(
                  [=](frontend_actor& f, profile_registry_actor& r,
                      deploy_hub_actor& h) {
                    // The deployed tasks first, then the instances.
                    self
                      ->request(h, caf::infinite, caf::join_atom::value, agent)
                      .then(
                        [=](uint64_t) {
                          announce(f, r);
                          joined = true;
                          ++joins;
                        },
                        [this](caf::error& err) {
                          report_error("cannot install the deployed tasks: "
                                       + sys.render(err));
                        });
                  },
                  [this](caf::error& err) {
                    report_error("the control node refused to join: "
                                 + sys.render(err));
                  });
            },
            [this](caf::error& err) {
              report_error("cannot reach the control node: " + sys.render(err));
            });
      },
      mm, control->address, control->port);
  }

  /// Tells the control node about this worker's instances and probes.
  void announce(const frontend_actor& f, const profile_registry_actor& r) {
    for (size_t i = 0; i < instances.size(); ++i) {
      caf::anon_send(instances[i].second, registry_atom::value, r);
      caf::anon_send(f, caf::join_atom::value, infos[i], instances[i].second);
    }
    for (auto& p : probes)
      caf::anon_send(p, caf::subscribe_atom::value,
                     caf::actor_cast<channel_listener_actor>(f));
  }

  /// Control node: hands a deployment (or a deletion) to every worker node
  /// through the hub. In real time it waits until all installed it (throws
  /// `std::runtime_error` when one could not), so that the next invocation
  /// finds it wherever it is placed; deterministic nodes install as the
  /// test runs the network.
  template <class... Ts>
  void install(Ts&&... xs) {
    if (sched != nullptr) {
      caf::anon_send(hub, std::forward<Ts>(xs)...);
      return;
    }
    auto answer = std::make_shared<std::promise<std::string>>();
    auto done = answer->get_future();
    request_from_outside<uint64_t>(
      sys, hub, std::chrono::milliseconds(2 * install_timeout_ms),
      [answer](uint64_t) { answer->set_value(""); },
      [answer](const std::string& err) { answer->set_value(err); },
      std::forward<Ts>(xs)...);
    // Spawning keeps the system's logger in a thread-local of the calling
    // thread (CAF 0.17's spawn_impl), and the system's destructor waits
    // until the logger is gone: this thread (the state file's writer)
    // outlives the system, so it lets go of it now.
    caf::logger::set_current_actor_system(nullptr);
    std::string failed = "no answer from the hub";
    if (done.wait_for(std::chrono::milliseconds(3 * install_timeout_ms))
        == std::future_status::ready)
      failed = done.get();
    if (!failed.empty())
      throw std::runtime_error("a worker node did not install it: " + failed);
  }

  /// Keeps and logs an error no caller waits for (joining, publishing).
  void report_error(std::string what) {
    if (sched == nullptr)
      std::cerr << "augur: " << what << std::endl;
    std::lock_guard<std::mutex> guard{mtx};
    last_error = std::move(what);
  }

  /// Runs what is due now, then moves data through the test network.
  bool step() {
    bool progress = false;
    if (sched != nullptr)
      progress = sched->run() > 0;
    if (auto mpx = test_mpx()) {
      // Runnables before reads: the other order stalls the exchange.
      while (mpx->try_exec_runnable())
        progress = true;
      while (mpx->try_accept_connection())
        progress = true;
      while (mpx->try_read_data())
        progress = true;
    }
    return progress;
  }

  /// Worker node: joins the control node, and joins again, with backoff,
  /// whenever it is lost.
  void keep_joined() {
    auto control = cfg.control();
    auto backoff = std::chrono::milliseconds(100);
    while (!stopping) {
      if (reachable(control->address, control->port,
                    std::chrono::milliseconds(500))) {
        auto g = cfg.tls.enabled()
                   ? caf::openssl::remote_actor<gate_actor>(
                     sys, control->address, control->port)
                   : sys.middleman().remote_actor<gate_actor>(control->address,
                                                              control->port);
        if (g) {
          caf::scoped_actor self{sys};
          frontend_actor f;
          profile_registry_actor r;
          deploy_hub_actor h;
          self
            ->request(*g, std::chrono::seconds(5), caf::join_atom::value,
                      cfg.secret, node_name)
            .receive(
              [&](frontend_actor& fx, profile_registry_actor& rx,
                  deploy_hub_actor& hx) {
                f = std::move(fx);
                r = std::move(rx);
                h = std::move(hx);
              },
              [&](caf::error& err) {
                report_error("the control node refused to join: "
                             + sys.render(err));
              });
          // The deployed tasks first, then the instances: an invocation
          // placed here finds its task.
          bool installed = false;
          if (h)
            self
              ->request(h, std::chrono::milliseconds(install_timeout_ms),
                        caf::join_atom::value, agent)
              .receive([&](uint64_t) { installed = true; },
                       [&](caf::error& err) {
                         report_error("cannot install the deployed tasks: "
                                      + sys.render(err));
                       });
          if (f && r && installed) {
            announce(f, r);
            joined = true;
            ++joins;
            backoff = std::chrono::milliseconds(100);
            self->monitor(f);
            bool lost = false;
            while (!stopping && !lost)
              self->receive([&](caf::down_msg&) { lost = true; },
                            caf::after(std::chrono::milliseconds(100)) >>
                              [] {});
            joined = false;
          }
        }
      }
      // Back off before the next try: 100 ms, doubling, at most 5 s.
      for (auto waited = std::chrono::milliseconds(0);
           waited < backoff && !stopping;
           waited += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }

  ~impl() {
    stopping = true;
    if (joiner.joinable())
      joiner.join();
    if (gate) {
      // (Blocking: not with the deterministic test network, where exiting
      // the gate is enough.)
      if (sched == nullptr)
        sys.middleman().unpublish(gate, published_port);
      caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
    }
    if (io)
      io->stop();
    auto stop = [&](auto& h) {
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    };
    for (auto& p : probes)
      stop(p);
    for (auto& [_, i] : instances)
      if (i)
        stop(i);
    for (auto& s : services)
      stop(s);
    if (front)
      stop(front);
    if (registry)
      stop(registry);
    if (hub)
      stop(hub);
    if (agent)
      stop(agent);
    if (sched != nullptr) {
      // Pending timeouts keep actors alive: fire them all until none is left.
      do
        step();
      while (sched->trigger_timeouts() > 0);
    }
    if (tracer)
      detach_trace_sink(sys);
    if (!workdir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(workdir, ignored);
    }
  }

  // -- running ---------------------------------------------------------------

  /// Virtual time: runs every message due now.
  void run() {
    if (sched != nullptr)
      sched->run();
  }

  /// Virtual time: runs, jumping from timeout to timeout, until `done()`.
  template <class Predicate>
  void run_until(Predicate done) {
    for (;;) {
      sched->run();
      if (done())
        return;
      if (!sched->has_pending_timeout())
        throw std::logic_error("embedded cluster idle before an answer came: "
                               "an actor is missing or stuck");
      sched->trigger_timeout();
    }
  }

  /// Sends a request from a short-lived actor and returns the reply.
  template <class T, class Handle, class... Ts>
  T ask(const Handle& dest, Ts... xs) {
    if (sched == nullptr) {
      caf::scoped_actor self{sys};
      T result;
      std::string failure;
      self->request(dest, caf::infinite, xs...)
        .receive([&](T& x) { result = std::move(x); },
                 [&](caf::error& err) { failure = sys.render(err); });
      if (!failure.empty())
        throw std::runtime_error("request failed: " + failure);
      return result;
    }
    auto out = std::make_shared<std::optional<T>>();
    auto failure = std::make_shared<std::string>();
    request_from_outside<T>(
      sys, dest, caf::infinite, [=](T& x) { *out = std::move(x); },
      [=](std::string what) { *failure = std::move(what); }, xs...);
    run_until([&] { return out->has_value() || !failure->empty(); });
    if (!failure->empty())
      throw std::runtime_error("request failed: " + *failure);
    return std::move(**out);
  }

  /// Sends a request whose answer lands in `answers[t]`.
  template <class Handle, class Request>
  ticket submit_to(const Handle& dest, Request req) {
    ticket t;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (answers.size() >= max_unclaimed)
        throw std::length_error(
          "too many answers nobody took (" + std::to_string(answers.size())
          + "): wait for some, or drain, before submitting more");
      t = next_ticket++;
      answers.emplace(t, std::nullopt);
    }
    auto deliver = [this, t](invoke_result r) {
      std::lock_guard<std::mutex> guard{mtx};
      answers[t] = std::move(r);
      cv.notify_all();
    };
    request_from_outside<invoke_result>(
      sys, dest, caf::infinite,
      [=](invoke_result& r) { deliver(std::move(r)); },
      [=](std::string what) {
        invoke_result x;
        x.status = outcome::failed;
        x.error = "request failed: " + what;
        deliver(std::move(x));
      },
      req);
    run();
    return t;
  }

  bool ready(ticket t) {
    std::lock_guard<std::mutex> guard{mtx};
    auto i = answers.find(t);
    return i == answers.end() || i->second.has_value();
  }

  invoke_result wait(ticket t) {
    if (sched != nullptr) {
      run_until([&] { return ready(t); });
    } else {
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait(guard, [&] {
        auto i = answers.find(t);
        return i == answers.end() || i->second.has_value();
      });
    }
    std::lock_guard<std::mutex> guard{mtx};
    auto i = answers.find(t);
    if (i == answers.end())
      throw std::invalid_argument("unknown or already taken ticket "
                                  + std::to_string(t));
    auto result = std::move(*i->second);
    answers.erase(i);
    return result;
  }
};

// -- node_runtime --------------------------------------------------------

node_runtime node_runtime::from_toml(std::string_view text, clock_mode mode) {
  return node_runtime{parse_config(text), mode};
}

node_runtime node_runtime::from_file(const std::string& path, clock_mode mode) {
  return node_runtime{load_config(path), mode};
}

node_runtime::node_runtime(cluster_config cfg, clock_mode mode,
                           oracle_view oracle, std::string node,
                           code_unpacker unpack)
  : impl_(std::make_unique<impl>(std::move(cfg), mode, std::move(oracle),
                                 std::move(node), std::move(unpack))) {
  // nop
}

node_runtime::node_runtime(node_runtime&&) noexcept = default;

node_runtime& node_runtime::operator=(node_runtime&&) noexcept = default;

node_runtime::~node_runtime() = default;

void node_runtime::define_task(const std::string& name, task_options options,
                               task_handler handler) {
  auto hints = options.hints;
  auto known = impl_->catalog->services();
  for (auto& h : hints)
    if (known->count(h) == 0)
      throw std::invalid_argument("task '" + name + "' hints at '" + h
                                  + "', which is no service of this cluster");
  impl_->catalog->define(name, std::move(options), std::move(handler));
  if (impl_->registry) // a worker node has none: the control node learns
    caf::anon_send(impl_->registry, task_spec{name, std::move(hints)});
  impl_->run();
}

void node_runtime::define_command_task(const std::string& name,
                                       task_options options,
                                       command_spec command, uint64_t version,
                                       bool idempotent,
                                       const std::string& code_archive) {
  task_definition d;
  d.name = name;
  d.hints = options.hints;
  d.argv = command.argv;
  for (auto& [k, v] : command.env)
    d.env.push_back(k + "=" + v);
  d.timeout_ms = command.timeout_ms;
  d.memory_mb = command.memory_mb;
  d.setup = command.setup;
  d.version = version;
  d.idempotent = idempotent;
  d.code_path = code_archive;
  impl_->catalog->define_command(name, std::move(options), std::move(command),
                                 version);
  if (impl_->registry) // a worker node has none: the control node learns
    caf::anon_send(impl_->registry, task_spec{name, d.hints, idempotent});
  if (impl_->hub)
    impl_->install(std::move(d));
  impl_->run();
}

bool node_runtime::remove_task(const std::string& name) {
  auto removed = impl_->catalog->remove(name);
  if (removed && impl_->registry)
    caf::anon_send(impl_->registry, caf::delete_atom::value, name);
  if (removed && impl_->hub)
    impl_->install(caf::delete_atom::value, name);
  impl_->run();
  return removed;
}

state_writer* node_runtime::state() const {
  return impl_->state.get();
}

std::string node_runtime::code_root() const {
  return impl_->workdir.empty() ? std::string{} : impl_->workdir + "/code";
}

void node_runtime::define_service(const std::string& name,
                                  task_context::service_handler handler) {
  auto known = impl_->catalog->services();
  if (known->count(name) == 0)
    throw std::invalid_argument("no service named '" + name + "'");
  impl_->catalog->define_service(name, std::move(handler));
}

invoke_result node_runtime::invoke(const std::string& task,
                                   const std::string& payload) {
  return wait(submit(task, payload));
}

node_runtime::ticket node_runtime::submit(const std::string& task,
                                          const std::string& payload) {
  return impl_->submit_to(impl_->front, invoke_request{task, payload});
}

invoke_result node_runtime::wait(ticket t) {
  return impl_->wait(t);
}

std::vector<invoke_result> node_runtime::drain() {
  std::vector<ticket> pending;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    for (auto& [t, _] : impl_->answers)
      pending.push_back(t);
  }
  std::vector<invoke_result> result;
  for (auto t : pending)
    result.push_back(wait(t));
  return result;
}

node_runtime::ticket node_runtime::execute_on(const std::string& instance_name,
                                              const std::string& task,
                                              const std::string& payload) {
  for (auto& [name, h] : impl_->instances)
    if (name == instance_name && h)
      return impl_->submit_to(h, execute_request{0, task, payload});
  throw std::invalid_argument("no (live) instance named '" + instance_name
                              + "'");
}

void node_runtime::set_link(const std::string& host, const std::string& service,
                            std::chrono::duration<double, std::milli> rtt,
                            double loss,
                            std::chrono::duration<double, std::milli> jitter) {
  if (!impl_->network->link(host, service))
    throw std::invalid_argument("no link from '" + host + "' to '" + service
                                + "'");
  if (rtt.count() < 0 || jitter.count() < 0 || loss < 0 || loss > 1)
    throw std::invalid_argument("link values out of range");
  impl_->network->set_link(
    link_spec{host, service, rtt.count(), jitter.count(), loss});
}

std::vector<std::string> node_runtime::fail_instances(const std::string& host,
                                                      size_t n) {
  std::vector<std::string> failed;
  auto& x = *impl_;
  for (auto& [name, h] : x.instances) {
    if (failed.size() == n)
      break;
    if (name.compare(0, host.size() + 1, host + "/") != 0 || !h)
      continue;
    caf::anon_send_exit(h, caf::exit_reason::kill);
    h = nullptr;
    failed.push_back(name);
  }
  x.run();
  return failed;
}

std::shared_ptr<network_emulator> node_runtime::network() const {
  return impl_->network;
}

void node_runtime::advance(std::chrono::duration<double, std::milli> d) {
  auto& x = *impl_;
  if (x.sched == nullptr) {
    std::this_thread::sleep_for(d);
    return;
  }
  auto end = x.sched->clock().current_time
             + std::chrono::duration_cast<caf::timespan>(d);
  for (;;) {
    x.sched->run();
    auto& schedule = x.sched->clock().schedule();
    if (schedule.empty() || schedule.begin()->first > end)
      break;
    x.sched->trigger_timeout();
  }
  auto now = x.sched->clock().current_time;
  if (now < end)
    x.sched->advance_time(end - now);
  x.sched->run();
}

std::chrono::duration<double, std::milli> node_runtime::now() const {
  return std::chrono::duration<double, std::milli>{impl_->sys.clock().now()
                                                   - impl_->started};
}

task_profile node_runtime::profile(const std::string& task) {
  return impl_->ask<task_profile>(impl_->registry, caf::get_atom::value, task);
}

frontend_status node_runtime::status() {
  return impl_->ask<frontend_status>(impl_->front, caf::get_atom::value,
                                     status_atom::value);
}

std::vector<channel_sample> node_runtime::channels() {
  return impl_->ask<std::vector<channel_sample>>(
    impl_->front, caf::get_atom::value, channels_atom::value);
}

instance_status node_runtime::instance(const std::string& name) {
  for (auto& [n, h] : impl_->instances)
    if (n == name && h)
      return impl_->ask<instance_status>(h, caf::get_atom::value,
                                         status_atom::value);
  throw std::invalid_argument("no (live) instance named '" + name + "'");
}

service_info node_runtime::service(const std::string& name) {
  for (size_t i = 0; i < impl_->cfg.services.size(); ++i)
    if (impl_->cfg.services[i].name == name)
      return impl_->ask<service_info>(impl_->services[i], caf::get_atom::value);
  throw std::invalid_argument("no service named '" + name + "'");
}

std::vector<std::string> node_runtime::instances() const {
  std::vector<std::string> result;
  for (auto& [n, _] : impl_->instances)
    result.push_back(n);
  return result;
}

const cluster_config& node_runtime::config() const {
  return impl_->cfg;
}

caf::actor_system& node_runtime::system() {
  return impl_->sys;
}

node_role node_runtime::role() const {
  return impl_->role;
}

bool node_runtime::joined() const {
  return impl_->joined;
}

uint64_t node_runtime::joins() const {
  return impl_->joins;
}

std::string node_runtime::last_error() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->last_error;
}

uint16_t node_runtime::cluster_port() const {
  return impl_->published_port;
}

caf::io::network::test_multiplexer* node_runtime::test_network() {
  return impl_->test_mpx();
}

void node_runtime::publish(uint16_t port) {
  if (impl_->role != node_role::control || impl_->sched == nullptr)
    throw std::logic_error("publish: only for a deterministic control node");
  impl_->publish_gate_async(port);
}

void node_runtime::join() {
  if (impl_->role != node_role::worker || impl_->sched == nullptr)
    throw std::logic_error("join: only for a deterministic worker node");
  impl_->join_async();
}

bool node_runtime::step() {
  return impl_->step();
}

bool node_runtime::trigger_timeout() {
  return impl_->sched != nullptr && impl_->sched->trigger_timeout();
}

std::optional<invoke_result> node_runtime::poll(ticket t) {
  if (!impl_->ready(t))
    return std::nullopt;
  return impl_->wait(t);
}

std::vector<trace_record> node_runtime::trace_records() {
  if (!impl_->tracer)
    throw std::logic_error("tracing is off: set [trace] enabled = true");
  return impl_->tracer->records();
}

frontend_actor node_runtime::frontend() const {
  return impl_->front;
}

profile_registry_actor node_runtime::registry() const {
  return impl_->registry;
}

std::vector<instance_actor> node_runtime::instance_handles() const {
  std::vector<instance_actor> result;
  for (auto& [_, h] : impl_->instances)
    if (h)
      result.push_back(h);
  return result;
}

std::vector<std::string> node_runtime::tasks() const {
  return impl_->catalog->names();
}

bool node_runtime::has_task(const std::string& name) const {
  return impl_->catalog->find(name) != nullptr;
}

} // namespace augur
