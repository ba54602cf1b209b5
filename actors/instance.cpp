#include "augur/actors/instance.hpp"

#include <exception>

#include "augur/model/placement.hpp"
#include "augur/runtime/clock.hpp"

namespace augur {

namespace {

using instance_ptr = traced_pointer<instance_actor, instance_state>;

double channel_cost(instance_ptr self, const std::string& service) {
  auto& st = self->state;
  auto i = st.channels.find(service);
  if (i == st.channels.end())
    return channel_quality::unusable;
  auto& [sample, received] = i->second;
  return st.quality.cost_ms(sample, sample.age_ms + now_ms(self) - received);
}

double cold_start_of(const instance_state& st, const task_catalog::entry& x) {
  return x.options.cold_start_ms >= 0 ? x.options.cold_start_ms
                                      : st.cfg.cold_start_ms;
}

// Runs the task's handler right away (it is modelled code: its cost is the
// time it declares and the channel time it spends) and returns the result,
// the observation and the duration the execution occupies its slot.
std::tuple<invoke_result, observation, double>
run(instance_ptr self, const execute_request& req,
    const task_catalog::entry& task) {
  auto& st = self->state;
  invoke_result r;
  r.invocation = req.invocation;
  r.task = req.task;
  r.host = st.cfg.info.host;
  r.instance = st.cfg.info.name;
  r.cold_start = st.warm.touch(req.task);
  auto services = st.catalog->services();
  task_context ctx{st.cfg.info.host, st.cfg.info.name, *st.network,
                   *services};
  ctx.compute(task.options.compute_ms);
  try {
    r.output = task.handler(ctx, req.payload);
    r.status = outcome::ok;
  } catch (const task_error& e) {
    r.status = outcome::failed;
    r.error = e.what();
  } catch (const std::exception& e) {
    r.status = outcome::failed;
    r.error = std::string{"task threw: "} + e.what();
  } catch (...) {
    r.status = outcome::failed;
    r.error = "task threw a non-standard exception";
  }
  r.aux_ms = ctx.aux_ms();
  observation seen{req.invocation, req.task, st.cfg.info.host,
                   st.cfg.info.name, ctx.used()};
  auto duration = (r.cold_start ? cold_start_of(st, task) : 0.0)
                  + ctx.compute_ms() + ctx.aux_ms();
  return {std::move(r), std::move(seen), duration};
}

} // namespace

instance_actor::behavior_type
instance(traced_pointer<instance_actor, instance_state> self,
         instance_settings cfg, std::shared_ptr<task_catalog> catalog,
         std::shared_ptr<network_emulator> network,
         profile_registry_actor registry) {
  auto& st = self->state;
  st.warm = warm_set{cfg.warm_capacity};
  st.quality = channel_quality{cfg.quality};
  st.cfg = std::move(cfg);
  st.catalog = std::move(catalog);
  st.network = std::move(network);
  st.registry = std::move(registry);
  return {
    [=](const bid_request& req) {
      invocation_scope scope{req.invocation};
      auto& st = self->state;
      bid b;
      b.invocation = req.invocation;
      b.instance = st.cfg.info.name;
      b.host = st.cfg.info.host;
      b.free_slots = st.cfg.info.slots - std::min(st.busy, st.cfg.info.slots);
      b.accept = b.free_slots > 0;
      b.warm = st.warm.contains(req.task);
      b.channel_ms = channel_cost(self, req.service);
      placement::bid_inputs in;
      in.warm = b.warm;
      auto task = st.catalog->find(req.task);
      in.cold_start_ms = task ? cold_start_of(st, *task) : st.cfg.cold_start_ms;
      in.likelihood = req.likelihood;
      in.round_trips = req.round_trips;
      in.channel_ms = b.channel_ms;
      in.busy = st.busy;
      in.slots = st.cfg.info.slots;
      in.load_weight_ms = st.cfg.load_weight_ms;
      b.expected_ms = placement::expected_latency_ms(in);
      auto rp = self->make_response_promise<bid>();
      if (st.cfg.bid_delay_ms <= 0) {
        rp.deliver(std::move(b));
        return rp;
      }
      auto seq = st.next_seq++;
      st.delayed_bids.emplace(seq, std::make_pair(rp, std::move(b)));
      self->delayed_send(self, to_timespan(st.cfg.bid_delay_ms),
                         bid_atom::value, seq);
      return rp;
    },
    [=](bid_atom, uint64_t seq) {
      auto& st = self->state;
      auto i = st.delayed_bids.find(seq);
      if (i == st.delayed_bids.end())
        return;
      invocation_scope scope{i->second.second.invocation};
      i->second.first.deliver(std::move(i->second.second));
      st.delayed_bids.erase(i);
    },
    [=](const execute_request& req) {
      invocation_scope scope{req.invocation};
      auto& st = self->state;
      auto rp = self->make_response_promise<invoke_result>();
      if (st.busy >= st.cfg.info.slots) {
        invoke_result r;
        r.invocation = req.invocation;
        r.task = req.task;
        r.status = outcome::refused;
        r.error = "no free slot";
        r.host = st.cfg.info.host;
        r.instance = st.cfg.info.name;
        rp.deliver(std::move(r));
        return rp;
      }
      auto task = st.catalog->find(req.task);
      if (!task) {
        invoke_result r;
        r.invocation = req.invocation;
        r.task = req.task;
        r.status = outcome::unknown_task;
        r.error = "task '" + req.task + "' is not defined on "
                  + st.cfg.info.name;
        r.host = st.cfg.info.host;
        r.instance = st.cfg.info.name;
        rp.deliver(std::move(r));
        return rp;
      }
      ++st.busy;
      ++st.executions;
      auto [result, seen, duration] = run(self, req, *task);
      if (result.cold_start)
        ++st.cold_starts;
      if (duration <= 0) {
        // Nothing to wait for: answer at once.
        --st.busy;
        rp.deliver(std::move(result));
        self->send(st.registry, std::move(seen));
        return rp;
      }
      auto seq = st.next_seq++;
      st.running_executions.emplace(
        seq, instance_state::running{rp, std::move(result), std::move(seen)});
      self->delayed_send(self, to_timespan(duration), done_atom::value, seq);
      return rp;
    },
    [=](channel_sample& x) {
      auto key = x.service;
      self->state.channels[key] = {std::move(x), now_ms(self)};
    },
    [=](caf::get_atom, status_atom) {
      auto& st = self->state;
      instance_status s;
      s.info = st.cfg.info;
      s.busy = st.busy;
      s.executions = st.executions;
      s.cold_starts = st.cold_starts;
      s.warm = st.warm.tasks();
      return s;
    },
    [=](done_atom, uint64_t seq) {
      auto& st = self->state;
      auto i = st.running_executions.find(seq);
      if (i == st.running_executions.end())
        return;
      invocation_scope scope{i->second.result.invocation};
      --st.busy;
      // The caller first, then the registry.
      i->second.promise.deliver(std::move(i->second.result));
      self->send(st.registry, std::move(i->second.seen));
      st.running_executions.erase(i);
    },
  };
}

} // namespace augur
