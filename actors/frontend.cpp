#include "augur/actors/frontend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <caf/actor_proxy.hpp>

#include "augur/actors/clock.hpp"
#include "augur/model/placement.hpp"

// The flow of one invocation, top to bottom:
//   admit -> resolve its profile (cache, or ask the registry)
//         -> route (a free slot somewhere? else wait in the bounded queue)
//         -> place: likelihood >= threshold ? negotiate : fast path
//         -> dispatch (execute on the chosen instance; a refusal tries the
//            next bid) -> finish (answer the caller, free the slot, pump the
//            queue).

namespace augur {

namespace {

using frontend_ptr = traced_pointer<frontend_actor, frontend_state>;

void resolve_profile(frontend_ptr self, invocation_id id);
void route(frontend_ptr self, invocation_id id);
void place(frontend_ptr self, invocation_id id);
void negotiate(frontend_ptr self, invocation_id id,
               const service_likelihood& svc);
void answer_unplaced(frontend_ptr self, invocation_id id, outcome status,
                     std::string error);
void try_next_bid(frontend_ptr self, invocation_id id);
bool use_lease(frontend_ptr self, invocation_id id, const task_profile& profile,
               const service_likelihood& svc, const std::vector<double>& costs,
               const std::vector<instance_pool::index>& homes, size_t active);
double runs_per_cold_start(frontend_ptr self, const std::string& task,
                           size_t active);
void fast_path(frontend_ptr self, invocation_id id, placement_route why);
instance_pool::index free_home(frontend_ptr self, const task_profile& profile,
                               bool cold_ok);
const std::vector<instance_pool::index>&
homes_of(frontend_ptr self, const task_profile& profile,
         const std::vector<double>* costs = nullptr);
size_t active_homes(frontend_ptr self, const std::string& task,
                    const std::vector<instance_pool::index>& homes);
bool wait_for_home(frontend_ptr self, invocation_id id,
                   const task_profile& profile, double budget_ms,
                   const std::vector<double>* costs);
void serve_waiters(frontend_ptr self, instance_pool::index i);
void warm_up(frontend_ptr self, const std::string& task,
             instance_pool::index home);
instance_pool::index handover_home(frontend_ptr self, const std::string& task);
void dispatch(frontend_ptr self, invocation_id id, instance_pool::index i);
void finish(frontend_ptr self, invocation_id id, invoke_result r);
void pump(frontend_ptr self);

// -- admission ---------------------------------------------------------------

void admit(frontend_ptr self, invoke_request req,
           caf::typed_response_promise<invoke_result> rp) {
  auto& st = self->state;
  auto id = st.next_id++;
  invocation_scope scope{id};
  ++st.counters.admitted;
  frontend_state::invocation inv;
  inv.request = std::move(req);
  inv.promise = std::move(rp);
  inv.admitted_ms = now_ms(self);
  st.live.emplace(id, std::move(inv));
  resolve_profile(self, id);
}

/// Answers an invocation that never ran (unknown task, queue full, ...).
void answer_unplaced(frontend_ptr self, invocation_id id, outcome status,
                     std::string error) {
  invoke_result r;
  r.status = status;
  r.error = std::move(error);
  finish(self, id, std::move(r));
}

// -- profiles ----------------------------------------------------------------

// A cached profile answers at once; otherwise one lookup per task is in
// flight at a time and every invocation of that task waits for it.
void resolve_profile(frontend_ptr self, invocation_id id) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto& task = st.live.at(id).request.task;
  if (st.profiles.count(task) != 0) {
    ++st.counters.profile_cache_hits;
    route(self, id);
    return;
  }
  auto& waiting = st.awaiting_profile[task];
  waiting.push_back(id);
  if (waiting.size() > 1)
    return;
  ++st.counters.profile_lookups;
  self
    ->request(st.registry, std::chrono::seconds(5), caf::get_atom::value, task)
    .then(
      [=](task_profile& p) {
        auto& st = self->state;
        auto waiting = std::move(st.awaiting_profile[p.task]);
        st.awaiting_profile.erase(p.task);
        if (p.known) {
          auto& cached = st.profiles[p.task];
          if (cached.version <= p.version)
            cached = p;
        }
        for (auto w : waiting) {
          if (st.live.count(w) == 0)
            continue;
          if (p.known)
            route(self, w);
          else
            answer_unplaced(self, w, outcome::unknown_task,
                            "no task named '" + p.task + "'");
        }
      },
      [=](caf::error& err) {
        auto& st = self->state;
        auto waiting = std::move(st.awaiting_profile[task]);
        st.awaiting_profile.erase(task);
        for (auto w : waiting)
          answer_unplaced(self, w, outcome::failed,
                          "profile registry unavailable: "
                            + self->system().render(err));
      });
}

// -- routing -----------------------------------------------------------------

void route(frontend_ptr self, invocation_id id) {
  invocation_scope scope{id};
  auto& st = self->state;
  if (!st.pool.free().empty()) {
    place(self, id);
    return;
  }
  if (st.queue.size() >= st.cfg.queue_capacity) {
    ++st.counters.rejected;
    answer_unplaced(self, id, outcome::rejected,
                    "queue full: " + std::to_string(st.queue.size())
                      + " invocations already wait for a free slot");
    return;
  }
  st.queue.push_back(id);
}

/// The service the task most likely uses, or nullptr when it has none.
const service_likelihood* most_likely_service(const task_profile& p) {
  const service_likelihood* best = nullptr;
  for (auto& s : p.services)
    if (best == nullptr || s.likelihood > best->likelihood)
      best = &s;
  return best;
}

// The baselines share everything with augur but the choice.
void place_baseline(frontend_ptr self, invocation_id id) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto& inv = st.live.at(id);
  auto policy = st.cfg.policy;
  inv.reason.policy = route_of(policy);
  auto& task = inv.request.task;
  instance_pool::index i = instance_pool::npos;
  if (policy == placement_policy::least_loaded) {
    i = placement::least_loaded(st.pool, st.rng);
  } else if (policy == placement_policy::random) {
    i = placement::random_free(st.pool, st.rng);
  } else if (policy == placement_policy::round_robin) {
    i = placement::round_robin(st.pool, st.cursor);
  } else if (policy == placement_policy::hash_home) {
    i = placement::hash_home(st.pool, task);
  } else if (policy == placement_policy::hint_zone) {
    // An operator's rule: the zone of a declared service (the first hinted
    // one by name).
    auto& profile = st.profiles.at(task);
    auto hinted = std::find_if(profile.services.begin(), profile.services.end(),
                               [](auto& s) { return s.hinted; });
    if (hinted != profile.services.end()) {
      auto zone = st.cfg.service_zones.find(hinted->service);
      if (zone != st.cfg.service_zones.end()) {
        std::vector<bool> in_zone(st.pool.hosts());
        for (uint32_t h = 0; h < st.pool.hosts(); ++h)
          in_zone[h] = st.host_zones[st.pool.host_name(h)] == zone->second;
        i = placement::least_loaded_on(st.pool, in_zone, st.rng);
      }
    }
    if (i == instance_pool::npos)
      i = placement::least_loaded(st.pool, st.rng);
  } else if (policy == placement_policy::oracle && st.cfg.oracle.most_likely) {
    // The truth, no heuristic: among every free instance, the lowest true
    // expected latency of this invocation (time in services from its host,
    // the cold start where the task is not warm, load).
    auto& oracle = st.cfg.oracle;
    auto [service, p] = oracle.most_likely(task);
    inv.reason.service = service;
    inv.reason.likelihood = p;
    std::vector<double> aux(st.pool.hosts());
    for (uint32_t h = 0; h < st.pool.hosts(); ++h)
      aux[h] = oracle.aux_ms(task, st.pool.host_name(h));
    i = placement::cheapest(
      st.pool, st.pool.free(), task, [&](uint32_t h) { return aux[h]; },
      oracle.cold_start_ms(task), st.cfg.load_weight_ms);
  } else {
    answer_unplaced(self, id, outcome::failed,
                    std::string{"policy '"} + to_string(policy)
                      + "' cannot place here");
    return;
  }
  dispatch(self, id, i);
}

void place(frontend_ptr self, invocation_id id) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto& inv = st.live.at(id);
  auto& profile = st.profiles.at(inv.request.task);
  auto svc = most_likely_service(profile);
  if (svc != nullptr) {
    inv.reason.service = svc->service;
    inv.reason.likelihood = svc->likelihood;
  }
  if (st.cfg.policy != placement_policy::predictive) {
    place_baseline(self, id);
    return;
  }
  if (!inv.counted) {
    // Its arrival, not its placement: queued work placed at once is no
    // burst of arrivals.
    inv.counted = true;
    st.demand[inv.request.task].arrive(inv.admitted_ms);
  }
  // Any service at or above the threshold (the most likely one is) opens
  // negotiation; the score then counts every service.
  if (svc != nullptr && svc->likelihood >= st.cfg.threshold)
    negotiate(self, id, *svc);
  else
    fast_path(self, id, placement_route::fast_path);
}

// -- negotiation -------------------------------------------------------------

/// Cost of one round trip from host `h` to `service` (infinite: unknown).
double host_cost(frontend_ptr self, const std::string& service, uint32_t h,
                 double now) {
  auto& st = self->state;
  return st.channels.cost_ms(st.pool.host_name(h), service, now);
}

/// The control round trip to host `h` as measured so far; for a host not
/// measured yet, the mean of those that were (0 before any).
double control_of(frontend_ptr self, uint32_t h) {
  auto& st = self->state;
  auto& c = st.control_ms;
  if (h < c.size() && c[h] >= 0)
    return c[h];
  return st.control_known > 0 ? st.control_sum / st.control_known : 0.0;
}

/// A bid's answer from host `h` came `ms` after its request. When the
/// estimate moved well away from what the homes were last chosen with, they
/// are chosen again.
void measured_control(frontend_ptr self, uint32_t h, double ms) {
  auto& st = self->state;
  auto& c = st.control_ms;
  if (h >= c.size() || !(ms >= 0))
    return;
  if (c[h] < 0) {
    ++st.control_known;
    st.control_sum += ms;
    c[h] = ms;
  } else {
    auto next = c[h] + (ms - c[h]) / 8;
    st.control_sum += next - c[h];
    c[h] = next;
  }
  auto& seen = st.control_seen;
  if (seen[h] < 0 || std::fabs(c[h] - seen[h]) > std::max(0.5, seen[h] / 4)) {
    seen[h] = c[h];
    ++st.control_epoch;
  }
}

/// Expected time in services of one execution of a task with `profile`, from
/// every host of the pool, with the control round trip every execution there
/// pays (infinite: a likely service is unreachable).
std::vector<double> service_costs(frontend_ptr self,
                                  const task_profile& profile) {
  auto& st = self->state;
  auto now = now_ms(self);
  std::vector<double> result(st.pool.hosts());
  std::vector<placement::service_term> terms(profile.services.size());
  for (uint32_t h = 0; h < st.pool.hosts(); ++h) {
    for (size_t s = 0; s < terms.size(); ++s) {
      auto& svc = profile.services[s];
      terms[s] = {placement::counted_likelihood(svc), svc.round_trips,
                  host_cost(self, svc.service, h, now),
                  st.channels.transfer_ms(st.pool.host_name(h), svc.service,
                                          svc.bytes())};
    }
    result[h] = placement::expected_service_ms(terms, st.cfg.threshold)
                + control_of(self, h);
  }
  return result;
}

/// The slot prices of the hosts, computed again once a homes refresh
/// interval passed: for each learned task that saves time on its best host,
/// its load there and what a run saves against its next best host.
const std::vector<double>& slot_prices(frontend_ptr self) {
  auto& st = self->state;
  auto now = now_ms(self);
  if (now - st.prices_ms < st.cfg.homes_refresh_ms
      && st.slot_prices.prices().size() == st.pool.hosts())
    return st.slot_prices.prices();
  st.prices_ms = now;
  std::vector<std::vector<slot_demand>> demand(st.pool.hosts());
  for (auto& [task, profile] : st.profiles) {
    auto d = st.demand.find(task);
    if (d == st.demand.end() || homes::learning(profile, st.cfg.homes))
      continue;
    auto costs = service_costs(self, profile);
    auto best = std::min_element(costs.begin(), costs.end());
    if (best == costs.end() || !std::isfinite(*best))
      continue;
    auto b = static_cast<size_t>(best - costs.begin());
    auto next = std::numeric_limits<double>::infinity();
    for (size_t h = 0; h < costs.size(); ++h)
      if (h != b)
        next = std::min(next, costs[h]);
    slot_demand x;
    x.run_ms = d->second.run_ms(*best);
    x.load = d->second.steady_per_s(now) * x.run_ms / 1000.0;
    x.gain_ms = std::min(next, 1e6) - *best;
    if (x.gain_ms > 0.05 && x.run_ms > 0)
      demand[b].push_back(x);
  }
  std::vector<double> capacity(st.pool.hosts());
  for (instance_pool::index i = 0; i < st.pool.size(); ++i)
    if (!st.pool.retired(i))
      capacity[st.pool.host_of(i)] += st.pool.slots(i);
  std::vector<double> computed(st.pool.hosts());
  for (uint32_t h = 0; h < st.pool.hosts(); ++h)
    computed[h] = slot_price(std::move(demand[h]),
                             st.cfg.scarce_utilization * capacity[h]);
  return st.slot_prices.update(computed, now);
}

/// What a run of a task with `profile` costs on every host: its expected
/// time in services (`service_costs`) and, on a host whose slots are scarce,
/// the price of the slot time it would hold there.
std::vector<double> host_costs(frontend_ptr self, const task_profile& profile) {
  auto& st = self->state;
  auto result = service_costs(self, profile);
  auto& prices = slot_prices(self);
  auto d = st.demand.find(profile.task);
  if (d == st.demand.end())
    return result;
  for (size_t h = 0; h < result.size() && h < prices.size(); ++h)
    if (prices[h] > 0)
      result[h] += prices[h] * d->second.run_ms(result[h]);
  return result;
}

// -- homes -------------------------------------------------------------------

/// What a cold start adds to a run of `task`, as the frontend learned it
/// from the task's cold and warm runs (the cluster's default before both
/// were seen).
double cold_extra_of(frontend_ptr self, const std::string& task) {
  auto& st = self->state;
  auto d = st.demand.find(task);
  return d != st.demand.end() ? d->second.cold_extra_ms(st.cfg.cold_start_ms)
                              : st.cfg.cold_start_ms;
}

// A task lives on a few home instances, chosen by channel to the services it
// uses and kept stable, so that it stays warm there (model/homes). They are
// checked again when the profile moved, the pool changed or a probe interval
// passed; a home moves only when its host falls behind the best. `costs`,
// when the caller has them, are the hosts' `host_costs`.
const std::vector<instance_pool::index>&
homes_of(frontend_ptr self, const task_profile& profile,
         const std::vector<double>* costs) {
  auto& st = self->state;
  auto now = now_ms(self);
  auto& h = st.homes[profile.task];
  auto pool_changed = h.pool_size != st.pool.size() || h.live != st.pool.live();
  if (!pool_changed && h.profile_version == profile.version
      && h.control_epoch == st.control_epoch
      && now - h.checked_ms < st.cfg.homes_refresh_ms && !h.instances.empty())
    return h.instances;
  h.control_epoch = st.control_epoch;
  // (While the task is learned, every host is as good: its name decides.)
  auto learning = homes::learning(profile, st.cfg.homes);
  std::vector<double> computed;
  if (learning)
    computed.assign(st.pool.hosts(), 0.0);
  else if (costs == nullptr)
    computed = host_costs(self, profile);
  auto& c = costs != nullptr && !learning ? *costs : computed;
  h.checked_ms = now;
  // The choice depends on which hosts are close enough to keep a home and
  // to take a new one: unchanged, the homes are too.
  auto keep = homes::good_hosts(c, st.cfg.homes, 1.0);
  auto good = homes::good_hosts(c, st.cfg.homes, 0.5);
  // Homes taken by name while the task was learned are no choice to keep
  // once it is known; warm, they serve it while its new first home warms
  // up (a handover: no run waits for that cold start).
  auto learned = h.learning && !learning;
  if (learned) {
    h.previous = std::move(h.instances);
    h.instances.clear();
    h.handover_ms = now + 2 * cold_extra_of(self, profile.task);
  }
  h.learning = learning;
  auto kept = std::all_of(h.instances.begin(), h.instances.end(),
                          [&](auto i) { return keep[st.pool.host_of(i)]; });
  // The first home's time in services: its cost, less a scarce host's slot
  // price (`host_costs` adds it; the task's load there does not grow).
  auto service_ms = [&](instance_pool::index i) {
    auto host = st.pool.host_of(i);
    auto& prices = st.slot_prices.prices();
    if (learning || host >= prices.size() || !(prices[host] > 0))
      return c[host];
    return service_costs(self, profile)[host];
  };
  if (!h.instances.empty()) // their time in services moves with the costs
    h.service_ms = service_ms(h.instances.front());
  if (!pool_changed && kept && good == h.good && !h.instances.empty()) {
    h.profile_version = profile.version;
    return h.instances;
  }
  h.good = std::move(good);
  h.instances = homes::choose(st.pool, c, profile.task, st.cfg.homes,
                              h.instances);
  h.service_ms = h.instances.empty() ? 0.0 : service_ms(h.instances.front());
  h.profile_version = profile.version;
  h.pool_size = st.pool.size();
  h.live = st.pool.live();
  if (learned && !h.instances.empty()
      && !st.pool.warm(h.instances.front(), profile.task))
    warm_up(self, profile.task, h.instances.front());
  return h.instances;
}

/// A warm home the task had while it was learned, with a free slot, while
/// its new first home warms up (npos: none, or the handover is over).
instance_pool::index handover_home(frontend_ptr self, const std::string& task) {
  auto& st = self->state;
  auto h = st.homes.find(task);
  if (h == st.homes.end() || h->second.previous.empty())
    return instance_pool::npos;
  if (!(now_ms(self) < h->second.handover_ms)) {
    h->second.previous.clear();
    return instance_pool::npos;
  }
  for (auto i : h->second.previous)
    if (st.pool.has_free_slot(i) && st.pool.warm(i, task))
      return i;
  return instance_pool::npos;
}

/// How many of its `homes` the task uses: as many as its load needs.
size_t active_homes(frontend_ptr self, const std::string& task,
                    const std::vector<instance_pool::index>& homes) {
  auto& st = self->state;
  auto h = st.homes.find(task);
  if (homes.empty() || h == st.homes.end())
    return 0;
  auto& active = h->second.active;
  auto& invested = h->second.invested;
  auto d = st.demand.find(task);
  if (d == st.demand.end()) {
    active = invested = 1;
    return 1;
  }
  auto& demand = d->second;
  auto now = now_ms(self);
  auto service = h->second.service_ms;
  auto slots = st.pool.slots(homes.front());
  // Enough homes for `load` slots busy (at most half of each home's), then
  // one more while the waits it spares at `rate` arrivals a second outweigh
  // its cold start.
  auto sized = [&](double load, double rate) {
    return homes::worth(homes::needed(load, slots, homes.size(), st.cfg.homes),
                        rate, demand.run_ms(service), slots, homes.size(),
                        demand.cold_extra_ms(st.cfg.cold_start_ms),
                        st.cfg.warm_horizon_s, demand.run_cv2(service));
  };
  // (What a home is worth is weighed at the steady rate once it settled: a
  // burst, or a task's first few arrivals, buy no cold start for the minute
  // after them.)
  auto steady = demand.steady_settled() ? demand.steady_per_s(now) : 0.0;
  auto load = demand.concurrency(now, service);
  auto need = sized(load, steady);
  if (need > active || sized(1.5 * load, 1.5 * steady) < active)
    active = need;
  invested = sized(steady * demand.run_ms(service) / 1000.0, steady);
  return std::min(active, homes.size());
}

/// The first of the task's homes in use with a free slot; else the first
/// free one further down its list that keeps the task warm (where it spilled
/// before), or, with `cold_ok`, any free one there (a stable spill, so that
/// spills stay warm for the next time); else npos.
instance_pool::index free_home(frontend_ptr self, const task_profile& profile,
                               bool cold_ok) {
  auto& st = self->state;
  auto& homes = homes_of(self, profile);
  auto active = active_homes(self, profile.task, homes);
  if (auto i = handover_home(self, profile.task); i != instance_pool::npos)
    return i;
  for (size_t k = 0; k < homes.size(); ++k)
    if (st.pool.has_free_slot(homes[k])
        && (cold_ok || k < active || st.pool.warm(homes[k], profile.task)))
      return homes[k];
  return instance_pool::npos;
}

/// Where `i` stands in the list of `task`'s homes (npos: no home of it).
size_t home_rank(frontend_ptr self, const std::string& task,
                 instance_pool::index i) {
  auto h = self->state.homes.find(task);
  if (h == self->state.homes.end())
    return instance_pool::npos;
  auto& homes = h->second.instances;
  auto k = std::find(homes.begin(), homes.end(), i);
  return k == homes.end() ? instance_pool::npos
                          : static_cast<size_t>(k - homes.begin());
}

/// Whether `i` is one of the homes `task` uses now (as its last placement
/// counted them).
bool is_active_home(frontend_ptr self, const std::string& task,
                    instance_pool::index i) {
  auto k = home_rank(self, task, i);
  return k != instance_pool::npos && k < self->state.homes.at(task).active;
}

/// Whether `i` is one of the homes of `task`, in use or further down its
/// list.
bool is_home(frontend_ptr self, const std::string& task,
             instance_pool::index i) {
  return home_rank(self, task, i) != instance_pool::npos;
}

/// Whether one of the task's homes in use beats `budget_ms` (what a cold
/// start elsewhere would cost more): one that has a free slot again takes
/// the invocation at once; else it waits for the full home it expects to
/// free soonest, counting the home's expected time in services when `costs`
/// are given (at most a home's slots wait for it).
bool wait_for_home(frontend_ptr self, invocation_id id,
                   const task_profile& profile, double budget_ms,
                   const std::vector<double>* costs) {
  auto& st = self->state;
  auto& h = st.homes[profile.task];
  auto& homes = h.instances;
  auto active = std::min(h.active, homes.size());
  auto best = instance_pool::npos;
  auto best_ms = budget_ms;
  auto& refused = st.live.at(id).refused_by;
  // (A free home in use where the task is cold costs a cold start, shared
  // by the runs it warms up for: it is taken when that beats the budget and
  // every wait.)
  auto now = false;
  auto cold = cold_extra_of(self, profile.task);
  auto invested = cold / runs_per_cold_start(self, profile.task, active);
  for (size_t k = 0; k < active; ++k) {
    auto i = homes[k];
    if (std::find(refused.begin(), refused.end(), i) != refused.end())
      continue;
    auto& q = st.waiters[i];
    if (q.empty() && st.pool.has_free_slot(i)) {
      auto service = costs != nullptr ? (*costs)[st.pool.host_of(i)] : 0.0;
      if (!st.pool.warm(i, profile.task)) {
        auto ms = (k < h.invested ? invested : cold) + service;
        if (ms < best_ms) {
          best = i;
          best_ms = ms;
          now = true;
        }
        continue;
      }
      // (With `costs`, only a home that beats the budget.)
      if (costs != nullptr && !(service < budget_ms))
        continue;
      dispatch(self, id, i);
      return true;
    }
    if (st.pool.retired(i) || q.size() >= st.pool.slots(i))
      continue;
    // Before any run there ended, its runs are its first ones, cold starts
    // and those waiting for them: they end about when the first one does.
    auto ms = st.run_ms[i] > 0
                ? expected_wait_ms(q.size(), st.pool.slots(i), st.run_ms[i])
                : first_runs_wait_ms(st.first_dispatch_ms[i] - now_ms(self),
                                     q.size(), st.pool.slots(i),
                                     st.cfg.cold_start_ms);
    if (costs != nullptr)
      ms += (*costs)[st.pool.host_of(i)];
    if (ms < best_ms) {
      best = i;
      best_ms = ms;
      now = false;
    }
  }
  if (best == instance_pool::npos)
    return false;
  if (now) {
    dispatch(self, id, best);
    return true;
  }
  auto& inv = st.live.at(id);
  inv.waiting_at = best;
  if (!inv.reason.note.empty())
    inv.reason.note += "; ";
  inv.reason.note += "waited for its home " + st.pool.name(best);
  st.waiters[best].push_back(id);
  return true;
}

/// Slots of instance `i` went free: the invocations waiting for it go first.
void serve_waiters(frontend_ptr self, instance_pool::index i) {
  auto& st = self->state;
  auto& q = st.waiters[i];
  while (!q.empty() && st.pool.has_free_slot(i)) {
    auto id = q.front();
    q.pop_front();
    auto it = st.live.find(id);
    if (it == st.live.end() || it->second.waiting_at != i)
      continue;
    it->second.waiting_at = instance_pool::npos;
    dispatch(self, id, i);
  }
}

/// The runs a cold start on one of the task's `active` homes is expected to
/// serve.
double runs_per_cold_start(frontend_ptr self, const std::string& task,
                           size_t active) {
  auto& st = self->state;
  auto d = st.demand.find(task);
  auto rate = d != st.demand.end() ? d->second.per_s(now_ms(self)) : 0.0;
  return expected_runs(rate, st.cfg.warm_horizon_s, active);
}

/// A profile just tripped the threshold: its first home warms the task up
/// now, so that its first negotiated runs find it warm.
void prewarm(frontend_ptr self, const task_profile& profile) {
  auto& st = self->state;
  if (st.cfg.policy != placement_policy::predictive || !st.cfg.prewarm
      || st.tripped.count(profile.task) != 0)
    return;
  auto svc = most_likely_service(profile);
  if (svc == nullptr || svc->likelihood < st.cfg.threshold)
    return;
  auto& homes = homes_of(self, profile);
  if (homes.empty())
    return; // no channel measured yet: the next push tries again
  st.tripped.insert(profile.task);
  if (!st.pool.warm(homes.front(), profile.task))
    warm_up(self, profile.task, homes.front());
}

/// Tells `home` to warm `task` up now, ahead of its runs.
void warm_up(frontend_ptr self, const std::string& task,
             instance_pool::index home) {
  auto& st = self->state;
  if (st.cfg.policy != placement_policy::predictive || !st.cfg.prewarm)
    return;
  // Counted, and warm in the pool's view, only when the instance does it.
  auto handle = st.handles[home];
  self->request(handle, caf::infinite, prewarm_atom::value, task)
    .then(
      [=](bool warming) {
        auto& st = self->state;
        if (!warming || st.handles[home] != handle)
          return; // not warming, or the instance was replaced meanwhile
        st.pool.touch(home, task);
        ++st.counters.prewarms;
      },
      [](caf::error&) {
        // The instance is gone: nothing was warmed, nothing to count.
      });
}

// -- negotiation -------------------------------------------------------------

/// Who is asked for a bid on a run of `task`: k + 1 instances, its free
/// homes in use first (at most k, least busy first); then the free ones
/// further down its list where it is warm (it spilled there before), then
/// the instances with the best channels (`costs`; on the best host, warm
/// ones first).
std::vector<instance_pool::index>
bid_shortlist(frontend_ptr self, const std::string& task,
              const std::vector<instance_pool::index>& homes, size_t active,
              const std::vector<double>& costs) {
  auto& st = self->state;
  std::vector<instance_pool::index> shortlist;
  for (size_t k = 0; k < active; ++k)
    if (st.pool.has_free_slot(homes[k]))
      shortlist.push_back(homes[k]);
  size_t limit = st.cfg.candidates + 1;
  if (shortlist.size() > st.cfg.candidates) {
    std::partial_sort(shortlist.begin(), shortlist.begin() + st.cfg.candidates,
                      shortlist.end(), [&](auto a, auto b) {
                        return st.pool.busy(a) * st.pool.slots(b)
                               < st.pool.busy(b) * st.pool.slots(a);
                      });
    shortlist.resize(st.cfg.candidates);
  }
  auto add = [&](instance_pool::index i) {
    if (shortlist.size() < limit
        && std::find(shortlist.begin(), shortlist.end(), i) == shortlist.end())
      shortlist.push_back(i);
  };
  for (size_t k = active; k < homes.size(); ++k)
    if (st.pool.has_free_slot(homes[k]) && st.pool.warm(homes[k], task))
      add(homes[k]);
  for (auto i : placement::shortlist(st.pool, costs, st.cfg.candidates, task))
    add(i);
  return shortlist;
}

/// What the instances are asked to bid on for invocation `id` of a task
/// with `profile`, most likely using `svc`.
bid_request make_bid_request(frontend_ptr self, invocation_id id,
                             const task_profile& profile,
                             const service_likelihood& svc,
                             const std::vector<instance_pool::index>& homes,
                             size_t active) {
  auto& st = self->state;
  bid_request req{id,
                  profile.task,
                  svc.service,
                  svc.likelihood,
                  svc.round_trips,
                  profile.services,
                  st.cfg.threshold,
                  {},
                  runs_per_cold_start(self, profile.task, active)};
  for (size_t k = 0; k < active; ++k)
    req.homes.push_back(st.pool.name(homes[k]));
  return req;
}

void negotiate(frontend_ptr self, invocation_id id,
               const service_likelihood& svc) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto& inv = st.live.at(id);
  auto& profile = st.profiles.at(inv.request.task);
  auto costs = host_costs(self, profile);
  auto& homes = homes_of(self, profile, &costs);
  auto active = active_homes(self, inv.request.task, homes);
  if (use_lease(self, id, profile, svc, costs, homes, active))
    return;
  auto shortlist = bid_shortlist(self, profile.task, homes, active, costs);
  // (While a new first home warms up, the warm one it had bids too.)
  if (auto i = handover_home(self, profile.task);
      i != instance_pool::npos
      && std::find(shortlist.begin(), shortlist.end(), i) == shortlist.end())
    shortlist.push_back(i);
  if (shortlist.empty()) {
    inv.reason.note = "no measured channel to '" + svc.service + "'";
    ++st.counters.fallbacks;
    fast_path(self, id, placement_route::fallback);
    return;
  }
  ++st.counters.negotiations;
  inv.reason.policy = placement_route::negotiated;
  // Hold the best candidate's slot while the bids are out: without it, every
  // queued invocation would start negotiating for the same free slot.
  inv.reserved = shortlist.front();
  st.pool.acquire(inv.reserved);
  struct round {
    size_t expected = 0;
    size_t answered = 0;
    size_t timeouts = 0;
    std::vector<bid> bids;
    std::vector<std::string> failures;
    /// The bids still out: what each could offer at best (its host's
    /// expected time in services and control round trip; load and a cold
    /// start only add to it).
    std::vector<std::pair<instance_pool::index, double>> pending;
    bool concluded = false;
  };
  auto rnd = std::make_shared<round>();
  rnd->expected = shortlist.size();
  for (auto i : shortlist)
    rnd->pending.emplace_back(i, costs[st.pool.host_of(i)]);
  auto conclude = [self, id, rnd] {
    rnd->concluded = true;
    auto& st = self->state;
    auto i = st.live.find(id);
    if (i == st.live.end())
      return;
    auto& inv = i->second;
    auto held = inv.reserved;
    st.pool.release(held);
    inv.reserved = instance_pool::npos;
    auto& bids = rnd->bids;
    auto accepting = placement::rank_bids(bids);
    inv.reason.bids = bids;
    inv.ranked.assign(bids.begin(), bids.begin() + accepting);
    inv.next_bid = 0;
    if (rnd->timeouts > 0)
      inv.reason.note += (inv.reason.note.empty() ? "" : "; ")
                         + std::to_string(rnd->timeouts) + " of "
                         + std::to_string(rnd->expected)
                         + " bids missed the deadline";
    for (auto& failure : rnd->failures)
      inv.reason.note += (inv.reason.note.empty() ? "" : "; ")
                         + std::string{"a bid failed: "} + failure;
    try_next_bid(self, id);
    // The slot held while the bids were out is free again unless this one
    // took it: whoever waits for it (it looked full meanwhile) goes now,
    // else nothing might ever serve them.
    serve_waiters(self, held);
    pump(self);
  };
  auto req = make_bid_request(self, id, profile, svc, homes, active);
  // Done when every bid is in, or as soon as no bid still out can beat the
  // best one in: waiting for a far instance's answer costs its round trip.
  auto settled = [rnd](instance_pool::index from) {
    auto& p = rnd->pending;
    p.erase(std::remove_if(p.begin(), p.end(),
                           [&](auto& x) { return x.first == from; }),
            p.end());
    if (rnd->answered == rnd->expected)
      return true;
    auto best = std::numeric_limits<double>::infinity();
    for (auto& b : rnd->bids)
      if (b.accept)
        best = std::min(best, b.expected_ms + b.control_ms);
    for (auto& [_, bound] : p)
      if (!(best <= bound))
        return false;
    return true;
  };
  auto sent = now_ms(self);
  for (auto i : shortlist) {
    self->request(st.handles[i], to_timespan(st.cfg.bid_deadline_ms), req)
      .then(
        [=](bid& b) {
          if (rnd->concluded)
            return;
          ++rnd->answered;
          auto h = self->state.pool.host_of(i);
          measured_control(self, h, now_ms(self) - sent);
          b.control_ms = control_of(self, h);
          rnd->bids.push_back(std::move(b));
          if (settled(i))
            conclude();
        },
        [=](caf::error& err) {
          if (rnd->concluded)
            return;
          ++rnd->answered;
          // A missed deadline is counted, and the trip to that host is at
          // least as long; any other failure is noted in the answer's
          // reason.
          if (err == caf::sec::request_timeout) {
            ++self->state.counters.bid_timeouts;
            ++rnd->timeouts;
            measured_control(self, self->state.pool.host_of(i),
                             self->state.cfg.bid_deadline_ms);
          } else {
            rnd->failures.push_back(self->system().render(err));
          }
          if (settled(i))
            conclude();
        });
  }
}

// -- leases ------------------------------------------------------------------

/// The best expected time in services over every host.
double best_cost(const std::vector<double>& costs) {
  auto best = std::numeric_limits<double>::infinity();
  for (auto c : costs)
    best = std::min(best, c);
  return best;
}

/// A warm home, `i`, won a negotiation for the task of `profile`
/// (by invocation `from`, whose `bids` were asked): the task's next runs go
/// there, or to another instance on its host that bid warm, without bids
/// while the lease holds.
void grant_lease(frontend_ptr self, invocation_id from, instance_pool::index i,
                 const std::vector<bid>& bids, const task_profile& profile) {
  auto& st = self->state;
  if (!(st.cfg.lease_ms > 0))
    return;
  auto costs = host_costs(self, profile);
  placement::lease l;
  l.winner_ms = costs[st.pool.host_of(i)];
  if (!std::isfinite(l.winner_ms))
    return;
  l.best_ms = best_cost(costs);
  l.instances.push_back(i);
  for (auto& b : bids)
    if (auto k = st.pool.find(b.instance);
        b.accept && b.warm && k != i && k != instance_pool::npos
        && st.pool.host_of(k) == st.pool.host_of(i))
      l.instances.push_back(k);
  l.from = from;
  l.expires_ms = now_ms(self) + st.cfg.lease_ms;
  st.leases[profile.task] = std::move(l);
}

/// A due lease's renewal: the instances are asked for bids as for
/// invocation `id` (which the lease places meanwhile), and when all have
/// answered, a warm home that wins renews it; anything else ends it.
/// `costs`, `homes` and `active` are as the negotiation found them.
void renew_lease(frontend_ptr self, invocation_id id,
                 const task_profile& profile, const service_likelihood& svc,
                 const std::vector<double>& costs,
                 const std::vector<instance_pool::index>& homes,
                 size_t active) {
  auto& st = self->state;
  auto shortlist = bid_shortlist(self, profile.task, homes, active, costs);
  auto& lease = st.leases.at(profile.task);
  for (auto i : lease.instances) // (busy or not: they are what it stands on)
    if (std::find(shortlist.begin(), shortlist.end(), i) == shortlist.end())
      shortlist.push_back(i);
  lease.renewing = true;
  ++st.counters.negotiations;
  struct round {
    size_t expected = 0;
    std::vector<bid> bids;
  };
  auto rnd = std::make_shared<round>();
  rnd->expected = shortlist.size();
  auto task = profile.task;
  auto conclude = [self, id, task, rnd] {
    auto& st = self->state;
    auto l = st.leases.find(task);
    auto p = st.profiles.find(task);
    if (l == st.leases.end() || !l->second.renewing)
      return; // ended meanwhile (a channel moved, a refusal, a loss)
    if (p != st.profiles.end() && placement::rank_bids(rnd->bids) > 0) {
      auto& best = rnd->bids.front();
      auto i = st.pool.find(best.instance);
      if (best.warm && i != instance_pool::npos && is_home(self, task, i)) {
        grant_lease(self, id, i, rnd->bids, p->second);
        return;
      }
    }
    st.leases.erase(l);
  };
  auto req = make_bid_request(self, id, profile, svc, homes, active);
  auto sent = now_ms(self);
  for (auto i : shortlist) {
    self->request(st.handles[i], to_timespan(st.cfg.bid_deadline_ms), req)
      .then(
        [=](bid& b) {
          auto h = self->state.pool.host_of(i);
          measured_control(self, h, now_ms(self) - sent);
          b.control_ms = control_of(self, h);
          rnd->bids.push_back(std::move(b));
          if (rnd->bids.size() == rnd->expected)
            conclude();
        },
        [=](caf::error&) {
          // (A bid that did not come counts as a declining one.)
          bid none;
          none.instance = self->state.pool.name(i);
          rnd->bids.push_back(std::move(none));
          if (rnd->bids.size() == rnd->expected)
            conclude();
        });
  }
}

/// Places invocation `id` by the task's lease when it holds (or is due and
/// renewed meanwhile): on the least busy of its warm instances with a free
/// slot nobody waits for, the task's homes in use first. `costs` are the
/// hosts' expected times in services now, `homes` the task's and `active`
/// how many of them it uses.
bool use_lease(frontend_ptr self, invocation_id id, const task_profile& profile,
               const service_likelihood& svc, const std::vector<double>& costs,
               const std::vector<instance_pool::index>& homes, size_t active) {
  auto& st = self->state;
  auto l = st.leases.find(profile.task);
  if (l == st.leases.end())
    return false;
  auto& lease = l->second;
  auto host = st.pool.host_of(lease.instances.front());
  auto state = placement::check_lease(lease, now_ms(self), costs[host],
                                      best_cost(costs), st.cfg.lease_tolerance);
  if (state == placement::lease_state::moved) {
    st.leases.erase(l);
    return false;
  }
  // (Its homes in use first; when they are full, a warm one further down
  // its list, as a spill would take.)
  auto best = instance_pool::npos;
  auto best_home = false;
  for (auto i : lease.instances) {
    if (!st.pool.has_free_slot(i) || !st.waiters[i].empty()
        || !st.pool.warm(i, profile.task))
      continue;
    auto home = is_active_home(self, profile.task, i);
    if (best == instance_pool::npos || (home && !best_home)
        || (home == best_home
            && st.pool.busy(i) * st.pool.slots(best)
                 < st.pool.busy(best) * st.pool.slots(i))) {
      best = i;
      best_home = home;
    }
  }
  if (best == instance_pool::npos)
    return false;
  auto& inv = st.live.at(id);
  inv.leased = true;
  inv.reason.policy = placement_route::negotiated;
  if (!inv.reason.note.empty())
    inv.reason.note += "; ";
  inv.reason.note += "lease from invocation " + std::to_string(lease.from);
  ++st.counters.leased;
  if (state == placement::lease_state::due && !lease.renewing)
    renew_lease(self, id, profile, svc, costs, homes, active);
  dispatch(self, id, best);
  return true;
}

// Takes the best remaining bid whose instance still has a free slot in the
// frontend's view; with none left, the fast path decides.
void try_next_bid(frontend_ptr self, invocation_id id) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto& inv = st.live.at(id);
  while (inv.next_bid < inv.ranked.size()) {
    auto& b = inv.ranked[inv.next_bid++];
    auto i = st.pool.find(b.instance);
    if (i != instance_pool::npos && st.pool.has_free_slot(i)) {
      // A cold start away from its homes: a full home may be worth waiting
      // for instead.
      // (Its profile is gone when the task was deleted while bids were out.)
      auto profile = st.profiles.find(inv.request.task);
      auto home = is_active_home(self, inv.request.task, i);
      if (!b.warm && profile != st.profiles.end() && !home) {
        auto costs = host_costs(self, profile->second);
        if (wait_for_home(self, id, profile->second,
                          b.expected_ms + b.control_ms, &costs))
          return;
      }
      // (The best bid only: a lease stands for the whole negotiation. A
      // warm home further down the list wins when those in use are full.)
      if (b.warm && inv.next_bid == 1 && profile != st.profiles.end()
          && is_home(self, inv.request.task, i))
        grant_lease(self, id, i, inv.ranked, profile->second);
      dispatch(self, id, i);
      return;
    }
  }
  ++st.counters.fallbacks;
  if (!inv.reason.note.empty())
    inv.reason.note += "; ";
  inv.reason.note += "no usable bid";
  fast_path(self, id, placement_route::fallback);
}

// -- fast path ---------------------------------------------------------------

void fast_path(frontend_ptr self, invocation_id id, placement_route why) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto& inv = st.live.at(id);
  // A home with a free slot keeps the task warm; else a full home may be
  // worth waiting for rather than a cold start; else the task's list, then
  // power of k choices.
  auto i = instance_pool::npos;
  // (No profile: the task was deleted while its bids were out; it runs
  // where load says, as admitted work does.)
  auto found = st.profiles.find(inv.request.task);
  if (st.cfg.policy == placement_policy::predictive
      && found != st.profiles.end()) {
    auto& profile = found->second;
    i = free_home(self, profile, false);
    auto warm = i != instance_pool::npos && st.pool.warm(i, profile.task);
    if (!warm) {
      // A cold start, on a new home or elsewhere: a full warm home may be
      // worth waiting for instead.
      if (wait_for_home(self, id, profile, cold_extra_of(self, profile.task),
                        nullptr)) {
        if (why == placement_route::fast_path)
          ++st.counters.fast_path;
        inv.reason.policy = why;
        return;
      }
      if (i == instance_pool::npos)
        i = free_home(self, profile, true);
    }
  }
  if (i == instance_pool::npos)
    i = placement::power_of_k(st.pool, st.cfg.candidates, inv.request.task,
                              st.rng);
  if (i == instance_pool::npos) {
    // Every slot was taken meanwhile (bids outstanding): wait in line.
    route(self, id);
    return;
  }
  if (why == placement_route::fast_path)
    ++st.counters.fast_path;
  inv.reason.policy = why;
  dispatch(self, id, i);
}

// -- execution ---------------------------------------------------------------

/// True while invocation `id` executes on instance `i`.
bool still_placed(frontend_ptr self, invocation_id id, instance_pool::index i) {
  auto it = self->state.live.find(id);
  return it != self->state.live.end() && it->second.placed == i;
}

/// Instance `i` is gone: it leaves the pool, and what ran there is answered
/// with an error (its requests would never be answered otherwise).
void lose_instance(frontend_ptr self, instance_pool::index i) {
  auto& st = self->state;
  st.pool.retire(i);
  for (auto l = st.leases.begin(); l != st.leases.end();)
    l = std::count(l->second.instances.begin(), l->second.instances.end(), i)
          ? st.leases.erase(l)
          : std::next(l);
  // Those waiting for it are placed anew.
  auto waiting = std::move(st.waiters[i]);
  st.waiters[i].clear();
  for (auto w : waiting)
    if (auto it = st.live.find(w);
        it != st.live.end() && it->second.waiting_at == i) {
      it->second.waiting_at = instance_pool::npos;
      route(self, w);
    }
  std::vector<invocation_id> lost;
  for (auto& [id, inv] : st.live)
    if (inv.placed == i)
      lost.push_back(id);
  for (auto id : lost) {
    auto& inv = st.live.at(id);
    inv.placed = instance_pool::npos;
    --st.counters.in_flight;
    auto remote = dynamic_cast<caf::actor_proxy*>(
                    caf::actor_cast<caf::abstract_actor*>(st.handles[i]))
                  != nullptr;
    if (remote && !inv.started) {
      // It never started there: placing it again runs it at most once.
      ++st.counters.retried;
      inv.reason = placement_reason{};
      inv.leased = false;
      inv.reason.note = "placed again: " + st.pool.name(i)
                        + " was lost before it started";
      inv.ranked.clear();
      inv.next_bid = 0;
      route(self, id);
      continue;
    }
    auto profile = st.profiles.find(inv.request.task);
    if (profile != st.profiles.end() && profile->second.idempotent) {
      // Safe to run again: placed anew, elsewhere.
      ++st.counters.retried;
      inv.reason = placement_reason{};
      inv.leased = false;
      inv.reason.note = "retried after losing " + st.pool.name(i);
      inv.ranked.clear();
      inv.next_bid = 0;
      route(self, id);
      continue;
    }
    invoke_result r;
    r.status = outcome::failed;
    r.host = st.pool.host_name(st.pool.host_of(i));
    r.instance = st.pool.name(i);
    r.error = "instance " + r.instance + " was lost while executing";
    finish(self, id, std::move(r));
  }
  if (st.pool.live() == 0) {
    // Nothing left to run anything: waiting would never end.
    auto waiting = std::move(st.queue);
    st.queue.clear();
    for (auto id : waiting)
      answer_unplaced(self, id, outcome::failed,
                      "no instances left (the last one, " + st.pool.name(i)
                        + ", was lost)");
  }
}

void dispatch(frontend_ptr self, invocation_id id, instance_pool::index i) {
  invocation_scope scope{id};
  auto& st = self->state;
  if (i == instance_pool::npos) {
    route(self, id);
    return;
  }
  auto& inv = st.live.at(id);
  if (st.cfg.policy == placement_policy::predictive) {
    if (is_active_home(self, inv.request.task, i))
      ++st.counters.home_placements;
  }
  if (st.first_dispatch_ms[i] < 0)
    st.first_dispatch_ms[i] = now_ms(self);
  st.pool.acquire(i);
  st.pool.touch(i, inv.request.task);
  inv.placed = i;
  inv.started = false;
  inv.dispatched_ms = now_ms(self);
  ++st.counters.in_flight;
  if (!inv.reason.service.empty())
    inv.reason.channel_ms = host_cost(self, inv.reason.service,
                                      st.pool.host_of(i), now_ms(self));
  execute_request req{id, inv.request.task, inv.request.payload};
  self->request(st.handles[i], caf::infinite, std::move(req))
    .then(
      [=](invoke_result& r) {
        auto& st = self->state;
        if (!still_placed(self, id, i))
          return; // answered already: the instance was lost meanwhile
        st.pool.release(i);
        --st.counters.in_flight;
        auto& done = st.live.at(id);
        done.placed = instance_pool::npos;
        if (r.status != outcome::refused) {
          auto ms = now_ms(self) - done.dispatched_ms;
          auto& run = st.run_ms[i];
          run = run <= 0 ? ms : run + (ms - run) / 8;
          if (auto d = st.demand.find(done.request.task); d != st.demand.end())
            d->second.ran(ms, r.aux_ms, r.cold_start, r.warmup_ms);
          // A run that ended there warmed the task up: on the lease's host,
          // the lease may use it.
          if (auto l = st.leases.find(done.request.task);
              r.status == outcome::ok && l != st.leases.end()) {
            auto& xs = l->second.instances;
            if (st.pool.host_of(xs.front()) == st.pool.host_of(i)
                && std::find(xs.begin(), xs.end(), i) == xs.end())
              xs.push_back(i);
          }
        }
        serve_waiters(self, i);
        if (r.status == outcome::refused) {
          ++st.counters.refusals;
          auto& inv = st.live.at(id);
          inv.refused_by.push_back(i);
          if (!inv.reason.note.empty())
            inv.reason.note += "; ";
          inv.reason.note += r.instance + " refused";
          if (++inv.refusals > st.cfg.max_refusals) {
            r.status = outcome::failed;
            r.error = "refused by " + std::to_string(inv.refusals)
                      + " instances";
            finish(self, id, std::move(r));
          } else if (inv.leased) {
            // Its slots were taken behind the frontend's back: the next
            // runs ask for bids again, and so does this one.
            st.leases.erase(inv.request.task);
            inv.leased = false;
            route(self, id);
          } else if (inv.reason.policy == placement_route::negotiated) {
            try_next_bid(self, id);
          } else {
            route(self, id);
          }
        } else {
          finish(self, id, std::move(r));
        }
        pump(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        if (!still_placed(self, id, i))
          return;
        st.pool.release(i);
        --st.counters.in_flight;
        serve_waiters(self, i);
        invoke_result r;
        r.status = outcome::failed;
        r.host = st.pool.host_name(st.pool.host_of(i));
        r.instance = st.pool.name(i);
        r.error = "instance " + r.instance
                  + " failed: " + self->system().render(err);
        finish(self, id, std::move(r));
        pump(self);
      });
}

void finish(frontend_ptr self, invocation_id id, invoke_result r) {
  invocation_scope scope{id};
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i == st.live.end())
    return;
  auto& inv = i->second;
  r.invocation = id;
  r.task = inv.request.task;
  r.reason = std::move(inv.reason);
  r.latency_ms = now_ms(self) - inv.admitted_ms;
  if (r.status == outcome::ok)
    ++st.counters.completed;
  else if (r.status == outcome::failed)
    ++st.counters.failed;
  inv.promise.deliver(std::move(r));
  st.live.erase(i);
}

/// Places waiting invocations while slots are free.
void pump(frontend_ptr self) {
  auto& st = self->state;
  while (!st.queue.empty() && !st.pool.free().empty()) {
    auto id = st.queue.front();
    st.queue.pop_front();
    if (st.live.count(id) != 0)
      place(self, id);
  }
}

} // namespace

frontend_actor::behavior_type
frontend(traced_pointer<frontend_actor, frontend_state> self,
         frontend_settings cfg, profile_registry_actor registry) {
  auto& st = self->state;
  st.pool = instance_pool{cfg.warm_capacity};
  st.channels = channel_table{channel_quality{cfg.quality}};
  st.rng.seed(cfg.seed);
  st.cfg = std::move(cfg);
  st.slot_prices = held_prices{st.cfg.scarce_persist_ms};
  st.registry = std::move(registry);
  self->send(st.registry, caf::subscribe_atom::value,
             caf::actor_cast<profile_listener_actor>(self));
  self->set_down_handler([=](caf::down_msg& msg) {
    // An instance died: it leaves the pool; its in-flight executions are
    // answered with an error.
    auto& st = self->state;
    for (size_t i = 0; i < st.handles.size(); ++i)
      if (st.handles[i].address() == msg.source)
        lose_instance(self, static_cast<instance_pool::index>(i));
  });
  return {
    [=](invoke_request& req) {
      auto rp = self->make_response_promise<invoke_result>();
      admit(self, std::move(req), rp);
      return rp;
    },
    [=](task_profile& p) {
      auto& st = self->state;
      if (!p.known) {
        // Deleted: the next invocation asks the registry, and hears so.
        st.profiles.erase(p.task);
        st.homes.erase(p.task);
        st.leases.erase(p.task);
        st.demand.erase(p.task);
        st.tripped.erase(p.task);
        return;
      }
      auto& cached = st.profiles[p.task];
      if (cached.version <= p.version) {
        cached = std::move(p);
        prewarm(self, cached);
      }
    },
    [=](channel_sample& x) {
      self->state.channels.update(std::move(x), now_ms(self));
    },
    [=](caf::join_atom, instance_info& info, instance_actor& h) {
      auto& st = self->state;
      auto known = st.pool.find(info.name);
      if (known != instance_pool::npos) {
        // Joining again (its node came back): revive it with its new handle.
        if (st.pool.retired(known)) {
          st.handles[known] = h;
          self->monitor(h);
          st.pool.revive(known);
          pump(self);
        }
        return;
      }
      st.pool.add(info.name, info.host, info.slots);
      st.host_zones[info.host] = info.zone;
      self->monitor(h);
      st.handles.push_back(std::move(h));
      st.waiters.emplace_back();
      st.run_ms.push_back(0);
      st.first_dispatch_ms.push_back(-1);
      st.control_ms.resize(st.pool.hosts(), -1.0);
      st.control_seen.resize(st.pool.hosts(), -1.0);
      pump(self);
    },
    [=](started_atom, invocation_id id) {
      auto i = self->state.live.find(id);
      if (i != self->state.live.end())
        i->second.started = true;
    },
    [=](caf::get_atom, status_atom) {
      auto& st = self->state;
      auto s = st.counters;
      s.queued = static_cast<uint32_t>(st.queue.size());
      s.instances = static_cast<uint32_t>(st.pool.size());
      s.live_instances = static_cast<uint32_t>(st.pool.live());
      return s;
    },
    [=](caf::get_atom, channels_atom) {
      return self->state.channels.samples();
    },
  };
}

} // namespace augur
