#include "augur/runtime/simulation/scenario.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "augur/runtime/node/toml_reader.hpp"

namespace augur {

namespace {

using detail::table_reader;

call_spec read_call(table_reader& r, const std::set<std::string>& services,
                    bool by_trigger = false) {
  call_spec c;
  c.service = r.reference("service", services, "service");
  c.probability = r.number("probability", 1, 0, 1);
  c.round_trips
    = static_cast<uint32_t>(r.integer("round_trips", 1, 0, 1u << 20));
  c.bytes = r.integer("bytes", 0, 0, 1u << 30);
  if (by_trigger) {
    c.declared = r.boolean("declared", c.declared);
  }
  r.no_other_keys();
  return c;
}

std::string resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path.front() == '/' || base == ".")
    return path;
  return base + "/" + path;
}

} // namespace

scenario parse_scenario(std::string_view text, const std::string& source,
                        const std::string& base_dir) {
  auto root = detail::parse_toml(text, source);
  scenario sc;
  sc.source = source;
  // A replay is honest about links the file does not list: they jitter as
  // measured networks do.
  cluster_config defaults;
  defaults.same_zone_jitter_ratio = scenario_jitter_ratios::same_zone;
  defaults.cross_zone_jitter_ratio = scenario_jitter_ratios::cross_zone;
  // Nor are messages free: a bid and an execution cost a round trip between
  // frontend and instance, by default one within a cloud region.
  defaults.control_rtt_ms = scenario_control_rtt_ms;
  sc.cluster = detail::read_cluster(root, source, {"task", "workload", "event"},
                                    defaults);
  std::set<std::string> services;
  for (auto& s : sc.cluster.services)
    services.insert(s.name);
  std::set<std::string> hosts;
  for (auto& h : sc.cluster.hosts)
    hosts.insert(h.name);
  // [[task]]
  std::set<std::string> task_names;
  if (auto arr = detail::array_of_tables(source, root, "task")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "task[" + std::to_string(i) + "]."};
      sim_task t;
      t.name = r.string("name", "", true);
      t.duration_ms = r.number("duration_ms", 0, 0, 3.6e6);
      t.cold_start_ms = r.number("cold_start_ms", -1, -1, 3.6e6);
      t.hints = r.strings("hints");
      for (auto& h : t.hints)
        if (services.count(h) == 0)
          r.fail(r.node("hints"), "hints", "no [[service]] named '" + h + "'");
      if (auto calls = r.node("call")) {
        r.skip("call");
        auto ca = calls->as_array();
        if (!ca || !ca->is_array_of_tables())
          r.fail(calls, "call", "must be an array of tables ([[task.call]])");
        for (size_t j = 0; j < ca->size(); ++j) {
          table_reader cr{source, *ca->get(j)->as_table(),
                          r.prefix() + "call[" + std::to_string(j) + "]."};
          t.calls.push_back(read_call(cr, services));
        }
      }
      r.no_other_keys();
      if (!task_names.insert(t.name).second)
        r.fail(r.node("name"), "name", "duplicate task '" + t.name + "'");
      sc.tasks.push_back(std::move(t));
    }
  }
  // [workload]
  auto wnode = root.get("workload");
  if (!wnode || !wnode->as_table())
    throw config_error(source, 1, "workload", "a [workload] table is required");
  table_reader w{source, *wnode->as_table(), "workload."};
  auto& wl = sc.workload;
  wl.seed = w.integer("seed", 1, 0, std::numeric_limits<int64_t>::max());
  wl.trace = w.string("trace", "");
  if (wl.trace.empty()) {
    wl.requests = w.integer("requests", 1000, 1, 1ull << 32, true);
    wl.rate_per_s = w.number("rate_per_s", 100, 1e-6, 1e9, true);
    if (auto mix = w.table("mix")) {
      table_reader mr{source, *mix, "workload.mix."};
      for (auto& [k, v] : *mix) {
        auto name = std::string{k.str()};
        if (task_names.count(name) == 0)
          mr.fail(&v, name, "no [[task]] named '" + name + "'");
        wl.mix[name] = mr.number(name, 1, 0, 1e9);
      }
    } else {
      for (auto& t : sc.tasks)
        wl.mix[t.name] = 1;
    }
    if (sc.tasks.empty())
      throw config_error(source, 1, "task",
                         "at least one [[task]] is required");
  } else {
    if (wl.trace != "azure2019")
      w.fail(w.node("trace"), "trace",
             "unknown trace format '" + wl.trace + "' (known: azure2019)");
    if (!sc.tasks.empty())
      throw config_error(source, 1, "task",
                         "a trace workload makes its own tasks; remove "
                         "[[task]]");
    wl.invocations = resolve(base_dir, w.string("invocations", "", true));
    wl.durations = resolve(base_dir, w.string("durations", "", true));
    wl.time_scale = w.number("time_scale", 1, 1e-6, 1e9);
    if (auto minutes = w.node("minutes")) {
      w.skip("minutes");
      auto arr = minutes->as_array();
      if (!arr || arr->size() != 2 || !arr->get(0)->is_integer()
          || !arr->get(1)->is_integer())
        w.fail(minutes, "minutes", "must be [from, to] (minutes of the day)");
      wl.minute_from = static_cast<int>(*arr->get(0)->value<int64_t>());
      wl.minute_to = static_cast<int>(*arr->get(1)->value<int64_t>());
      if (wl.minute_to < wl.minute_from)
        w.fail(minutes, "minutes", "from must not be after to");
    }
    if (auto bt = w.table("by_trigger")) {
      for (auto& [k, v] : *bt) {
        auto trigger = std::string{k.str()};
        auto tbl = v.as_table();
        if (!tbl)
          throw config_error(source,
                             static_cast<uint32_t>(v.source().begin.line),
                             "workload.by_trigger." + trigger,
                             "must be a table");
        table_reader tr{source, *tbl, "workload.by_trigger." + trigger + "."};
        wl.by_trigger[trigger] = read_call(tr, services, true);
      }
    }
    try {
      sc.trace = load_azure_trace(wl.invocations, wl.durations);
    } catch (const trace_error& e) {
      w.fail(w.node("invocations"), "invocations", e.what());
    }
    auto first = sc.trace.first_minute;
    auto count = static_cast<int>(
      sc.trace.functions.empty() ? 0 : sc.trace.functions[0].per_minute.size());
    if (wl.minute_from < 0) {
      wl.minute_from = first;
      wl.minute_to = first + count - 1;
    } else if (wl.minute_from < first || wl.minute_to >= first + count) {
      w.fail(w.node("minutes"), "minutes",
             "the trace holds minutes " + std::to_string(first) + " to "
               + std::to_string(first + count - 1));
    }
    for (auto& f : sc.trace.functions) {
      sim_task t;
      t.name = f.function.substr(0, 12);
      t.trigger = f.trigger;
      t.duration_ms = f.duration_avg_ms;
      t.duration_percentiles = f.duration_percentiles;
      auto bt = wl.by_trigger.find(f.trigger);
      if (bt != wl.by_trigger.end() && !bt->second.service.empty()) {
        t.calls.push_back(bt->second);
        if (bt->second.declared)
          t.hints.push_back(bt->second.service);
      }
      sc.tasks.push_back(std::move(t));
    }
  }
  w.no_other_keys();
  // [[event]]
  if (auto arr = detail::array_of_tables(source, root, "event")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      auto& tbl = *arr->get(i)->as_table();
      table_reader r{source, tbl, "event[" + std::to_string(i) + "]."};
      sim_event e;
      e.at_s = r.number("at_s", 0, 0, 1e9, true);
      auto kind = r.string("kind", "", true);
      if (kind == "link") {
        e.kind = sim_event_kind::link;
        e.host = r.reference("host", hosts, "host");
        e.service = r.reference("service", services, "service");
        e.rtt_ms = r.number("rtt_ms", -1, 0, 60000);
        e.jitter_ms = r.number("jitter_ms", -1, 0, 60000);
        e.loss = r.number("loss", -1, 0, 1);
        e.bandwidth_mbps = r.number("bandwidth_mbps", -1, 0, 1e7);
      } else if (kind == "task") {
        e.kind = sim_event_kind::task;
        e.task = r.reference("task", task_names, "task");
        e.service = r.reference("service", services, "service");
        e.probability = r.number("probability", 0, 0, 1, true);
      } else if (kind == "instance_down") {
        e.kind = sim_event_kind::instance_down;
        e.host = r.reference("host", hosts, "host");
        e.count = static_cast<uint32_t>(r.integer("count", 1, 1, 1u << 20));
      } else {
        r.fail(r.node("kind"), "kind",
               "unknown event kind '" + kind
                 + "' (known: link, task, instance_down)");
      }
      r.no_other_keys();
      sc.events.push_back(std::move(e));
    }
  }
  std::stable_sort(sc.events.begin(), sc.events.end(),
                   [](auto& a, auto& b) { return a.at_s < b.at_s; });
  return sc;
}

scenario load_scenario(const std::string& path) {
  auto slash = path.find_last_of('/');
  auto base = slash == std::string::npos ? std::string{"."}
                                         : path.substr(0, slash);
  return parse_scenario(detail::read_file(path), path, base);
}

} // namespace augur
