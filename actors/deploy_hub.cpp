#include "augur/actors/deploy_hub.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "augur/messages/errors.hpp"

namespace augur {

namespace fs = std::filesystem;

namespace {

using hub_pointer = traced_pointer<deploy_hub_actor, deploy_hub_state>;

caf::timespan as_timespan(double ms) {
  return caf::timespan{static_cast<int64_t>(ms * 1e6)};
}

/// The definition with its code's bytes, read from where the control node
/// keeps the archive.
caf::expected<task_definition> with_code(const task_definition& d) {
  auto x = d;
  if (!x.code_path.empty()) {
    std::ifstream in{x.code_path, std::ios::binary};
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in || bytes.str().empty())
      return make_error(ec::not_installed, "cannot read the code of '" + d.name
                                             + "' at " + x.code_path);
    x.code = bytes.str();
  }
  return x;
}

/// Hands the definitions named in `names`, from the `i`th on, to a joining
/// agent one at a time (one archive in memory at once), then answers.
void hand_over(hub_pointer self, node_agent_actor agent,
               std::shared_ptr<const std::vector<std::string>> names, size_t i,
               caf::typed_response_promise<uint64_t> rp, double timeout_ms) {
  auto& tasks = self->state.tasks;
  // Deleted meanwhile: the agent got the deletion, or never had it.
  while (i < names->size() && tasks.count((*names)[i]) == 0)
    ++i;
  if (i == names->size()) {
    rp.deliver(static_cast<uint64_t>(names->size()));
    return;
  }
  auto d = with_code(tasks.at((*names)[i]));
  if (!d) {
    rp.deliver(d.error());
    return;
  }
  self->request(agent, as_timespan(timeout_ms), std::move(*d))
    .then([=](bool) { hand_over(self, agent, names, i + 1, rp, timeout_ms); },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

/// Sends `msg` to every agent; answers how many took it, or the first
/// error once all answered.
template <class... Ts>
caf::result<uint64_t> fan_out(hub_pointer self, double timeout_ms, Ts... msg) {
  auto& agents = self->state.agents;
  if (agents.empty())
    return uint64_t{0};
  auto rp = self->make_response_promise<uint64_t>();
  struct tally {
    size_t left = 0;
    uint64_t took = 0;
    caf::error first;
  };
  auto t = std::make_shared<tally>();
  t->left = agents.size();
  auto done = [t, rp]() mutable {
    if (--t->left > 0)
      return;
    if (t->first)
      rp.deliver(t->first);
    else
      rp.deliver(t->took);
  };
  for (auto& a : agents)
    self->request(a, as_timespan(timeout_ms), msg...)
      .then(
        [=](bool) mutable {
          ++t->took;
          done();
        },
        [=](caf::error& err) mutable {
          if (!t->first)
            t->first = std::move(err);
          done();
        });
  return rp;
}

} // namespace

deploy_hub_actor::behavior_type
deploy_hub(traced_pointer<deploy_hub_actor, deploy_hub_state> self,
           double timeout_ms) {
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& agents = self->state.agents;
    agents.erase(std::remove_if(agents.begin(), agents.end(),
                                [&](const node_agent_actor& a) {
                                  return a.address() == msg.source;
                                }),
                 agents.end());
  });
  return {
    [=](caf::join_atom,
        const node_agent_actor& agent) -> caf::result<uint64_t> {
      auto& st = self->state;
      // Joining again (the same agent after a lost connection) replaces.
      if (std::find(st.agents.begin(), st.agents.end(), agent)
          == st.agents.end()) {
        self->monitor(agent);
        st.agents.push_back(agent);
      }
      auto names = std::make_shared<std::vector<std::string>>();
      for (auto& [name, _] : st.tasks)
        names->push_back(name);
      auto rp = self->make_response_promise<uint64_t>();
      hand_over(self, agent, std::move(names), 0, rp, timeout_ms);
      return rp;
    },
    [=](task_definition& d) -> caf::result<uint64_t> {
      d.code.clear();
      self->state.tasks[d.name] = d;
      auto full = with_code(d);
      if (!full)
        return full.error();
      return fan_out(self, timeout_ms, std::move(*full));
    },
    [=](caf::delete_atom, const std::string& name) -> caf::result<uint64_t> {
      self->state.tasks.erase(name);
      return fan_out(self, timeout_ms, caf::delete_atom::value, name);
    },
  };
}

node_agent_actor::behavior_type
node_agent(traced_pointer<node_agent_actor, node_agent_state> self,
           std::shared_ptr<task_catalog> catalog, std::string code_root,
           code_unpacker unpack) {
  self->state.catalog = std::move(catalog);
  self->state.code_root = std::move(code_root);
  self->state.unpack = std::move(unpack);
  return {
    [=](task_definition& d) -> caf::result<bool> {
      auto& st = self->state;
      command_spec cmd;
      cmd.argv = std::move(d.argv);
      for (auto& kv : d.env) {
        auto eq = kv.find('=');
        if (eq != std::string::npos)
          cmd.env[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      cmd.timeout_ms = d.timeout_ms;
      cmd.memory_mb = d.memory_mb;
      cmd.setup = std::move(d.setup);
      std::string previous;
      if (auto old = st.catalog->find(d.name); old && old->command)
        previous = old->command->code_dir;
      if (!d.code.empty()) {
        if (!st.unpack || st.code_root.empty())
          return make_error(ec::not_installed,
                            "this node cannot unpack the code of '" + d.name
                              + "'");
        auto root = st.code_root + "/" + task_directory_name(d.name);
        cmd.code_dir = root + "/" + std::to_string(d.version);
        std::error_code ignored;
        fs::remove_all(cmd.code_dir, ignored);
        try {
          st.unpack(d.code, cmd.code_dir);
        } catch (const std::exception& e) {
          fs::remove_all(cmd.code_dir, ignored);
          return make_error(ec::not_installed,
                            "the code of '" + d.name
                              + "' did not unpack: " + e.what());
        }
        // Kept: this version's files and the one before (a cold start of
        // it may be copying them now); older ones go.
        for (auto& e : fs::directory_iterator(root, ignored))
          if (e.path() != cmd.code_dir && e.path() != previous)
            fs::remove_all(e.path(), ignored);
      }
      task_options opts;
      opts.hints = std::move(d.hints);
      st.catalog->define_command(d.name, std::move(opts), std::move(cmd),
                                 d.version);
      return true;
    },
    [=](caf::delete_atom, const std::string& name) {
      auto& st = self->state;
      st.catalog->remove(name);
      if (!st.code_root.empty()) {
        std::error_code ignored;
        fs::remove_all(st.code_root + "/" + task_directory_name(name), ignored);
      }
      return true;
    },
  };
}

} // namespace augur
