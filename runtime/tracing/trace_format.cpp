#include "augur/runtime/tracing/trace_format.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "augur/messages/wire.hpp"
#include "augur/model/latency_stats.hpp"

namespace augur {

namespace {

template <class Packer>
void pack_kv(Packer& pk, const char* key, const std::string& value) {
  pk.pack(key);
  pk.pack(value);
}

template <class Packer, class T>
void pack_kv(Packer& pk, const char* key, T value) {
  pk.pack(key);
  pk.pack(value);
}

/// Reads one record from a msgpack map; false when it is not a record.
bool from_object(const msgpack::object& o, trace_record& x,
                 std::string& problem) {
  if (o.type != msgpack::type::MAP) {
    problem = "not a msgpack map";
    return false;
  }
  std::set<std::string> seen;
  try {
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) {
        problem = "a key is not a string";
        return false;
      }
      auto key = kv.key.as<std::string>();
      seen.insert(key);
      auto& v = kv.val;
      if (key == "version")
        x.version = v.as<uint32_t>();
      else if (key == "time_ns")
        x.time_ns = v.as<int64_t>();
      else if (key == "node")
        x.node = v.as<std::string>();
      else if (key == "event")
        x.event = v.as<std::string>();
      else if (key == "message")
        x.message = v.as<uint64_t>();
      else if (key == "sender")
        x.sender = v.as<std::string>();
      else if (key == "sender_id")
        x.sender_id = v.as<uint64_t>();
      else if (key == "receiver")
        x.receiver = v.as<std::string>();
      else if (key == "receiver_id")
        x.receiver_id = v.as<uint64_t>();
      else if (key == "type")
        x.type = v.as<std::string>();
      else if (key == "request")
        x.request = v.as<uint64_t>();
      else if (key == "response")
        x.response = v.as<bool>();
      else if (key == "invocation")
        x.invocation = v.as<uint64_t>();
      else if (key == "size")
        x.size = v.as<uint64_t>();
      else if (key == "content")
        x.content = v.as<std::string>();
      else if (key == "handler_ns")
        x.handler_ns = v.as<int64_t>();
      // Unknown keys are skipped: later versions may add some.
    }
  } catch (const msgpack::type_error&) {
    problem = "a value has the wrong type";
    return false;
  }
  for (auto key : {"version", "time_ns", "node", "sender", "receiver", "type",
                   "request", "invocation"})
    if (seen.count(key) == 0) {
      problem = std::string{"no key '"} + key + "'";
      return false;
    }
  if (x.version != 1) {
    problem = "unsupported record version " + std::to_string(x.version);
    return false;
  }
  return true;
}

} // namespace

void write_record(std::string& out, const trace_record& x) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  auto n = 14 + (x.content.empty() ? 0 : 1) + (x.handler_ns != 0 ? 1 : 0);
  pk.pack_map(static_cast<uint32_t>(n));
  pack_kv(pk, "version", x.version);
  pack_kv(pk, "time_ns", x.time_ns);
  pack_kv(pk, "node", x.node);
  pack_kv(pk, "event", x.event);
  pack_kv(pk, "message", x.message);
  pack_kv(pk, "sender", x.sender);
  pack_kv(pk, "sender_id", x.sender_id);
  pack_kv(pk, "receiver", x.receiver);
  pack_kv(pk, "receiver_id", x.receiver_id);
  pack_kv(pk, "type", x.type);
  pack_kv(pk, "request", x.request);
  pack_kv(pk, "response", x.response);
  pack_kv(pk, "invocation", x.invocation);
  pack_kv(pk, "size", x.size);
  if (!x.content.empty())
    pack_kv(pk, "content", x.content);
  if (x.handler_ns != 0)
    pack_kv(pk, "handler_ns", x.handler_ns);
  out.append(buf.data(), buf.size());
}

trace_file parse_trace(const std::string& bytes, const std::string& name) {
  trace_file result;
  result.path = name;
  size_t offset = 0;
  while (offset < bytes.size()) {
    auto start = offset;
    msgpack::object_handle oh;
    try {
      // No count beyond what is left of the file.
      oh = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr,
                           wire::limit_for(bytes.size() - offset));
    } catch (const msgpack::insufficient_bytes&) {
      result.damage = "truncated record";
      result.damage_offset = start;
      return result;
    } catch (const std::exception& e) {
      result.damage = std::string{"not msgpack ("} + e.what() + ")";
      result.damage_offset = start;
      return result;
    }
    trace_record x;
    std::string problem;
    if (!from_object(oh.get(), x, problem)) {
      result.damage = "not a trace record: " + problem;
      result.damage_offset = start;
      return result;
    }
    result.records.push_back(std::move(x));
  }
  return result;
}

trace_file read_trace(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error(path + ": cannot open the file");
  std::ostringstream os;
  os << in.rdbuf();
  return parse_trace(os.str(), path);
}

std::vector<trace_record> merge_traces(const std::vector<trace_file>& files) {
  std::vector<trace_record> all;
  for (auto& f : files)
    all.insert(all.end(), f.records.begin(), f.records.end());
  std::stable_sort(all.begin(), all.end(),
                   [](auto& a, auto& b) { return a.time_ns < b.time_ns; });
  return all;
}

void resolve_invocations(std::vector<trace_record>& records) {
  // A send and its consume are one message.
  std::map<std::pair<std::string, uint64_t>, uint64_t> by_message;
  for (auto& x : records)
    if (x.invocation != 0)
      by_message.emplace(std::make_pair(x.node, x.message), x.invocation);
  for (auto& x : records)
    if (x.invocation == 0) {
      auto i = by_message.find({x.node, x.message});
      if (i != by_message.end())
        x.invocation = i->second;
    }
  // Request ids are unique per requesting actor and node.
  std::map<std::tuple<std::string, uint64_t, uint64_t>, uint64_t> by_request;
  auto key = [](const trace_record& x) {
    // The requester is the sender of a request and the receiver of a
    // response.
    auto requester = x.response ? x.receiver_id : x.sender_id;
    return std::make_tuple(x.node, requester, x.request);
  };
  for (auto& x : records)
    if (x.request != 0 && x.invocation != 0)
      by_request.emplace(key(x), x.invocation);
  for (auto& x : records)
    if (x.request != 0 && x.invocation == 0) {
      auto i = by_request.find(key(x));
      if (i != by_request.end())
        x.invocation = i->second;
    }
}

std::string describe(const trace_record& x) {
  char buf[512];
  std::snprintf(
    buf, sizeof(buf), "%14.6f ms  %-8s %-7s %s#%llu -> %s#%llu  %s%s%s",
    x.time_ns / 1e6, x.node.c_str(), x.event.c_str(), x.sender.c_str(),
    static_cast<unsigned long long>(x.sender_id), x.receiver.c_str(),
    static_cast<unsigned long long>(x.receiver_id), x.type.c_str(),
    x.response ? " (response)" : "",
    x.request != 0 ? (" req=" + std::to_string(x.request)).c_str() : "");
  std::string line = buf;
  if (x.invocation != 0)
    line += " inv=" + std::to_string(x.invocation);
  line += " " + std::to_string(x.size) + " B";
  if (!x.content.empty())
    line += "  " + x.content;
  return line;
}

std::string to_chrome_json(const std::vector<trace_record>& records) {
  using nlohmann::json;
  json events = json::array();
  // A process per node, a thread per actor.
  std::map<std::string, int> pids;
  std::set<std::pair<int, uint64_t>> named;
  auto pid_of = [&](const std::string& node) {
    auto [i, fresh] = pids.emplace(node, static_cast<int>(pids.size()) + 1);
    if (fresh)
      events.push_back({{"ph", "M"},
                        {"name", "process_name"},
                        {"pid", i->second},
                        {"args", {{"name", node}}}});
    return i->second;
  };
  auto track = [&](int pid, uint64_t id, const std::string& name) {
    if (named.emplace(pid, id).second)
      events.push_back(
        {{"ph", "M"},
         {"name", "thread_name"},
         {"pid", pid},
         {"tid", id},
         {"args", {{"name", name + " #" + std::to_string(id)}}}});
  };
  for (auto& x : records) {
    auto pid = pid_of(x.node);
    auto ts = x.time_ns / 1000.0; // microseconds
    json args = {{"request", x.request},
                 {"invocation", x.invocation},
                 {"size", x.size},
                 {"message", x.message}};
    if (!x.content.empty())
      args["content"] = x.content;
    if (x.event == "send") {
      track(pid, x.sender_id, x.sender.empty() ? "anonymous" : x.sender);
      events.push_back({{"ph", "s"},
                        {"name", x.type},
                        {"cat", "message"},
                        {"id", x.message},
                        {"pid", pid},
                        {"tid", x.sender_id},
                        {"ts", ts}});
    } else {
      track(pid, x.receiver_id, x.receiver);
      events.push_back({{"ph", "X"},
                        {"name", x.type},
                        {"cat", "message"},
                        {"pid", pid},
                        {"tid", x.receiver_id},
                        {"ts", ts},
                        {"dur", std::max(x.handler_ns / 1000.0, 0.001)},
                        {"args", args}});
      events.push_back({{"ph", "f"},
                        {"bp", "e"},
                        {"name", x.type},
                        {"cat", "message"},
                        {"id", x.message},
                        {"pid", pid},
                        {"tid", x.receiver_id},
                        {"ts", ts}});
    }
  }
  json doc = {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
  // Bytes of a message's content that are not UTF-8 become U+FFFD.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string summarize(const std::vector<trace_record>& records) {
  std::map<std::string, uint64_t> by_type;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_actor; // in, out
  std::map<std::string, latency_stats> hops;
  std::unordered_map<std::string, int64_t> sent; // node/message -> time
  uint64_t bytes = 0;
  for (auto& x : records) {
    auto key = x.node + "/" + std::to_string(x.message);
    if (x.event == "send") {
      sent[key] = x.time_ns;
      ++by_actor[x.sender.empty() ? "anonymous" : x.sender].second;
      continue;
    }
    ++by_type[x.type];
    ++by_actor[x.receiver].first;
    bytes += x.size;
    auto i = sent.find(key);
    if (i != sent.end()) {
      auto hop = (x.sender.empty() ? "anonymous" : x.sender) + " -> "
                 + x.receiver;
      hops[hop].add((x.time_ns - i->second) / 1e3);
      sent.erase(i);
    }
  }
  std::ostringstream out;
  char line[256];
  uint64_t consumed = 0;
  for (auto& [_, n] : by_type)
    consumed += n;
  out << records.size() << " records, " << consumed << " messages consumed, "
      << bytes << " bytes\n\nmessages per type:\n";
  std::vector<std::pair<uint64_t, std::string>> types;
  for (auto& [t, n] : by_type)
    types.emplace_back(n, t);
  std::sort(types.rbegin(), types.rend());
  for (auto& [n, t] : types) {
    std::snprintf(line, sizeof(line), "  %10llu  %s\n",
                  static_cast<unsigned long long>(n), t.c_str());
    out << line;
  }
  out << "\nmessages per actor (consumed / sent):\n";
  for (auto& [a, io] : by_actor) {
    std::snprintf(line, sizeof(line), "  %10llu / %-10llu %s\n",
                  static_cast<unsigned long long>(io.first),
                  static_cast<unsigned long long>(io.second), a.c_str());
    out << line;
  }
  out << "\nper-hop latency, send to consume (us):\n";
  std::snprintf(line, sizeof(line), "  %-40s %10s %10s %10s %10s\n", "hop",
                "count", "mean", "p50", "p99");
  out << line;
  for (auto& [hop, s] : hops) {
    std::snprintf(line, sizeof(line), "  %-40s %10zu %10.1f %10.1f %10.1f\n",
                  hop.c_str(), s.count(), s.mean(), s.percentile(50),
                  s.percentile(99));
    out << line;
  }
  return out.str();
}

} // namespace augur
