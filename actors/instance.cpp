#include "augur/actors/instance.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

#include <unistd.h>

#include <boost/asio/post.hpp>

#include <caf/actor_proxy.hpp>

#include "augur/actors/clock.hpp"
#include "augur/model/placement.hpp"
#include "augur/probes/channel_estimator.hpp"
#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/execution/gateway.hpp"
#include "augur/runtime/execution/process.hpp"

namespace augur {

namespace {

namespace asio = boost::asio;

using instance_ptr = traced_pointer<instance_private_actor, instance_state>;

double channel_cost(instance_ptr self, const std::string& service) {
  auto& st = self->state;
  return st.channels.cost_ms(st.cfg.info.host, service, now_ms(self));
}

double cold_start_of(const instance_state& st, const task_catalog::entry& x) {
  return x.options.cold_start_ms >= 0 ? x.options.cold_start_ms
                                      : st.cfg.cold_start_ms;
}

/// Whether `task` is warm here in `version`.
bool warm_for(const instance_state& st, const std::string& task,
              uint64_t version) {
  if (!st.warm.contains(task))
    return false;
  auto i = st.warm_versions.find(task);
  return i != st.warm_versions.end() && i->second == version;
}

/// What is left at `now` of a pre-warm of `task` in `version` under way
/// (negative: none).
double warming_left(const instance_state& st, const std::string& task,
                    uint64_t version, double now) {
  auto i = st.warming.find(task);
  if (i == st.warming.end() || i->second.first != version)
    return -1;
  return std::max(0.0, i->second.second - now);
}

/// Marks `task` in `version` as just used; returns true when it was cold
/// (not warm, or warm with another version).
bool touch(instance_state& st, const std::string& task, uint64_t version) {
  auto cold = !warm_for(st, task, version);
  st.warm.touch(task);
  st.warm_versions[task] = version;
  if (st.warm_versions.size() > 4 * st.warm.capacity() + 8)
    for (auto i = st.warm_versions.begin(); i != st.warm_versions.end();)
      i = st.warm.contains(i->first) ? std::next(i) : st.warm_versions.erase(i);
  return cold;
}

/// The directory of `task`'s executions in `version` under the instance's
/// root (`-v` cannot occur in a task's directory name: `-` is escaped).
std::string task_dir(const std::string& task, uint64_t version) {
  auto dir = task_directory_name(task);
  if (version > 0)
    dir += "-v" + std::to_string(version);
  return dir;
}

/// Tells the host's probe what an execution saw of its services (passive
/// samples), and the registry what it did (a worker node that has not joined
/// yet has no registry: the observation is dropped there).
void report(instance_ptr self, observation seen) {
  auto& st = self->state;
  if (auto& p = st.cfg.probe; p && !seen.used.empty()) {
    // A sample, not every execution: one message per execution would cost
    // more than it tells. (`take` decides once per use: it keeps state.)
    auto now = now_ms(self);
    std::vector<service_use> sampled;
    for (auto& u : seen.used)
      if (st.passive.take(u, now))
        sampled.push_back(u);
    if (!sampled.empty())
      self->send(p, observation{seen.invocation, seen.task, seen.host,
                                seen.instance, std::move(sampled)});
  }
  if (auto& r = st.registry)
    self->send(r, std::move(seen));
}

/// The answer to `req` from this instance, before anything ran.
invoke_result answer(const instance_state& st, const execute_request& req) {
  invoke_result r;
  r.invocation = req.invocation;
  r.task = req.task;
  r.host = st.cfg.info.host;
  r.instance = st.cfg.info.name;
  return r;
}

// Runs the task's handler right away (it is modelled code: its cost is the
// time it declares and the channel time it spends) and returns the result,
// the observation and the duration the execution occupies its slot.
std::tuple<invoke_result, observation, double>
run(instance_ptr self, const execute_request& req,
    const task_catalog::entry& task) {
  auto& st = self->state;
  auto r = answer(st, req);
  // During a cold start under way (a pre-warm's or another run's) it waits
  // for the rest of it: that cold start is counted once.
  auto now = now_ms(self);
  auto left = warming_left(st, req.task, task.version, now);
  r.cold_start = touch(st, req.task, task.version) && left < 0;
  auto cold = cold_start_of(st, task);
  if (r.cold_start && cold > 0) {
    st.warming[req.task] = {task.version, now + cold};
    self->delayed_send(self, to_timespan(cold), warmed_atom::value, req.task);
  }
  auto services = st.catalog->services();
  task_context ctx{st.cfg.info.host, st.cfg.info.name, *st.network, *services};
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
  observation seen{req.invocation, req.task, st.cfg.info.host, st.cfg.info.name,
                   ctx.used()};
  r.warmup_ms = r.cold_start ? cold : std::max(left, 0.0);
  auto duration = r.warmup_ms + ctx.compute_ms() + ctx.aux_ms();
  // A long transfer tells its channel's throughput by its first bytes, as
  // TCP's delivery rate does: the host's probe hears of it while the
  // execution still runs, so that nothing else is sent down a slow channel
  // on a guess meanwhile.
  if (auto& p = st.cfg.probe)
    for (auto& t : ctx.transfers())
      if (auto early = channel_estimator::early_sample_bytes(t.bytes);
          early > 0) {
        service_use u;
        u.service = t.service;
        u.transfer_bytes = early;
        u.transfer_ms = t.ms * static_cast<double>(early)
                        / static_cast<double>(t.bytes);
        self->delayed_send(p,
                           to_timespan(r.warmup_ms + t.at_ms + u.transfer_ms),
                           observation{seen.invocation,
                                       seen.task,
                                       seen.host,
                                       seen.instance,
                                       {std::move(u)}});
      }
  return {std::move(r), std::move(seen), duration};
}

/// Prepares a process task's execution on the launcher thread (everything
/// that blocks: name lookups, directories, fork): a gateway per service with
/// a real endpoint (its address in the child's environment), the working
/// directory, the cold start's setup, the run. The outcome comes back to the
/// instance as a message.
struct launch {
  instance_private_actor instance;
  uint64_t seq = 0;
  std::shared_ptr<io_runner> io;
  std::shared_ptr<network_emulator> network;
  std::string host;
  std::map<std::string, std::string> endpoints;
  /// The host's probe, told of a long transfer's throughput while the
  /// execution runs, and what the execution is.
  channel_probe_actor probe;
  observation execution;
  process_spec spec;
  std::vector<std::string> setup;
  bool cold = false;
  /// A deployed task's files, copied in at a cold start, and directories of
  /// its other versions that nothing runs in any more (removed then).
  std::string code_dir;
  std::vector<std::string> stale_dirs;

  void fail(const std::string& why) const {
    process_outcome o;
    o.seq = seq;
    o.error = why;
    caf::anon_send(instance, done_atom::value, std::move(o));
  }

  /// The execution's own directory: only its user may enter it; the
  /// directories above it may be crossed, not listed.
  void make_workdir() {
    namespace fs = std::filesystem;
    for (auto& dir : stale_dirs)
      fs::remove_all(dir);
    if (cold && !code_dir.empty()) {
      // A fresh copy of this version's files: what an earlier run of it
      // left behind (a warm set evicted it since) is gone.
      fs::remove_all(spec.workdir);
      fs::create_directories(spec.workdir);
      fs::copy(code_dir, spec.workdir,
               fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    }
    fs::create_directories(spec.workdir);
    auto& sb = spec.sandbox;
    if (sb.bwrap.empty() || !sb.drop)
      return;
    if (cold && !code_dir.empty())
      for (auto& entry : fs::recursive_directory_iterator(spec.workdir))
        if (::lchown(entry.path().c_str(), sb.uid, sb.gid) != 0)
          throw std::runtime_error("cannot hand " + entry.path().string()
                                   + " to uid " + std::to_string(sb.uid) + ": "
                                   + std::strerror(errno));
    // The instance's directory and the node's work root, both the server's.
    auto instance_dir = fs::path{spec.workdir}.parent_path();
    for (auto& p : {instance_dir, instance_dir.parent_path()})
      fs::permissions(p, fs::perms::owner_all | fs::perms::group_exec
                           | fs::perms::others_exec);
    if (::chown(spec.workdir.c_str(), sb.uid, sb.gid) != 0)
      throw std::runtime_error("cannot hand " + spec.workdir + " to uid "
                               + std::to_string(sb.uid) + ": "
                               + std::strerror(errno));
    fs::permissions(spec.workdir, fs::perms::owner_all);
  }

  void operator()() {
    std::vector<std::shared_ptr<gateway>> gateways;
    auto& ctx = io->context();
    try {
      for (auto& [service, endpoint] : endpoints) {
        auto [to_host, port] = parse_endpoint(endpoint);
        link_source link = [net = network, h = host, service = service] {
          return net->link(h, service).value_or(link_spec{});
        };
        auto gw = gateway::open(ctx, service, to_host, port, link, seq);
        if (probe)
          gw->on_early_sample(channel_estimator::early_sample_max_bytes,
                              [probe = probe,
                               x = execution](const service_use& u) {
                                auto seen = x;
                                seen.used.push_back(u);
                                caf::anon_send(probe, std::move(seen));
                              });
        spec.env[service_env_name(service)] = "127.0.0.1:"
                                              + std::to_string(gw->port());
        gateways.push_back(std::move(gw));
      }
      make_workdir();
    } catch (const std::exception& e) {
      for (auto& gw : gateways)
        gw->close();
      fail(std::string{"cannot prepare the execution: "} + e.what());
      return;
    }
    // Runs on the I/O thread: collects the gateways' counts and reports.
    auto finish = [handle = instance, seq = seq,
                   gateways](process_result r, const std::string& phase) {
      process_outcome o;
      o.seq = seq;
      o.ok = r.ok();
      o.output = std::move(r.output);
      o.errors = std::move(r.errors);
      if (!o.ok)
        o.error = phase + r.describe();
      o.wall_ms = r.wall_ms;
      for (auto& gw : gateways) {
        auto c = gw->counts();
        c.connections = gw->connections();
        c.first_response_ms = gw->first_response_ms();
        if (c.connections > 0 || c.bytes_out > 0)
          o.used.push_back(std::move(c));
        gw->close();
      }
      caf::anon_send(handle, done_atom::value, std::move(o));
    };
    auto runner = io;
    auto main = spec;
    // Forks on the launcher, never on the I/O thread.
    auto run_main = [runner, main, finish] {
      asio::post(runner->launcher(), [runner, main, finish] {
        run_process(runner->context(), main, [finish](process_result r) {
          finish(std::move(r), "process ");
        });
      });
    };
    if (cold && !setup.empty()) {
      auto first = spec;
      first.argv = setup;
      first.input.clear();
      run_process(ctx, first, [run_main, finish](process_result r) {
        if (r.ok())
          run_main();
        else
          finish(std::move(r), "setup (cold start) ");
      });
    } else {
      run_process(ctx, main, [finish](process_result r) {
        finish(std::move(r), "process ");
      });
    }
  }
};

void start_process(instance_ptr self, uint64_t seq, const execute_request& req,
                   const command_spec& cmd, uint64_t version, bool cold) {
  auto& st = self->state;
  launch x;
  x.instance = caf::actor_cast<instance_private_actor>(self);
  x.seq = seq;
  if (!st.cfg.io) {
    x.fail("this instance cannot run processes (no I/O runner)");
    return;
  }
  x.io = st.cfg.io;
  x.network = st.network;
  x.host = st.cfg.info.host;
  x.endpoints = st.cfg.endpoints;
  x.probe = st.cfg.probe;
  x.execution = observation{
    req.invocation, req.task, st.cfg.info.host, st.cfg.info.name, {}};
  x.spec.argv = cmd.argv;
  x.spec.env = cmd.env;
  x.spec.input = req.payload;
  x.spec.timeout
    = std::chrono::milliseconds(static_cast<int64_t>(cmd.timeout_ms));
  x.spec.memory_mb = cmd.memory_mb;
  x.spec.sandbox = st.cfg.sandbox;
  auto dir = task_dir(req.task, version);
  x.spec.workdir = st.cfg.workdir + "/" + dir;
  x.setup = cmd.setup;
  x.cold = cold;
  x.code_dir = cmd.code_dir;
  if (cold && version > 0) {
    auto prefix = task_dir(req.task, 0) + "-v";
    std::error_code ec;
    for (auto& entry :
         std::filesystem::directory_iterator(st.cfg.workdir, ec)) {
      auto name = entry.path().filename().string();
      if (name != dir && name.rfind(prefix, 0) == 0
          && name.find_first_not_of("0123456789", prefix.size())
               == std::string::npos
          && st.running_dirs.count(entry.path().string()) == 0)
        x.stale_dirs.push_back(entry.path().string());
    }
  }
  ++st.running_dirs[x.spec.workdir];
  st.running_executions.at(seq).dir = x.spec.workdir;
  if (!st.launches)
    st.launches.emplace(st.cfg.io->launcher().get_executor());
  asio::post(*st.launches, std::move(x));
}

} // namespace

instance_private_actor::behavior_type
instance(traced_pointer<instance_private_actor, instance_state> self,
         instance_settings cfg, std::shared_ptr<task_catalog> catalog,
         std::shared_ptr<network_emulator> network,
         profile_registry_actor registry) {
  auto& st = self->state;
  st.warm = warm_set{cfg.warm_capacity};
  st.channels = channel_table{channel_quality{cfg.quality}};
  st.passive = passive_sampler{cfg.passive_interval_ms,
                               channel_estimator::min_transfer_bytes};
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
      auto task = st.catalog->find(req.task);
      // Warming up already (a pre-warm, or another run's cold start): not
      // warm yet, and what is left of it is the cost.
      auto left = task ? warming_left(st, req.task, task->version, now_ms(self))
                       : -1.0;
      b.warm = task && !(left > 0) && warm_for(st, req.task, task->version);
      b.channel_ms = channel_cost(self, req.service);
      placement::bid_inputs in;
      in.warm = b.warm;
      in.cold_start_ms = task ? cold_start_of(st, *task) : st.cfg.cold_start_ms;
      if (req.services.empty())
        in.services.push_back({req.likelihood, req.round_trips, b.channel_ms});
      for (auto& s : req.services)
        in.services.push_back(
          {placement::counted_likelihood(s), s.round_trips,
           channel_cost(self, s.service),
           st.channels.transfer_ms(st.cfg.info.host, s.service, s.bytes())});
      in.must_reach = req.threshold;
      // A cold start on a home is an investment in the runs it warms up for;
      // anywhere else it serves this run alone.
      if (left >= 0 && !b.warm)
        in.cold_start_ms = left;
      else if (std::find(req.homes.begin(), req.homes.end(), st.cfg.info.name)
               != req.homes.end())
        in.cold_start_ms /= std::max(req.expected_runs, 1.0);
      in.busy = st.busy;
      in.slots = st.cfg.info.slots;
      in.load_weight_ms = st.cfg.load_weight_ms;
      b.expected_ms = placement::expected_latency_ms(in);
      auto rp = self->make_response_promise<bid>();
      auto delay = st.cfg.bid_delay_ms + st.cfg.control_rtt_ms;
      if (delay <= 0) {
        rp.deliver(std::move(b));
        return rp;
      }
      auto seq = st.next_seq++;
      st.delayed_bids.emplace(seq, std::make_pair(rp, std::move(b)));
      self->delayed_send(self, to_timespan(delay), bid_atom::value, seq);
      return rp;
    },
    [=](done_atom, process_outcome& o) {
      auto& st = self->state;
      auto i = st.running_executions.find(o.seq);
      if (i == st.running_executions.end())
        return;
      auto& x = i->second;
      invocation_scope scope{x.result.invocation};
      --st.busy;
      x.result.status = o.ok ? outcome::ok : outcome::failed;
      x.result.output = std::move(o.output);
      x.result.log = std::move(o.errors);
      x.result.error = std::move(o.error);
      for (auto& u : o.used)
        x.result.aux_ms += u.aux_ms;
      x.seen.used = std::move(o.used);
      if (auto d = st.running_dirs.find(x.dir);
          d != st.running_dirs.end() && --d->second == 0)
        st.running_dirs.erase(d);
      x.promise.deliver(std::move(x.result));
      report(self, std::move(x.seen));
      st.running_executions.erase(i);
    },
    [=](registry_atom, profile_registry_actor& r) {
      self->state.registry = std::move(r);
    },
    [=](prewarm_atom, const std::string& task) {
      // A modelled task's cold start, spent now without a slot; a process
      // task warms up on its first run (its setup needs an execution).
      auto& st = self->state;
      auto entry = st.catalog->find(task);
      if (!entry || entry->command || warm_for(st, task, entry->version))
        return false;
      if (warming_left(st, task, entry->version, now_ms(self)) >= 0)
        return true; // under way already
      ++st.cold_starts;
      auto cold = cold_start_of(st, *entry);
      st.warming[task] = {entry->version, now_ms(self) + cold};
      self->delayed_send(self, to_timespan(cold), warmed_atom::value, task);
      return true;
    },
    [=](warmed_atom, const std::string& task) {
      auto& st = self->state;
      // (Only a cold start that is over: a later one of another version may
      // have taken its place. One left behind is harmless: nothing is left
      // of it to wait for.)
      if (auto i = st.warming.find(task);
          i != st.warming.end() && i->second.second <= now_ms(self))
        st.warming.erase(i);
      if (auto entry = st.catalog->find(task))
        touch(st, task, entry->version);
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
        auto r = answer(st, req);
        r.status = outcome::refused;
        r.error = "no free slot";
        rp.deliver(std::move(r));
        return rp;
      }
      auto task = st.catalog->find(req.task);
      if (!task) {
        auto r = answer(st, req);
        r.status = outcome::unknown_task;
        r.error = "task '" + req.task + "' is not defined on "
                  + st.cfg.info.name;
        rp.deliver(std::move(r));
        return rp;
      }
      ++st.busy;
      ++st.executions;
      // A frontend on another node learns that the run began: if this node
      // is lost from now on, the invocation may have run.
      if (auto sender = self->current_sender();
          sender
          && dynamic_cast<caf::actor_proxy*>(
               caf::actor_cast<caf::abstract_actor*>(sender))
               != nullptr)
        self->send(caf::actor_cast<frontend_actor>(sender), started_atom::value,
                   req.invocation);
      if (task->command) {
        auto seq = st.next_seq++;
        auto r = answer(st, req);
        r.cold_start = touch(st, req.task, task->version);
        if (r.cold_start)
          ++st.cold_starts;
        observation seen{
          req.invocation, req.task, st.cfg.info.host, st.cfg.info.name, {}};
        st.running_executions.emplace(
          seq, instance_state::running{rp, std::move(r), std::move(seen), {}});
        start_process(self, seq, req, *task->command, task->version,
                      st.running_executions.at(seq).result.cold_start);
        return rp;
      }
      auto [result, seen, duration] = run(self, req, *task);
      // The execute request's way here and the result's way back.
      duration += st.cfg.control_rtt_ms;
      if (result.cold_start)
        ++st.cold_starts;
      if (duration <= 0) {
        // Nothing to wait for: answer at once.
        --st.busy;
        rp.deliver(std::move(result));
        report(self, std::move(seen));
        return rp;
      }
      auto seq = st.next_seq++;
      st.running_executions.emplace(
        seq,
        instance_state::running{rp, std::move(result), std::move(seen), {}});
      self->delayed_send(self, to_timespan(duration), done_atom::value, seq);
      return rp;
    },
    [=](channel_sample& x) {
      self->state.channels.update(std::move(x), now_ms(self));
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
      report(self, std::move(i->second.seen));
      st.running_executions.erase(i);
    },
  };
}

} // namespace augur
