#include "augur/actors/channel_probe.hpp"

#include "augur/runtime/clock.hpp"

namespace augur {

namespace {

using probe_ptr = traced_pointer<channel_probe_actor, channel_probe_state>;

void schedule_tick(probe_ptr self) {
  auto& cfg = self->state.cfg;
  std::uniform_real_distribution<double> d{1 - cfg.interval_jitter,
                                           1 + cfg.interval_jitter};
  self->delayed_send(self, to_timespan(cfg.interval_ms * d(self->state.rng)),
                     caf::tick_atom::value);
}

void probe_all(probe_ptr self) {
  auto& st = self->state;
  auto now = now_ms(self);
  for (auto& [service, est] : st.channels) {
    if (auto rtt = st.network->probe(st.cfg.host, service))
      est.success(*rtt, now);
    else
      est.failure();
    auto x = est.sample(st.cfg.host, service, now);
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
}

} // namespace

channel_probe_actor::behavior_type
channel_probe(traced_pointer<channel_probe_actor, channel_probe_state> self,
              channel_probe_settings cfg,
              std::shared_ptr<network_emulator> network,
              std::map<std::string, aux_service_actor> service_actors) {
  auto& st = self->state;
  st.service_actors = std::move(service_actors);
  st.rng.seed(cfg.seed);
  for (auto& s : cfg.services)
    st.channels.emplace(s, channel_estimator{cfg.loss_window, cfg.down_after});
  st.cfg = std::move(cfg);
  st.network = std::move(network);
  // The first measurement happens right away, so that a fresh cluster knows
  // its channels before the first invocation arrives.
  self->send(self, caf::tick_atom::value);
  return {
    [=](caf::subscribe_atom, channel_listener_actor l) {
      // A late listener gets what is known so far without waiting a round.
      auto now = now_ms(self);
      for (auto& [service, est] : self->state.channels)
        if (est.rtt().samples() > 0)
          self->send(l, est.sample(self->state.cfg.host, service, now));
      self->state.listeners.push_back(std::move(l));
    },
    [=](caf::get_atom, channels_atom) {
      std::vector<channel_sample> result;
      auto now = now_ms(self);
      for (auto& [service, est] : self->state.channels)
        result.push_back(est.sample(self->state.cfg.host, service, now));
      return result;
    },
    [=](caf::tick_atom) {
      probe_all(self);
      schedule_tick(self);
    },
  };
}

} // namespace augur
