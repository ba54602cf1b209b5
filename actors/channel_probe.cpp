#include "augur/actors/channel_probe.hpp"

#include "augur/actors/clock.hpp"
#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/execution/probe_client.hpp"

namespace augur {

namespace {

using probe_ptr
  = traced_pointer<channel_probe_private_actor, channel_probe_state>;

void schedule_tick(probe_ptr self) {
  auto& cfg = self->state.cfg;
  std::uniform_real_distribution<double> d{1 - cfg.interval_jitter,
                                           1 + cfg.interval_jitter};
  self->delayed_send(self, to_timespan(cfg.interval_ms * d(self->state.rng)),
                     caf::tick_atom::value);
}

/// Publishes the estimate of `service` (and its reachability, when it
/// changed) to the listeners.
void publish(probe_ptr self, const std::string& service,
             const channel_estimator& est) {
  auto& st = self->state;
  auto x = est.sample(st.cfg.host, service, now_ms(self));
  auto reported = st.reported_up.find(service);
  if (reported == st.reported_up.end() || reported->second != x.up) {
    st.reported_up[service] = x.up;
    auto svc = st.service_actors.find(service);
    if (svc != st.service_actors.end())
      self->send(svc->second, health_atom::value, st.cfg.host, x.up);
  }
  for (auto& l : st.listeners)
    self->send(l, x);
}

/// Starts a real measurement of `service` on the I/O thread; the result
/// comes back as a message.
void measure(probe_ptr self, const std::string& service) {
  auto& st = self->state;
  if (!st.measuring.insert(service).second)
    return; // the last one is still out: its deadline will tell
  auto handle = caf::actor_cast<channel_probe_private_actor>(self);
  auto done = [handle, service](bool ok, double rtt) {
    caf::anon_send(handle, measured_atom::value, service, ok, rtt);
  };
  auto& [endpoint, kind] = st.cfg.real.at(service);
  auto& io = st.cfg.io->context();
  if (kind == probe_kind::redis) {
    measure_redis_ping(io, st.gateways.at(service)->port(), st.cfg.timeout_ms,
                       done);
  } else {
    auto [host, port] = parse_endpoint(endpoint);
    auto net = st.network;
    auto my_host = st.cfg.host;
    measure_tcp_connect(
      io, host, port,
      [net, my_host, service] {
        return net->link(my_host, service).value_or(link_spec{});
      },
      st.cfg.timeout_ms, done);
  }
}

void probe_all(probe_ptr self) {
  auto& st = self->state;
  auto now = now_ms(self);
  for (auto& [service, est] : st.channels) {
    if (st.cfg.real.count(service) != 0) {
      measure(self, service);
      continue;
    }
    if (auto rtt = st.network->probe(st.cfg.host, service))
      est.success(*rtt, now);
    else
      est.failure();
    publish(self, service, est);
  }
}

} // namespace

channel_probe_private_actor::behavior_type channel_probe(
  traced_pointer<channel_probe_private_actor, channel_probe_state> self,
  channel_probe_settings cfg, std::shared_ptr<network_emulator> network,
  std::map<std::string, aux_service_actor> service_actors) {
  auto& st = self->state;
  st.service_actors = std::move(service_actors);
  st.rng.seed(cfg.seed);
  for (auto& s : cfg.services)
    st.channels.emplace(s, channel_estimator{cfg.loss_window, cfg.down_after});
  st.cfg = std::move(cfg);
  st.network = std::move(network);
  if (st.cfg.io) {
    for (auto& [service, real] : st.cfg.real) {
      if (real.second != probe_kind::redis)
        continue;
      auto [host, port] = parse_endpoint(real.first);
      auto net = st.network;
      auto my_host = st.cfg.host;
      auto svc = service;
      st.gateways[service] = gateway::open(
        st.cfg.io->context(), service, host, port,
        [net, my_host, svc] {
          return net->link(my_host, svc).value_or(link_spec{});
        },
        st.cfg.seed);
    }
  } else {
    st.cfg.real.clear();
  }
  // The I/O runner stays alive until the gateways are told to close.
  self->attach_functor([gateways = st.gateways, io = st.cfg.io] {
    (void) io;
    for (auto& [_, gw] : gateways)
      gw->close();
  });
  // The first measurement happens right away, so that a fresh cluster knows
  // its channels before the first invocation arrives.
  self->send(self, caf::tick_atom::value);
  self->set_down_handler(
    [=](caf::down_msg& msg) { self->state.listeners.remove(msg.source); });
  return {
    [=](caf::subscribe_atom, channel_listener_actor l) {
      // A late listener gets what is known so far without waiting a round.
      auto now = now_ms(self);
      for (auto& [service, est] : self->state.channels)
        if (est.rtt().samples() > 0)
          self->send(l, est.sample(self->state.cfg.host, service, now));
      // A known listener is not added twice; past the set's bound (far more
      // than a cluster has) a new one is not added: it gets nothing.
      if (self->state.listeners.add(l)
          == listener_set<channel_listener_actor>::added::fresh)
        self->monitor(l);
    },
    [=](caf::get_atom, channels_atom) {
      std::vector<channel_sample> result;
      auto now = now_ms(self);
      for (auto& [service, est] : self->state.channels)
        result.push_back(est.sample(self->state.cfg.host, service, now));
      return result;
    },
    [=](const observation& x) {
      auto& st = self->state;
      auto now = now_ms(self);
      for (auto& u : x.used)
        if (auto i = st.channels.find(u.service); i != st.channels.end())
          i->second.passive(u, now);
    },
    [=](caf::tick_atom) {
      probe_all(self);
      schedule_tick(self);
    },
    [=](measured_atom, const std::string& service, bool ok, double rtt) {
      auto& st = self->state;
      st.measuring.erase(service);
      auto i = st.channels.find(service);
      if (i == st.channels.end())
        return;
      if (ok)
        i->second.success(rtt, now_ms(self));
      else
        i->second.failure();
      publish(self, service, i->second);
    },
  };
}

} // namespace augur
