#include "augur/runtime/cli/demo.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <map>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "augur/model/latency_stats.hpp"
#include "augur/runtime/api/http_api.hpp"
#include "augur/runtime/cli/local_redis.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/node/node_runtime.hpp"

namespace augur {

namespace {

/// One task of the demo workload.
struct demo_task {
  const char* name;
  const char* description;
  double weight;
  task_options options;
  task_handler handler;
};

/// A task that calls `service` `n` times (when `use(payload)` says so).
task_handler calls(std::string service, int n,
                   bool (*use)(const std::string&) = nullptr) {
  return [=](task_context& ctx, const std::string& payload) {
    if (use != nullptr && !use(payload))
      return std::string{"skipped"};
    std::string out;
    for (int i = 0; i < n; ++i)
      out = ctx.call(service, payload);
    return out;
  };
}

bool one_in_five(const std::string& payload) {
  return std::hash<std::string>{}(payload) % 5 == 0;
}

std::vector<demo_task> workload() {
  return {
    {"orders", "4 queries to db, declared", 3, {{"db"}, 3, -1}, calls("db", 4)},
    {"thumbnail",
     "2 reads from store, learned",
     2,
     {{}, 15, -1},
     calls("store", 2)},
    {"sessions",
     "3 calls to cache, learned",
     2,
     {{}, 1, -1},
     calls("cache", 3)},
    {"hash",
     "pure compute",
     3,
     {{}, 2, -1},
     [](task_context&, const std::string& p) {
       return p;
     }},
    {"report",
     "db in 1 of 5 runs",
     1,
     {{}, 10, -1},
     calls("db", 2, one_in_five)},
  };
}

struct task_summary {
  latency_stats latency;
  latency_stats aux;
  std::map<std::string, size_t> hosts;
  std::map<std::string, size_t> policies;
  size_t failed = 0;
  size_t cold = 0;
};

struct run_summary {
  std::map<std::string, task_summary> tasks;
  task_summary all;
  frontend_status status;
  std::map<std::string, task_profile> profiles;
};

template <class Map>
std::pair<std::string, double> top(const Map& m) {
  std::string best;
  size_t n = 0;
  size_t total = 0;
  for (auto& [k, v] : m) {
    total += v;
    if (v > n) {
      best = k;
      n = v;
    }
  }
  return {best, total == 0 ? 0.0 : 100.0 * n / total};
}

void add_result(run_summary& out, const invoke_result& r);

run_summary run_policy(const cluster_config& base, placement_policy policy,
                       const demo_options& opts) {
  auto cfg = base;
  cfg.policy = policy;
  if (policy == placement_policy::predictive && !opts.trace_file.empty()) {
    cfg.trace.enabled = true;
    cfg.trace.file = opts.trace_file;
  }
  node_runtime c{cfg};
  auto tasks = workload();
  for (auto& t : tasks)
    c.define_task(t.name, t.options, t.handler);
  std::mt19937_64 rng{opts.seed};
  std::exponential_distribution<double> gap{opts.rate_per_s / 1000.0};
  std::vector<double> weights;
  for (auto& t : tasks)
    weights.push_back(t.weight);
  std::discrete_distribution<size_t> pick{weights.begin(), weights.end()};
  for (uint32_t i = 0; i < opts.requests; ++i) {
    c.advance(std::chrono::duration<double, std::milli>{gap(rng)});
    c.submit(tasks[pick(rng)].name, std::to_string(i));
  }
  run_summary out;
  for (auto& r : c.drain())
    add_result(out, r);
  out.status = c.status();
  for (auto& t : tasks)
    out.profiles[t.name] = c.profile(t.name);
  return out;
}

nlohmann::json to_json(const task_summary& s) {
  auto stats = [](const latency_stats& x) {
    return nlohmann::json{
      {"mean", x.mean()}, {"p50", x.percentile(50)}, {"p99", x.percentile(99)}};
  };
  return {{"count", s.latency.count()},
          {"failed", s.failed},
          {"latency_ms", stats(s.latency)},
          {"aux_latency_ms", stats(s.aux)},
          {"hosts", s.hosts},
          {"placement", s.policies},
          {"cold_starts", s.cold}};
}

std::string fixed(double x, int precision = 1) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << x;
  return os.str();
}

/// Prints the comparison table, the summary and what augur learned.
void print_comparison(
  std::ostream& out, const run_summary& augur, const run_summary& base,
  const std::vector<std::pair<std::string, std::string>>& tasks) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "%-10s %5s | %-20s %-11s %8s %8s %7s | %8s %8s %7s\n", "task",
                "runs", "augur ran on", "why", "mean ms", "p99 ms", "aux ms",
                "mean ms", "p99 ms", "aux ms");
  out << line;
  out << std::string(118, '-') << "\n";
  auto row = [&](const std::string& name, const task_summary& a,
                 const task_summary& b) {
    auto [host, share] = top(a.hosts);
    auto [why, why_share] = top(a.policies);
    auto where = host + " (" + fixed(share, 0) + "%)";
    auto reason = why + (why_share < 99.5 ? "*" : "");
    std::snprintf(line, sizeof(line),
                  "%-10s %5zu | %-20s %-11s %8.2f %8.2f %7.2f | %8.2f %8.2f "
                  "%7.2f\n",
                  name.c_str(), a.latency.count(), where.c_str(),
                  reason.c_str(), a.latency.mean(), a.latency.percentile(99),
                  a.aux.mean(), b.latency.mean(), b.latency.percentile(99),
                  b.aux.mean());
    out << line;
  };
  for (auto& [name, _] : tasks) {
    auto a = augur.tasks.find(name);
    auto b = base.tasks.find(name);
    if (a != augur.tasks.end() && b != base.tasks.end())
      row(name, a->second, b->second);
  }
  out << std::string(118, '-') << "\n";
  row("all", augur.all, base.all);
  out << "\n(*: the most common reason; the first runs of a learned task "
         "go the fast path until its profile trips the threshold)\n\n";
  out << "augur: " << augur.status.negotiations << " negotiations, "
      << augur.status.leased << " placed by their leases, "
      << augur.status.fast_path << " fast path, " << augur.status.fallbacks
      << " fallbacks, " << augur.all.cold + augur.status.prewarms
      << " cold starts (" << augur.status.prewarms << " of them pre-warms), "
      << augur.all.failed << " failed; least-loaded: " << base.all.cold
      << " cold starts, " << base.all.failed << " failed.\n";
  auto gain
    = 100.0
      * (1
         - augur.all.latency.mean() / std::max(base.all.latency.mean(), 1e-9));
  out << "mean latency " << fixed(augur.all.latency.mean(), 2) << " ms vs "
      << fixed(base.all.latency.mean(), 2) << " ms ("
      << fixed(std::fabs(gain), 0) << (gain >= 0 ? "% lower" : "% higher")
      << "); time in services " << fixed(augur.all.aux.mean(), 2) << " ms vs "
      << fixed(base.all.aux.mean(), 2) << " ms per run.\n\n";
  out << "What augur learned (likelihood of using each service):\n";
  for (auto& [name, description] : tasks) {
    out << "  " << std::left << std::setw(10) << name << std::right;
    auto p = augur.profiles.find(name);
    if (p != augur.profiles.end())
      for (auto& s : p->second.services)
        out << "  " << s.service << " " << fixed(s.likelihood, 2)
            << (s.hinted ? " (hinted)" : "");
    if (!description.empty())
      out << "   <- " << description;
    out << "\n";
  }
}

void add_result(run_summary& out, const invoke_result& r) {
  auto& t = out.tasks[r.task];
  for (auto* s : {&t, &out.all}) {
    if (r.status != outcome::ok) {
      ++s->failed;
      continue;
    }
    s->latency.add(r.latency_ms);
    s->aux.add(r.aux_ms);
    ++s->hosts[r.host];
    ++s->policies[to_string(r.reason.policy)];
    s->cold += r.cold_start ? 1 : 0;
  }
}

// -- the real demo -----------------------------------------------------------

/// Invokes `requests` through the HTTP API at `port` from `clients`
/// concurrent connections; returns the answers.
std::vector<invoke_result>
invoke_over_http(uint16_t port,
                 const std::vector<std::pair<std::string, std::string>>& reqs,
                 size_t clients) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  std::vector<invoke_result> results(reqs.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      asio::io_context io;
      asio::ip::tcp::socket sock{io};
      sock.connect({asio::ip::make_address("127.0.0.1"), port});
      boost::beast::flat_buffer buf;
      for (auto i = next++; i < reqs.size(); i = next++) {
        http::request<http::string_body> req{
          http::verb::post, "/v1/tasks/" + reqs[i].first + "/invoke", 11};
        req.set(http::field::host, "127.0.0.1");
        req.body() = reqs[i].second;
        req.prepare_payload();
        req.keep_alive(true);
        http::write(sock, req);
        http::response<http::string_body> res;
        http::read(sock, buf, res);
        auto js = nlohmann::json::parse(res.body());
        auto& r = results[i];
        r.task = js.value("task", reqs[i].first);
        auto status = js.value("status", std::string{"failed"});
        r.status = status == "ok" ? outcome::ok : outcome::failed;
        r.error = js.value("error", std::string{});
        r.host = js.value("host", std::string{});
        r.latency_ms = js.value("latency_ms", 0.0);
        r.aux_ms = js.value("aux_ms", 0.0);
        r.cold_start = js.value("cold_start", false);
        if (js.contains("reason"))
          r.reason.policy
            = parse_placement_route(js["reason"].value("policy", std::string{}))
                .value_or(placement_route::none);
      }
    });
  for (auto& t : threads)
    t.join();
  return results;
}

/// Clients sending at once: one per core of this machine, at most four.
/// Every instance of every emulated host shares these cores, where real
/// hosts would each have their own: more clients than cores would make the
/// hosts slow each other down, and a task that waits less for its services
/// (augur's placements) would leave its neighbours less of the CPU.
size_t demo_clients() {
  auto cores = std::thread::hardware_concurrency();
  return std::clamp<size_t>(cores == 0 ? 1 : cores, 1, 4);
}

run_summary
run_real_policy(cluster_config cfg, placement_policy policy,
                const std::vector<std::pair<std::string, std::string>>& reqs) {
  cfg.policy = policy;
  // Every policy starts from nothing: no profile learned by the one before.
  cfg.state.path.clear();
  // The API's I/O context outlives the cluster, its thread does not (see
  // `serve`).
  io_runner io;
  node_runtime c{cfg, node_runtime::clock_mode::real_time};
  http_api api{io.context(), c, cfg};
  api.start();
  // Placement needs measured channels: wait for the probes (bounded).
  auto wanted = cfg.hosts.size() * cfg.services.size();
  for (int i = 0; i < 1000; ++i) {
    size_t measured = 0;
    for (auto& ch : c.channels())
      measured += ch.probes >= 3 ? 1 : 0;
    if (measured >= wanted)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  run_summary out;
  for (auto& r : invoke_over_http(api.port(), reqs, demo_clients()))
    add_result(out, r);
  out.status = c.status();
  for (auto& t : c.tasks())
    out.profiles[t] = c.profile(t);
  io.stop();
  return out;
}

void run_real_demo(const demo_options& opts, std::ostream& out) {
  auto cfg = load_config(opts.config);
  if (cfg.tasks.empty())
    throw config_error(opts.config, 1, "task",
                       "the demo needs [[task]]s that run programs");
  local_redis redis;
  for (auto& s : cfg.services) {
    s.endpoint = redis.endpoint();
    s.kind = probe_kind::redis;
  }
  cfg.api.listen = "127.0.0.1:0";
  cfg.tenants.clear();
  // The same requests, in the same order, for both policies.
  static const std::map<std::string, double> weights{{"orders", 3},
                                                     {"thumbnail", 2},
                                                     {"sessions", 2},
                                                     {"hash", 3},
                                                     {"report", 1}};
  std::vector<std::pair<std::string, std::string>> tasks;
  std::vector<double> w;
  for (auto& t : cfg.tasks) {
    tasks.emplace_back(t.name, "");
    auto i = weights.find(t.name);
    w.push_back(i == weights.end() ? 1.0 : i->second);
  }
  std::mt19937_64 rng{opts.seed};
  std::discrete_distribution<size_t> pick{w.begin(), w.end()};
  std::vector<std::pair<std::string, std::string>> reqs;
  for (uint32_t i = 0; i < opts.requests; ++i)
    reqs.emplace_back(tasks[pick(rng)].first, std::to_string(i));
  out << "augur demo: a local Redis on " << redis.endpoint() << " behind "
      << cfg.services.size() << " service names, " << cfg.instance_count()
      << " instances on " << cfg.hosts.size() << " hosts with emulated links ("
      << opts.config << ").\n"
      << opts.requests << " invocations of real programs through the HTTP "
      << "API (" << demo_clients()
      << " concurrent clients, one per core), placed by augur and then by "
         "least-loaded placement.\n\n";
  auto traced = cfg;
  if (!opts.trace_file.empty()) {
    traced.trace.enabled = true;
    traced.trace.file = opts.trace_file;
  }
  auto augur = run_real_policy(traced, placement_policy::predictive, reqs);
  auto base = run_real_policy(cfg, placement_policy::least_loaded, reqs);
  print_comparison(out, augur, base, tasks);
}

void run_virtual_demo(const demo_options& opts, std::ostream& out) {
  auto cfg = load_config(opts.config);
  for (auto svc : {"db", "store", "cache"}) {
    bool found = false;
    for (auto& s : cfg.services)
      found = found || s.name == svc;
    if (!found)
      throw config_error(opts.config, 1, "service",
                         std::string{"the demo needs a service named '"} + svc
                           + "'");
  }
  auto augur = run_policy(cfg, placement_policy::predictive, opts);
  auto base = run_policy(cfg, placement_policy::least_loaded, opts);
  if (opts.json) {
    nlohmann::json doc;
    doc["requests"] = opts.requests;
    doc["rate_per_s"] = opts.rate_per_s;
    doc["seed"] = opts.seed;
    for (auto& [name, run] :
         {std::pair{"predictive", &augur}, std::pair{"least-loaded", &base}}) {
      auto& p = doc["policies"][name];
      p["all"] = to_json(run->all);
      for (auto& [task, s] : run->tasks)
        p["tasks"][task] = to_json(s);
    }
    out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
    return;
  }
  out << "augur demo: " << opts.requests << " invocations, Poisson at "
      << opts.rate_per_s << "/s, on " << cfg.instance_count()
      << " instances over " << cfg.hosts.size() << " hosts (" << opts.config
      << "), virtual time.\nThe same arrivals are placed by augur "
         "(predictive) and by least-loaded placement.\n\n";
  std::vector<std::pair<std::string, std::string>> tasks;
  for (auto& t : workload())
    tasks.emplace_back(t.name, t.description);
  print_comparison(out, augur, base, tasks);
}

} // namespace

void run_demo(const demo_options& opts, std::ostream& out) {
  if (opts.virtual_time)
    run_virtual_demo(opts, out);
  else
    run_real_demo(opts, out);
}

} // namespace augur
