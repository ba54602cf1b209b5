#include "augur/actors/profile_registry.hpp"

namespace augur {

namespace {

using registry_ptr
  = traced_pointer<profile_registry_actor, profile_registry_state>;

void push_if_moved(registry_ptr self, const std::string& task, bool force) {
  auto& st = self->state;
  auto now = st.estimator.profile(task);
  auto i = st.pushed.find(task);
  if (!force && i != st.pushed.end()
      && !profile_moved(i->second, now, st.push_delta))
    return;
  for (auto& l : st.listeners)
    self->send(l, now);
  st.pushed[task] = std::move(now);
}

} // namespace

profile_registry_actor::behavior_type profile_registry(
  traced_pointer<profile_registry_actor, profile_registry_state> self,
  profile_registry_settings cfg) {
  auto& st = self->state;
  st.estimator = profile_estimator{cfg.estimator};
  for (auto& s : cfg.services)
    st.estimator.add_service(s);
  st.push_delta = cfg.push_delta;
  for (auto& x : cfg.restored)
    st.restored[x.task] = std::move(x);
  st.persist = std::move(cfg.persist);
  self->set_down_handler(
    [=](caf::down_msg& msg) { self->state.listeners.remove(msg.source); });
  return {
    [=](observation& x) {
      invocation_scope scope{x.invocation};
      auto& st = self->state;
      if (!st.estimator.observe(x.task, x.used))
        return;
      push_if_moved(self, x.task, false);
      if (st.persist) {
        auto snap = st.estimator.snapshot(x.task);
        st.persist(x.task, &snap);
      }
    },
    [=](task_spec& x) {
      auto& st = self->state;
      st.estimator.define(x.name, x.hints, x.idempotent);
      if (auto i = st.restored.find(x.name); i != st.restored.end()) {
        st.estimator.restore(i->second);
        st.restored.erase(i);
      }
      push_if_moved(self, x.name, true);
    },
    [=](caf::delete_atom, const std::string& task) {
      auto& st = self->state;
      st.restored.erase(task);
      if (!st.estimator.forget(task))
        return;
      // Frontends drop what they cached: the task is unknown from now on.
      task_profile gone;
      gone.task = task;
      for (auto& l : st.listeners)
        self->send(l, gone);
      st.pushed.erase(task);
      if (st.persist)
        st.persist(task, nullptr);
    },
    [=](caf::get_atom, const std::string& task) {
      return self->state.estimator.profile(task);
    },
    [=](caf::subscribe_atom, profile_listener_actor l) {
      // A known listener is not added twice; past the set's bound (far more
      // than a cluster has) a new one is not added: it gets nothing.
      if (self->state.listeners.add(l)
          == listener_set<profile_listener_actor>::added::fresh)
        self->monitor(l);
    },
  };
}

} // namespace augur
