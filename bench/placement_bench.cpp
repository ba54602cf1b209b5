// Placement throughput through the frontend against CAF's raw
// request/response, and the latency of the placement decision itself.
//
//   augur_bench [--requests N] [--window W]
//
// Prints one JSON document. Every figure comes from this one run: compare
// ratios, not absolute numbers, across machines.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "augur/model/instance_pool.hpp"
#include "augur/model/latency_stats.hpp"
#include "augur/model/placement.hpp"
#include "augur/probes/channel_quality.hpp"
#include "augur/runtime/node/certs.hpp"
#include "augur/runtime/node/node_runtime.hpp"

using namespace augur;
using clk = std::chrono::steady_clock;

namespace {

/// Keeps `window` requests in flight from one client actor until `total`
/// have been answered; returns answers per second.
template <class Reply, class Handle, class Make>
double closed_loop(caf::actor_system& sys, Handle dest, size_t total,
                   size_t window, Make make_request) {
  std::promise<double> done;
  auto result = done.get_future();
  sys.spawn([=, done = std::move(done)](caf::event_based_actor* self) mutable {
    struct state {
      size_t sent = 0;
      size_t answered = 0;
      clk::time_point start = clk::now();
      std::promise<double> done;
    };
    auto st = std::make_shared<state>();
    st->done = std::move(done);
    auto send_one = std::make_shared<std::function<void()>>();
    *send_one = [=] {
      ++st->sent;
      auto next = [=] {
        if (++st->answered == total) {
          std::chrono::duration<double> secs = clk::now() - st->start;
          st->done.set_value(total / secs.count());
          *send_one = nullptr; // break the cycle
          return;
        }
        if (st->sent < total)
          (*send_one)();
      };
      self->request(dest, caf::infinite, make_request(st->sent))
        .then([=](Reply&) { next(); },
              [=](caf::error& err) {
                std::cerr << "augur_bench: a request failed: "
                          << self->system().render(err) << std::endl;
                next();
              });
    };
    for (size_t i = 0; i < window && i < total; ++i)
      (*send_one)();
  });
  return result.get();
}

cluster_config bench_cluster(size_t hosts, size_t per_host) {
  cluster_config cfg;
  cfg.queue_capacity = 1u << 20;
  cfg.probe_interval_ms = 100;
  cfg.cold_start_ms = 0;
  cfg.services.push_back(service_config{"db", "z0", ""});
  for (size_t h = 0; h < hosts; ++h) {
    auto name = "h" + std::to_string(h);
    cfg.hosts.push_back(host_config{name, "z" + std::to_string(h),
                                    static_cast<uint32_t>(per_host), 1, 0, ""});
    // Zero-RTT links: no-op tasks, so that only augur's own work is timed;
    // the hosts still differ in the probes' eyes by nothing but noise.
    cfg.links.push_back(link_spec{name, "db", 0, 0, 0});
  }
  return cfg;
}

nlohmann::json decision_latency(size_t instances, size_t per_host,
                                size_t samples) {
  instance_pool pool;
  auto hosts = instances / per_host;
  for (size_t i = 0; i < instances; ++i)
    pool.add("i" + std::to_string(i), "h" + std::to_string(i / per_host), 1);
  std::mt19937_64 rng{1};
  // Half the instances busy, at random.
  std::vector<instance_pool::index> order(instances);
  for (size_t i = 0; i < instances; ++i)
    order[i] = static_cast<instance_pool::index>(i);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < instances / 2; ++i)
    pool.acquire(order[i]);
  channel_quality quality;
  std::vector<channel_sample> table(hosts);
  for (size_t h = 0; h < hosts; ++h) {
    table[h].up = true;
    table[h].probes = 10;
    table[h].srtt_ms = 0.1 + (h * 7919 % 100) * 0.3;
    table[h].rttvar_ms = 0.05;
  }
  latency_stats fast;
  latency_stats negotiate;
  size_t sink = 0;
  std::vector<double> costs(hosts);
  for (size_t s = 0; s < samples; ++s) {
    auto t0 = clk::now();
    sink += placement::power_of_k(pool, 3, "task", rng);
    auto t1 = clk::now();
    for (size_t h = 0; h < hosts; ++h)
      costs[h] = quality.cost_ms(table[h], 5.0);
    sink += placement::shortlist(pool, costs, 3).size();
    auto t2 = clk::now();
    fast.add(std::chrono::duration<double, std::micro>(t1 - t0).count());
    negotiate.add(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  if (sink == 42)
    std::cerr << "";
  auto js = [](const latency_stats& x) {
    return nlohmann::json{{"p50", x.percentile(50)}, {"p99", x.percentile(99)}};
  };
  return {{"instances", instances},
          {"hosts", hosts},
          {"fast_path_us", js(fast)},
          {"negotiation_shortlist_us", js(negotiate)}};
}

} // namespace

/// The cluster of the distributed comparison: a control node and two
/// workers of 500 instances each, or the same hosts in one process; with
/// mutual TLS when `tls_dir` holds what `augur certs` makes.
cluster_config distributed_cluster(uint16_t port, bool nodes,
                                   const std::string& tls_dir = "") {
  auto cfg = bench_cluster(2, 500);
  cfg.secret = "bench";
  if (nodes) {
    for (auto [name, role] : {std::pair{"control", node_role::control},
                              std::pair{"w1", node_role::worker},
                              std::pair{"w2", node_role::worker}}) {
      node_config n;
      n.name = name;
      n.role = role;
      n.port = role == node_role::control ? port : 0;
      if (!tls_dir.empty()) {
        n.cert = tls_dir + "/" + name + ".pem";
        n.key = tls_dir + "/" + name + ".key";
      }
      cfg.nodes.push_back(n);
    }
    if (!tls_dir.empty())
      cfg.tls.ca = tls_dir + "/ca.pem";
    cfg.hosts[0].node = "w1";
    cfg.hosts[1].node = "w2";
  }
  return cfg;
}

/// The benchmark's tasks: `noop` does nothing, `noop-db` makes one call to
/// the database (zero-RTT links: only augur's own work is timed).
void define_noop(node_runtime& c) {
  c.define_task("noop", {}, [](task_context&, const std::string&) {
    return std::string{};
  });
}

void define_noop_db(node_runtime& c) {
  c.define_task("noop-db", {{"db"}}, [](task_context& ctx, const std::string&) {
    return ctx.call("db", "");
  });
}

/// `--worker NAME PORT [TLS_DIR]`: runs a worker node until stdin closes.
int run_worker(const std::string& name, uint16_t port,
               const std::string& tls_dir) {
  node_runtime c{distributed_cluster(port, true, tls_dir),
                 node_runtime::clock_mode::real_time,
                 {},
                 name};
  define_noop(c);
  std::string line;
  std::getline(std::cin, line);
  return 0;
}

/// Placements per second through a control node whose instances live in two
/// worker processes (over TLS when `tls_dir` is given); the instances that
/// joined go to `joined`.
double across_nodes(const char* self_path, size_t requests, size_t window,
                    const std::string& tls_dir, size_t& joined) {
  uint16_t port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a{
      io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
    port = a.local_endpoint().port();
  }
  node_runtime control{distributed_cluster(port, true, tls_dir),
                       node_runtime::clock_mode::real_time,
                       {},
                       "control"};
  define_noop(control);
  std::vector<FILE*> workers;
  for (auto name : {"w1", "w2"})
    workers.push_back(::popen((std::string{self_path} + " --worker " + name
                               + " " + std::to_string(port) + " " + tls_dir)
                                .c_str(),
                              "w"));
  // Wait (bounded) until both workers' 1,000 instances joined.
  for (int i = 0; i < 3000 && control.status().live_instances < 1000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  joined = control.status().live_instances;
  control.invoke("noop");
  auto remote = closed_loop<invoke_result>(control.system(), control.frontend(),
                                           requests, window, [](size_t) {
                                             return invoke_request{"noop", ""};
                                           });
  for (auto* w : workers)
    ::pclose(w);
  return remote;
}

/// Placements per second across nodes, plain and with mutual TLS, against
/// the same hosts in one process.
nlohmann::json distributed(const char* self_path, size_t requests,
                           size_t window) {
  double local = 0;
  {
    node_runtime c{distributed_cluster(0, false),
                   node_runtime::clock_mode::real_time};
    define_noop(c);
    c.invoke("noop");
    local = closed_loop<invoke_result>(c.system(), c.frontend(), requests,
                                       window, [](size_t) {
                                         return invoke_request{"noop", ""};
                                       });
  }
  auto tls_dir = (std::filesystem::temp_directory_path()
                  / ("augur-bench-certs-" + std::to_string(::getpid())))
                   .string();
  make_cluster_certs(tls_dir, {"control", "w1", "w2"});
  nlohmann::json out;
  size_t joined_plain = 0;
  size_t joined_tls = 0;
  auto plain = across_nodes(self_path, requests, window, "", joined_plain);
  auto tls = across_nodes(self_path, requests, window, tls_dir, joined_tls);
  std::filesystem::remove_all(tls_dir);
  out["instances_joined"] = {{"plain", joined_plain}, {"tls", joined_tls}};
  out["one_process_per_s"] = local;
  out["three_processes_per_s"] = plain;
  out["three_processes_tls_per_s"] = tls;
  out["ratio"] = plain / local;
  out["tls_ratio_to_plain"] = tls / plain;
  return out;
}

int main(int argc, char** argv) {
  size_t requests = 200000;
  size_t window = 64;
  if (argc >= 4 && std::strcmp(argv[1], "--worker") == 0)
    return run_worker(argv[2], static_cast<uint16_t>(std::atoi(argv[3])),
                      argc >= 5 ? argv[4] : "");
  bool only_distributed = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
      requests = std::strtoull(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--window") == 0 && i + 1 < argc)
      window = std::strtoull(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--distributed") == 0)
      only_distributed = true;
  }
  if (only_distributed) {
    std::cout << distributed(argv[0], requests / 4, window).dump(2)
              << std::endl;
    return 0;
  }
  nlohmann::json out;
  out["requests"] = requests;
  out["window"] = window;

  // 1,000 instances: 10 hosts of 100, one slot each, real-time scheduler.
  node_runtime c{bench_cluster(10, 100), node_runtime::clock_mode::real_time};
  define_noop(c);
  define_noop_db(c);
  // Warm the profile caches and the probes.
  c.invoke("noop");
  c.invoke("noop-db");
  c.advance(std::chrono::milliseconds(300));

  auto& sys = c.system();
  auto echo = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](uint64_t x) {
      return x;
    }};
  });
  std::cerr << "augur_bench: raw, fast path, negotiated" << std::endl;
  auto raw = closed_loop<uint64_t>(sys, echo, requests, window, [](size_t i) {
    return static_cast<uint64_t>(i);
  });
  auto fast = closed_loop<invoke_result>(sys, c.frontend(), requests, window,
                                         [](size_t) {
                                           return invoke_request{"noop", ""};
                                         });
  std::cerr << "augur_bench: negotiated" << std::endl;
  auto negotiated = closed_loop<invoke_result>(
    sys, c.frontend(), requests / 4, window, [](size_t) {
      return invoke_request{"noop-db", ""};
    });
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  auto st = c.status();
  // The same with every placement asking for bids (no leases).
  std::cerr << "augur_bench: negotiated, no leases" << std::endl;
  auto every = [&] {
    auto cfg = bench_cluster(10, 100);
    cfg.lease_ms = 0;
    node_runtime nc{cfg, node_runtime::clock_mode::real_time};
    define_noop_db(nc);
    nc.invoke("noop-db");
    nc.advance(std::chrono::milliseconds(300));
    return closed_loop<invoke_result>(nc.system(), nc.frontend(), requests / 4,
                                      window, [](size_t) {
                                        return invoke_request{"noop-db", ""};
                                      });
  }();
  out["raw_request_response_per_s"] = raw;
  out["placements_per_s"] = {{"fast_path", fast},
                             {"negotiated", negotiated},
                             {"negotiated_no_leases", every}};
  out["ratio"] = {{"fast_path", fast / raw},
                  {"negotiated", negotiated / raw},
                  {"negotiated_no_leases", every / raw}};
  out["frontend"] = {{"negotiations", st.negotiations},
                     {"leased", st.leased},
                     {"fast_path", st.fast_path},
                     {"fallbacks", st.fallbacks},
                     {"completed", st.completed}};
  out["decision_latency"] = {decision_latency(1000, 100, 20000),
                             decision_latency(10000, 100, 20000)};

  // Tracing off, on, and on for 1% of the invocations, in this same run:
  // the same cluster and workload (fast path) each time.
  auto trace_file = std::string{"augur_bench.trace"};
  auto traced_rate = [&](bool enabled, double sample) {
    auto cfg = bench_cluster(10, 100);
    cfg.trace.enabled = enabled;
    cfg.trace.file = trace_file;
    cfg.trace.sample = sample;
    node_runtime tc{cfg, node_runtime::clock_mode::real_time};
    define_noop(tc);
    tc.invoke("noop");
    return closed_loop<invoke_result>(tc.system(), tc.frontend(), requests / 2,
                                      window, [](size_t) {
                                        return invoke_request{"noop", ""};
                                      });
  };
  // Interleaved, three times each; the median of each (the machine is
  // shared and noisy).
  std::vector<double> offs, ons, sampleds;
  for (int round = 0; round < 3; ++round) {
    offs.push_back(traced_rate(false, 1));
    ons.push_back(traced_rate(true, 1));
    sampleds.push_back(traced_rate(true, 0.01));
  }
  auto median = [](std::vector<double> xs) {
    std::sort(xs.begin(), xs.end());
    return xs[xs.size() / 2];
  };
  auto off = median(offs);
  auto on = median(ons);
  auto sampled = median(sampleds);
  std::remove(trace_file.c_str());
  out["tracing_placements_per_s"]
    = {{"off", off}, {"on", on}, {"sampled_1pct", sampled}};
  out["tracing_ratio_to_off"] = {{"on", on / off},
                                 {"sampled_1pct", sampled / off}};
  out["distributed"] = distributed(argv[0], requests / 4, window);
  std::cout << out.dump(2) << std::endl;
}
