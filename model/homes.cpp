#include "augur/model/homes.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace augur::homes {

uint64_t weight(const std::string& task, const std::string& instance) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(task);
  mix(instance);
  // A final avalanche (splitmix64), so that similar names spread.
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::vector<bool> good_hosts(const std::vector<double>& host_cost,
                             const settings& cfg, double share) {
  std::vector<bool> result(host_cost.size(), false);
  double best = INFINITY;
  for (auto c : host_cost)
    best = std::min(best, c);
  if (!std::isfinite(best))
    return result;
  auto limit = best
               + share * std::max(cfg.tolerance_ms, cfg.tolerance_ratio * best);
  for (size_t h = 0; h < host_cost.size(); ++h)
    result[h] = host_cost[h] <= limit;
  return result;
}

std::vector<instance_pool::index>
choose(const instance_pool& pool, const std::vector<double>& host_cost,
       const std::string& task, const settings& cfg,
       const std::vector<instance_pool::index>& previous) {
  std::vector<instance_pool::index> result;
  if (cfg.count == 0)
    return result;
  auto usable = [&](instance_pool::index i, const std::vector<bool>& hosts) {
    if (i >= pool.size() || pool.retired(i))
      return false;
    auto h = pool.host_of(i);
    return h < hosts.size() && hosts[h];
  };
  auto keep = good_hosts(host_cost, cfg, 1.0);
  for (auto i : previous)
    if (result.size() < cfg.count && usable(i, keep))
      result.push_back(i);
  if (result.size() == cfg.count)
    return result;
  auto good = good_hosts(host_cost, cfg, 0.5);
  // Where the task is warm already (it spilled or was placed there) first:
  // a home there costs no cold start; then where a slot is free (a home full
  // of other tasks' runs would make it spill at once).
  struct candidate {
    bool warm;
    bool free;
    uint64_t weight;
    instance_pool::index i;
  };
  std::vector<candidate> candidates;
  for (instance_pool::index i = 0; i < pool.size(); ++i)
    if (usable(i, good)
        && std::find(result.begin(), result.end(), i) == result.end())
      candidates.push_back({pool.warm(i, task), pool.has_free_slot(i),
                            weight(task, pool.name(i)), i});
  auto n = std::min(cfg.count - result.size(), candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + n,
                    candidates.end(), [](auto& a, auto& b) {
                      if (a.warm != b.warm)
                        return a.warm;
                      if (a.free != b.free)
                        return a.free;
                      return a.weight > b.weight
                             || (a.weight == b.weight && a.i < b.i);
                    });
  for (size_t k = 0; k < n; ++k)
    result.push_back(candidates[k].i);
  return result;
}

size_t needed(double concurrency, uint32_t slots, size_t available,
              const settings& cfg) {
  if (available == 0)
    return 0;
  auto per_home = std::max(1.0, slots * cfg.utilization);
  auto n = std::ceil(std::max(concurrency, 0.0) / per_home);
  return std::clamp<size_t>(static_cast<size_t>(std::min(n, 1e6)), 1,
                            available);
}

namespace {

/// Erlang B by its stable recursion, from B at `k` servers on to `servers`.
double erlang_b(double load, size_t servers, double b = 1, size_t k = 0) {
  for (; k < servers; ++k)
    b = load * b / (static_cast<double>(k + 1) + load * b);
  return b;
}

/// Erlang C from Erlang B at the same servers and load (load < servers).
double erlang_c_of_b(double servers, double load, double b) {
  return servers * b / (servers - load * (1 - b));
}

/// The M/G/c wait of one run given P(wait) `c` (Allen-Cunneen; load <
/// servers).
double wait_of_c(double c, double servers, double load, double run_ms,
                 double cv2) {
  return c * run_ms / (servers - load) * (1 + std::max(cv2, 0.0)) / 2;
}

} // namespace

double erlang_c(double servers, double load) {
  if (!(load > 0))
    return 0;
  if (!(load < servers))
    return 1;
  return erlang_c_of_b(servers, load,
                       erlang_b(load, static_cast<size_t>(servers)));
}

double expected_queue_wait_ms(double servers, double load, double run_ms,
                              double cv2) {
  if (!(load > 0) || !(run_ms > 0))
    return 0;
  if (!(load < servers))
    return std::numeric_limits<double>::infinity();
  return wait_of_c(erlang_c(servers, load), servers, load, run_ms, cv2);
}

size_t worth(size_t at_least, double rate_per_s, double run_ms, uint32_t slots,
             size_t available, double cold_ms, double horizon_s, double cv2) {
  auto n = std::min(std::max<size_t>(at_least, 1), available);
  auto load = std::max(rate_per_s, 0.0) * std::max(run_ms, 0.0) / 1000.0;
  if (n >= available || slots == 0 || !(load > 0) || !(run_ms > 0))
    return n;
  auto runs = std::max(rate_per_s, 0.0) * std::max(horizon_s, 0.0);
  // `expected_queue_wait_ms` with `homes` homes, B's recursion carried on
  // from one count of homes to the next rather than run again for each.
  double b = 1;
  size_t k = 0;
  auto wait = [&](size_t homes) {
    auto servers = homes * slots;
    b = erlang_b(load, servers, b, k);
    k = servers;
    auto c = static_cast<double>(servers);
    if (!(load < c))
      return std::numeric_limits<double>::infinity();
    return wait_of_c(erlang_c_of_b(c, load, b), c, load, run_ms, cv2);
  };
  auto now = wait(n);
  while (n < available) {
    auto more = wait(n + 1);
    // (Overloaded even with one more: it is worth it.)
    if (!(std::isinf(now) || (now - more) * runs > cold_ms))
      break;
    ++n;
    now = more;
  }
  return n;
}

bool learning(const task_profile& profile, const settings& cfg) {
  return profile.observations < cfg.learning_runs
         && std::none_of(profile.services.begin(), profile.services.end(),
                         [](auto& s) { return s.hinted; });
}

} // namespace augur::homes

namespace augur {

void arrival_rate::add(double now_ms) {
  if (arrivals_ > 0) {
    auto gap = std::max(now_ms - last_ms_, 0.0);
    mean_gap_ms_
      = arrivals_ == 1 ? gap : mean_gap_ms_ + (gap - mean_gap_ms_) * weight_;
  }
  last_ms_ = now_ms;
  ++arrivals_;
}

double arrival_rate::per_s(double now_ms) const {
  if (arrivals_ < 2)
    return 0;
  // The silence since the last arrival is a gap in the making.
  auto gap = std::max(mean_gap_ms_, now_ms - last_ms_);
  return gap <= 0 ? 1e6 : 1000.0 / gap;
}

double arrival_rate::smoothed_per_s(double now_ms) const {
  if (arrivals_ < 2)
    return 0;
  auto silence = now_ms - last_ms_;
  auto gap = silence > mean_gap_ms_
               ? mean_gap_ms_ + (silence - mean_gap_ms_) * weight_
               : mean_gap_ms_;
  return gap <= 0 ? 1e6 : 1000.0 / gap;
}

void task_demand::ran(double ms, double aux_ms, bool cold, double warmup_ms) {
  auto own = std::max(
    ms - std::max(aux_ms, 0.0) - (cold ? 0.0 : std::max(warmup_ms, 0.0)), 0.0);
  auto& mean = cold ? cold_ms_ : warm_ms_;
  if (!cold && mean >= 0) {
    auto square = (own - mean) * (own - mean);
    warm_var_ = warm_var_ < 0 ? square : warm_var_ + (square - warm_var_) / 8;
  }
  mean = mean < 0 ? own : mean + (own - mean) / 8;
}

double task_demand::concurrency(double now_ms, double service_ms) const {
  return per_s(now_ms) * run_ms(service_ms) / 1000.0;
}

double task_demand::run_ms(double service_ms) const {
  auto own = warm_ms_ >= 0 ? warm_ms_ : std::max(cold_ms_, 0.0);
  return own + std::max(service_ms, 0.0);
}

double task_demand::run_cv2(double service_ms) const {
  auto run = run_ms(service_ms);
  return run > 0 && warm_var_ >= 0 ? warm_var_ / (run * run) : 1.0;
}

double task_demand::cold_extra_ms(double prior) const noexcept {
  if (cold_ms_ < 0 || warm_ms_ < 0)
    return prior;
  return std::max(cold_ms_ - warm_ms_, 0.0);
}

double slot_price(std::vector<slot_demand> demand, double capacity,
                  double margin) {
  auto density = [](const slot_demand& x) {
    return x.gain_ms / std::max(x.run_ms, 1e-9);
  };
  std::stable_sort(demand.begin(), demand.end(),
                   [&](auto& a, auto& b) { return density(a) > density(b); });
  double load = 0;
  for (size_t i = 0; i < demand.size(); ++i) {
    load += std::max(demand[i].load, 0.0);
    if (i > 0 && load > capacity)
      return margin * density(demand[i]);
  }
  return 0;
}

double expected_wait_ms(size_t waiting, uint32_t slots, double run_ms) {
  return static_cast<double>(waiting + 1) * std::max(run_ms, 0.0)
         / std::max<uint32_t>(slots, 1);
}

double first_runs_wait_ms(double since_ms, size_t waiting, uint32_t slots,
                          double cold_ms) {
  auto elapsed = std::max(-since_ms, 0.0);
  auto rounds = static_cast<double>(waiting / std::max<uint32_t>(slots, 1));
  if (elapsed < cold_ms)
    return cold_ms - elapsed + rounds * cold_ms;
  // The first cold start is over and still no run ended: a run that has
  // lasted this long is expected to last about as long again.
  return (1 + rounds) * elapsed;
}

double expected_runs(double rate_per_s, double horizon_s, size_t homes) {
  auto runs = rate_per_s * horizon_s
              / static_cast<double>(std::max<size_t>(homes, 1));
  return std::max(runs, 1.0);
}

const std::vector<double>&
held_prices::update(const std::vector<double>& computed, double now_ms) {
  auto n = std::max(computed.size(), held_.size());
  held_.resize(n, 0.0);
  scarce_since_.resize(n, -1.0);
  calm_since_.resize(n, -1.0);
  for (size_t h = 0; h < computed.size(); ++h) {
    auto& scarce = scarce_since_[h];
    auto& calm = calm_since_[h];
    if (computed[h] > 0) {
      calm = -1;
      if (scarce < 0)
        scarce = now_ms;
      if (now_ms - scarce >= persist_ms_)
        held_[h] = computed[h];
    } else {
      scarce = -1;
      if (held_[h] > 0) {
        if (calm < 0)
          calm = now_ms;
        if (now_ms - calm >= persist_ms_) {
          held_[h] = 0;
          calm = -1;
        }
      }
    }
  }
  return held_;
}

} // namespace augur
