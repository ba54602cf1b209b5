#include "augur/runtime/simulation/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "augur/model/latency_stats.hpp"
#include "augur/runtime/node/node_runtime.hpp"

namespace augur {

namespace {

using ms = std::chrono::duration<double, std::milli>;

/// A uniform number in [0, 1) from (seed, invocation, salt): each
/// invocation's behaviour is fixed by the scenario and the seed, whatever
/// the policy and wherever it runs.
double uniform(uint64_t seed, uint64_t idx, uint64_t salt) {
  auto x = seed * 0x9E3779B97F4A7C15ull + idx * 0xBF58476D1CE4E5B9ull
           + salt * 0x94D049BB133111EBull;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

/// The true, current behaviour of the tasks: what events change and what
/// the oracle reads.
struct world {
  const scenario* sc = nullptr;
  uint64_t seed = 1;
  std::vector<std::vector<call_spec>> calls;
  std::unordered_map<std::string, size_t> task_index;
  std::shared_ptr<network_emulator> network;
  std::map<uint64_t, std::string> blobs;

  /// Expected cost of one round trip, retransmissions included (as the
  /// emulator charges them).
  double link_ms(const std::string& host, const std::string& service) const {
    auto l = network->link(host, service);
    if (!l || l->loss >= 1)
      return std::numeric_limits<double>::infinity();
    auto rto = std::max(3 * l->rtt_ms, network_emulator::min_rto_ms);
    return l->rtt_ms + l->loss / (1 - l->loss) * rto;
  }

  double expected_aux_ms(size_t task, const std::string& host) const {
    double total = 0;
    for (auto& c : calls[task])
      if (c.probability > 0)
        total += c.probability * c.round_trips
                 * (link_ms(host, c.service)
                    + network->transfer_ms(host, c.service,
                                           static_cast<double>(c.bytes)));
    return total;
  }

  std::pair<std::string, double> most_likely(size_t task) const {
    std::pair<std::string, double> best{"", 0};
    for (auto& c : calls[task])
      if (c.probability > best.second)
        best = {c.service, c.probability};
    return best;
  }

  const std::string& blob(uint64_t bytes) {
    auto i = blobs.find(bytes);
    if (i == blobs.end())
      i = blobs.emplace(bytes, std::string(bytes, 'x')).first;
    return i->second;
  }
};

/// Metrics over a set of invocations.
struct group {
  uint64_t invocations = 0;
  uint64_t completed = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  uint64_t cold_starts = 0;
  latency_stats latency;
  latency_stats aux;

  void add(const invoke_result& r) {
    ++invocations;
    switch (r.status) {
      case outcome::ok:
        ++completed;
        latency.add(r.latency_ms);
        aux.add(r.aux_ms);
        break;
      case outcome::rejected:
        ++rejected;
        break;
      default:
        ++failed;
    }
    cold_starts += r.cold_start ? 1 : 0;
  }

  static nlohmann::json stats(const latency_stats& x) {
    return {{"mean", x.mean()},
            {"p50", x.percentile(50)},
            {"p90", x.percentile(90)},
            {"p99", x.percentile(99)}};
  }

  nlohmann::json to_json() const {
    return {{"invocations", invocations},  {"completed", completed},
            {"rejected", rejected},        {"failed", failed},
            {"cold_starts", cold_starts},  {"latency_ms", stats(latency)},
            {"aux_latency_ms", stats(aux)}};
  }
};

struct collected {
  group all;
  group after_first_minute;
  std::vector<group> tasks;
  std::vector<group> phases;
  std::vector<std::map<std::string, uint64_t>> phase_placements;
  std::vector<double> phase_starts;
  std::map<std::string, uint64_t> placements;
  uint64_t answered = 0;

  void record(const invoke_result& r, size_t task, double arrival_s) {
    ++answered;
    all.add(r);
    if (arrival_s >= 60)
      after_first_minute.add(r);
    tasks[task].add(r);
    auto p = std::upper_bound(phase_starts.begin(), phase_starts.end(),
                              arrival_s)
             - phase_starts.begin() - 1;
    auto phase = static_cast<size_t>(std::max<ptrdiff_t>(p, 0));
    phases[phase].add(r);
    if (r.status == outcome::ok) {
      ++placements[r.host];
      ++phase_placements[phase][r.host];
    }
  }
};

struct arrival {
  double at_ms;
  uint32_t task;
};

std::vector<arrival> make_arrivals(const scenario& sc, uint64_t seed) {
  std::vector<arrival> result;
  std::mt19937_64 rng{seed};
  auto& wl = sc.workload;
  if (wl.trace.empty()) {
    std::vector<double> weights;
    for (auto& t : sc.tasks) {
      auto i = wl.mix.find(t.name);
      weights.push_back(i == wl.mix.end() ? 0.0 : i->second);
    }
    std::discrete_distribution<uint32_t> pick{weights.begin(), weights.end()};
    std::exponential_distribution<double> gap{wl.rate_per_s / 1000.0};
    double t = 0;
    result.reserve(wl.requests);
    for (uint64_t i = 0; i < wl.requests; ++i) {
      t += gap(rng);
      result.push_back(arrival{t, pick(rng)});
    }
    return result;
  }
  std::uniform_real_distribution<double> within{0, 60000};
  auto first = sc.trace.first_minute;
  for (int m = wl.minute_from; m <= wl.minute_to; ++m) {
    for (uint32_t f = 0; f < sc.trace.functions.size(); ++f) {
      auto n = sc.trace.functions[f].per_minute[static_cast<size_t>(m - first)];
      for (uint32_t j = 0; j < n; ++j) {
        auto at = ((m - wl.minute_from) * 60000.0 + within(rng))
                  / wl.time_scale;
        result.push_back(arrival{at, f});
      }
    }
  }
  std::sort(result.begin(), result.end(),
            [](auto& a, auto& b) { return a.at_ms < b.at_ms; });
  return result;
}

void apply(const sim_event& e, world& w, node_runtime& c) {
  if (e.kind == sim_event_kind::link) {
    auto l = *w.network->link(e.host, e.service);
    if (e.rtt_ms >= 0)
      l.rtt_ms = e.rtt_ms;
    if (e.jitter_ms >= 0)
      l.jitter_ms = e.jitter_ms;
    if (e.loss >= 0)
      l.loss = e.loss;
    if (e.bandwidth_mbps >= 0)
      l.bandwidth_mbps = e.bandwidth_mbps;
    w.network->set_link(l);
  } else if (e.kind == sim_event_kind::task) {
    auto& calls = w.calls[w.task_index.at(e.task)];
    auto i = std::find_if(calls.begin(), calls.end(),
                          [&](auto& x) { return x.service == e.service; });
    if (i == calls.end())
      calls.push_back(call_spec{e.service, e.probability, 1, 0});
    else
      i->probability = e.probability;
  } else if (e.kind == sim_event_kind::instance_down) {
    c.fail_instances(e.host, e.count);
  }
}

/// Rewrites the progress line: policy, invocations replayed, rate, time
/// left (at most about twice a second).
void show_progress(std::ostream& out, placement_policy policy, uint64_t done,
                   std::chrono::steady_clock::time_point& last, uint64_t total,
                   std::chrono::steady_clock::time_point start) {
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::milliseconds(500))
    return;
  last = now;
  std::chrono::duration<double> wall = now - start;
  auto rate = done / std::max(wall.count(), 1e-9);
  auto left = rate > 0 ? (total - done) / rate : 0.0;
  char line[160];
  std::snprintf(line, sizeof(line),
                "\r\033[K%s: %llu of %llu invocations, %.0f/s, %.0f s left",
                to_string(policy), static_cast<unsigned long long>(done),
                static_cast<unsigned long long>(total), rate, left);
  out << line << std::flush;
}

} // namespace

nlohmann::json simulate(const scenario& sc, placement_policy policy,
                        uint64_t seed, std::ostream* progress) {
  auto wall_start = std::chrono::steady_clock::now();
  auto w = std::make_shared<world>();
  w->sc = &sc;
  w->seed = seed;
  for (size_t i = 0; i < sc.tasks.size(); ++i) {
    w->calls.push_back(sc.tasks[i].calls);
    w->task_index.emplace(sc.tasks[i].name, i);
  }
  auto cfg = sc.cluster;
  cfg.policy = policy;
  cfg.seed = seed;
  oracle_view oracle;
  oracle.most_likely = [w](const std::string& task) {
    return w->most_likely(w->task_index.at(task));
  };
  oracle.aux_ms = [w](const std::string& task, const std::string& host) {
    return w->expected_aux_ms(w->task_index.at(task), host);
  };
  auto default_cold = cfg.cold_start_ms;
  oracle.cold_start_ms = [w, default_cold](const std::string& task) {
    auto& t = w->sc->tasks[w->task_index.at(task)];
    return t.cold_start_ms >= 0 ? t.cold_start_ms : default_cold;
  };
  node_runtime c{cfg, node_runtime::clock_mode::virtual_time, oracle};
  w->network = c.network();
  for (auto& s : sc.cluster.services)
    c.define_service(s.name, [](const std::string&) { return std::string{}; });
  for (auto& t : sc.tasks)
    for (auto& call : t.calls)
      w->blob(call.bytes);
  for (size_t ti = 0; ti < sc.tasks.size(); ++ti) {
    auto& t = sc.tasks[ti];
    task_options opts;
    opts.hints = t.hints;
    opts.cold_start_ms = t.cold_start_ms;
    c.define_task(t.name, opts,
                  [w, ti](task_context& ctx, const std::string& payload) {
                    auto idx = std::stoull(payload);
                    auto& t = w->sc->tasks[ti];
                    ctx.compute(t.duration_percentiles.empty()
                                  ? t.duration_ms
                                  : azure_function{{},
                                                   {},
                                                   {},
                                                   {},
                                                   {},
                                                   t.duration_percentiles,
                                                   t.duration_ms}
                                      .duration_at(uniform(w->seed, idx, 0)));
                    auto& calls = w->calls[ti];
                    for (size_t k = 0; k < calls.size(); ++k) {
                      if (uniform(w->seed, idx, k + 1) >= calls[k].probability)
                        continue;
                      auto& req = w->blob(calls[k].bytes);
                      for (uint32_t r = 0; r < calls[k].round_trips; ++r)
                        ctx.call(calls[k].service, req);
                    }
                    return std::string{};
                  });
  }
  // Results land in `stats` from the collector actor; virtual time runs on
  // this thread only, so no lock is needed.
  auto stats = std::make_shared<collected>();
  stats->tasks.resize(sc.tasks.size());
  stats->phase_starts.push_back(0);
  for (auto& e : sc.events)
    if (e.at_s > stats->phase_starts.back())
      stats->phase_starts.push_back(e.at_s);
  stats->phases.resize(stats->phase_starts.size());
  stats->phase_placements.resize(stats->phase_starts.size());
  auto arrivals = make_arrivals(sc, seed);
  auto collector = c.system().spawn(
    [stats, w](caf::event_based_actor* self,
               frontend_actor front) -> caf::behavior {
      return {
        [=](uint64_t idx, uint32_t task, double arrival_s) {
          self
            ->request(front, caf::infinite,
                      invoke_request{w->sc->tasks[task].name,
                                     std::to_string(idx)})
            .then([=](invoke_result& r) { stats->record(r, task, arrival_s); },
                  [=](caf::error& err) {
                    invoke_result r;
                    r.status = outcome::failed;
                    r.error = self->system().render(err);
                    stats->record(r, task, arrival_s);
                  });
        },
      };
    },
    c.frontend());
  auto now = [&] {
    return c.now().count();
  };
  size_t next_event = 0;
  auto last_progress = std::chrono::steady_clock::time_point{};
  for (uint64_t i = 0; i < arrivals.size(); ++i) {
    auto& a = arrivals[i];
    while (next_event < sc.events.size()
           && sc.events[next_event].at_s * 1000 <= a.at_ms) {
      auto& e = sc.events[next_event++];
      c.advance(ms{std::max(0.0, e.at_s * 1000 - now())});
      apply(e, *w, c);
    }
    c.advance(ms{std::max(0.0, a.at_ms - now())});
    caf::anon_send(collector, i, a.task, a.at_ms / 1000);
    if (progress != nullptr && (i & 0x3fff) == 0)
      show_progress(*progress, policy, i, last_progress, arrivals.size(),
                    wall_start);
  }
  if (progress != nullptr)
    *progress << "\r\033[K" << std::flush;
  auto last_arrival = arrivals.empty() ? 0.0 : arrivals.back().at_ms;
  while (next_event < sc.events.size())
    apply(sc.events[next_event++], *w, c);
  // Let every invocation finish; give up after an hour of virtual silence.
  auto give_up = now() + 3.6e6;
  while (stats->answered < arrivals.size() && now() < give_up)
    c.advance(ms{1000});
  auto unanswered = arrivals.size() - stats->answered;
  auto status = c.status();
  caf::anon_send_exit(collector, caf::exit_reason::user_shutdown);
  std::chrono::duration<double> wall = std::chrono::steady_clock::now()
                                       - wall_start;
  nlohmann::json out = stats->all.to_json();
  out["policy"] = to_string(policy);
  out["seed"] = seed;
  out["scenario"] = sc.source;
  out["unanswered"] = unanswered;
  out["negotiations"] = status.negotiations;
  out["fast_path"] = status.fast_path;
  out["fallbacks"] = status.fallbacks;
  // Pre-warms are cold starts no invocation started (one may wait for the
  // rest of one): counted apart, and in the table's cold column with the
  // others.
  out["prewarms"] = status.prewarms;
  out["home_placements"] = status.home_placements;
  out["leased"] = status.leased;
  out["after_first_minute"] = stats->after_first_minute.to_json();
  auto& tasks = out["tasks"];
  tasks = nlohmann::json::object();
  for (size_t i = 0; i < sc.tasks.size(); ++i) {
    auto& g = stats->tasks[i];
    if (g.invocations == 0)
      continue;
    auto js = g.to_json();
    js["count"] = g.invocations;
    auto& lk = js["likelihood"];
    lk = nlohmann::json::object();
    for (auto& s : c.profile(sc.tasks[i].name).services)
      lk[s.service] = s.likelihood;
    tasks[sc.tasks[i].name] = js;
  }
  auto& hosts = out["hosts"];
  hosts = nlohmann::json::object();
  for (auto& h : sc.cluster.hosts)
    hosts[h.name] = {{"placements", stats->placements[h.name]}};
  auto& phases = out["phases"];
  phases = nlohmann::json::array();
  for (size_t p = 0; p < stats->phases.size(); ++p) {
    auto js = stats->phases[p].to_json();
    auto& ph = js["hosts"];
    ph = nlohmann::json::object();
    for (auto& h : sc.cluster.hosts)
      ph[h.name] = {{"placements", stats->phase_placements[p][h.name]}};
    js["from_s"] = stats->phase_starts[p];
    js["to_s"] = p + 1 < stats->phase_starts.size()
                   ? stats->phase_starts[p + 1]
                   : std::max(last_arrival / 1000, stats->phase_starts[p]);
    phases.push_back(js);
  }
  out["simulated_s"] = now() / 1000;
  out["wall_s"] = wall.count();
  out["invocations_per_wall_s"] = arrivals.size()
                                  / std::max(wall.count(), 1e-9);
  return out;
}

nlohmann::json deterministic_part(nlohmann::json report) {
  report.erase("wall_s");
  report.erase("invocations_per_wall_s");
  return report;
}

} // namespace augur
