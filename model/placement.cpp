#include "augur/model/placement.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

namespace augur::placement {

std::vector<instance_pool::index>
shortlist(const instance_pool& pool, const std::vector<double>& host_cost,
          size_t k, const std::string& task) {
  std::vector<uint32_t> hosts;
  hosts.reserve(host_cost.size());
  for (uint32_t h = 0; h < host_cost.size() && h < pool.hosts(); ++h)
    if (std::isfinite(host_cost[h]) && !pool.free_on_host(h).empty())
      hosts.push_back(h);
  std::sort(hosts.begin(), hosts.end(), [&](uint32_t a, uint32_t b) {
    return host_cost[a] < host_cost[b];
  });
  std::vector<instance_pool::index> result;
  for (auto h : hosts) {
    auto free = pool.free_on_host(h);
    auto n = std::min(free.size(), k - result.size());
    std::partial_sort(
      free.begin(), free.begin() + n, free.end(), [&](auto a, auto b) {
        if (!task.empty() && h == hosts.front()) {
          auto wa = pool.warm(a, task);
          if (wa != pool.warm(b, task))
            return wa;
        }
        return pool.busy(a) * pool.slots(b) < pool.busy(b) * pool.slots(a);
      });
    result.insert(result.end(), free.begin(), free.begin() + n);
    if (result.size() == k)
      break;
  }
  return result;
}

instance_pool::index power_of_k(const instance_pool& pool, size_t k,
                                const std::string& task, std::mt19937_64& rng,
                                double warm_bonus) {
  auto& free = pool.free();
  if (free.empty())
    return instance_pool::npos;
  k = std::max<size_t>(1, std::min(k, free.size()));
  auto best = instance_pool::npos;
  auto best_score = 0.0;
  // Floyd's algorithm: k distinct positions without touching the list.
  k = std::min<size_t>(k, max_choices);
  std::array<size_t, max_choices> picked;
  size_t n = 0;
  for (size_t j = free.size() - k; j < free.size(); ++j) {
    auto t = std::uniform_int_distribution<size_t>{0, j}(rng);
    if (std::find(picked.begin(), picked.begin() + n, t) != picked.begin() + n)
      t = j;
    picked[n++] = t;
    auto i = free[t];
    auto score = static_cast<double>(pool.busy(i)) / pool.slots(i)
                 - (pool.warm(i, task) ? warm_bonus : 0.0);
    if (best == instance_pool::npos || score < best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

namespace {

/// The least loaded (busy/slots) of the instances it is shown, ties broken
/// uniformly at random by reservoir sampling.
class least_loaded_pick {
public:
  least_loaded_pick(const instance_pool& pool, std::mt19937_64& rng)
    : pool_(pool), rng_(rng) {
    // nop
  }

  void consider(instance_pool::index i) {
    auto load = static_cast<double>(pool_.busy(i)) / pool_.slots(i);
    if (best_ == instance_pool::npos || load < best_load_) {
      best_ = i;
      best_load_ = load;
      ties_ = 1;
    } else if (load == best_load_) {
      if (std::uniform_int_distribution<size_t>{0, ties_}(rng_) == 0)
        best_ = i;
      ++ties_;
    }
  }

  instance_pool::index best() const noexcept {
    return best_;
  }

private:
  const instance_pool& pool_;
  std::mt19937_64& rng_;
  instance_pool::index best_ = instance_pool::npos;
  double best_load_ = 0;
  size_t ties_ = 0;
};

} // namespace

instance_pool::index least_loaded(const instance_pool& pool,
                                  std::mt19937_64& rng) {
  least_loaded_pick pick{pool, rng};
  for (auto i : pool.free())
    pick.consider(i);
  return pick.best();
}

instance_pool::index least_loaded_on(const instance_pool& pool,
                                     const std::vector<bool>& host_ok,
                                     std::mt19937_64& rng) {
  least_loaded_pick pick{pool, rng};
  for (uint32_t h = 0; h < pool.hosts() && h < host_ok.size(); ++h)
    if (host_ok[h])
      for (auto i : pool.free_on_host(h))
        pick.consider(i);
  return pick.best();
}

instance_pool::index random_free(const instance_pool& pool,
                                 std::mt19937_64& rng) {
  auto& free = pool.free();
  if (free.empty())
    return instance_pool::npos;
  return free[std::uniform_int_distribution<size_t>{0, free.size() - 1}(rng)];
}

instance_pool::index round_robin(const instance_pool& pool, size_t& cursor) {
  auto n = pool.size();
  for (size_t i = 0; i < n; ++i) {
    auto candidate = static_cast<instance_pool::index>((cursor + i) % n);
    if (pool.has_free_slot(candidate)) {
      cursor = (candidate + 1) % n;
      return candidate;
    }
  }
  return instance_pool::npos;
}

std::vector<size_t> coprime_steps(size_t n) {
  std::vector<size_t> result;
  for (size_t x = 1; x <= std::max<size_t>(n, 1); ++x) {
    if (std::gcd(x, n) != 1)
      continue;
    bool pairwise = true;
    for (auto y : result)
      pairwise = pairwise && std::gcd(x, y) == 1;
    if (pairwise)
      result.push_back(x);
  }
  return result;
}

instance_pool::index hash_home(const instance_pool& pool,
                               const std::string& task) {
  auto n = pool.size();
  if (n == 0)
    return instance_pool::npos;
  // Deterministic across runs and platforms (std::hash is neither): FNV-1a.
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : task) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  auto steps = coprime_steps(n);
  auto step = steps[hash % steps.size()];
  auto home = hash % n;
  for (size_t i = 0; i < n; ++i) {
    auto candidate = static_cast<instance_pool::index>((home + i * step) % n);
    if (pool.has_free_slot(candidate))
      return candidate;
  }
  return instance_pool::npos;
}

instance_pool::index
cheapest(const instance_pool& pool,
         const std::vector<instance_pool::index>& candidates,
         const std::string& task, const std::function<double(uint32_t)>& aux_ms,
         double cold_start_ms, double load_weight_ms) {
  auto best = instance_pool::npos;
  double best_cost = 0;
  for (auto i : candidates) {
    auto cost = aux_ms(pool.host_of(i))
                + (pool.warm(i, task) ? 0.0 : cold_start_ms)
                + load_weight_ms * pool.busy(i) / pool.slots(i);
    if (best == instance_pool::npos || cost < best_cost) {
      best = i;
      best_cost = cost;
    }
  }
  return best;
}

double counted_likelihood(const service_likelihood& s) {
  return s.used || s.hinted ? s.likelihood : 0.0;
}

double expected_service_ms(const std::vector<service_term>& terms,
                           double must_reach, double unknown_ms) {
  double total = 0;
  for (auto& t : terms) {
    if (t.likelihood <= 0)
      continue;
    if (std::isfinite(t.channel_ms)) {
      total += t.likelihood * (t.round_trips * t.channel_ms + t.transfer_ms);
    } else if (t.likelihood >= must_reach) {
      return std::numeric_limits<double>::infinity();
    } else {
      total += t.likelihood * t.round_trips * unknown_ms;
    }
  }
  return total;
}

double expected_latency_ms(const bid_inputs& x) {
  auto cold = x.warm ? 0.0 : x.cold_start_ms;
  auto services = expected_service_ms(x.services, x.must_reach);
  if (!std::isfinite(services)) {
    // Unreachable: still a number, so that bids stay comparable.
    services = 0;
    for (auto& t : x.services)
      services += t.likelihood * t.round_trips * 1e6;
  }
  auto load = x.slots == 0 ? 1.0 : static_cast<double>(x.busy) / x.slots;
  return cold + services + load * x.load_weight_ms;
}

size_t rank_bids(std::vector<bid>& bids) {
  std::stable_sort(bids.begin(), bids.end(), [](const bid& a, const bid& b) {
    if (a.accept != b.accept)
      return a.accept;
    return a.accept
           && a.expected_ms + a.control_ms < b.expected_ms + b.control_ms;
  });
  return static_cast<size_t>(std::count_if(
    bids.begin(), bids.end(), [](const bid& x) { return x.accept; }));
}

lease_state check_lease(const lease& l, double now_ms, double winner_ms,
                        double best_ms, double tolerance, double slack_ms) {
  auto moved = std::max(slack_ms, tolerance * std::fabs(l.winner_ms));
  // (Written so that an unreachable winner, infinite, has moved.)
  if (!(winner_ms <= l.winner_ms + moved
        && winner_ms - best_ms <= l.winner_ms - l.best_ms + moved))
    return lease_state::moved;
  return now_ms < l.expires_ms ? lease_state::holds : lease_state::due;
}

} // namespace augur::placement

namespace augur {

const char* to_string(placement_policy x) {
  // A baseline is named as the route its answers carry.
  return x == placement_policy::predictive ? "predictive"
                                           : to_string(route_of(x));
}

std::optional<placement_policy> parse_placement_policy(std::string_view name) {
  for (auto x : all_placement_policies())
    if (name == to_string(x))
      return x;
  return std::nullopt;
}

const std::vector<placement_policy>& all_placement_policies() {
  static const std::vector<placement_policy> xs{
    placement_policy::predictive, placement_policy::least_loaded,
    placement_policy::random,     placement_policy::round_robin,
    placement_policy::hash_home,  placement_policy::oracle,
    placement_policy::hint_zone,
  };
  return xs;
}

placement_route route_of(placement_policy x) {
  switch (x) {
    case placement_policy::predictive:
      return placement_route::negotiated;
    case placement_policy::least_loaded:
      return placement_route::least_loaded;
    case placement_policy::random:
      return placement_route::random;
    case placement_policy::round_robin:
      return placement_route::round_robin;
    case placement_policy::hash_home:
      return placement_route::hash_home;
    case placement_policy::oracle:
      return placement_route::oracle;
    case placement_policy::hint_zone:
      return placement_route::hint_zone;
  }
  return placement_route::none;
}

} // namespace augur
