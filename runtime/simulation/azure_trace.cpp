#include "augur/runtime/simulation/azure_trace.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace augur {

namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> result;
  std::string cell;
  std::istringstream in{line};
  while (std::getline(in, cell, ','))
    result.push_back(cell);
  if (!line.empty() && line.back() == ',')
    result.emplace_back();
  return result;
}

double to_number(const std::string& x, const std::string& where) {
  try {
    size_t used = 0;
    auto v = std::stod(x, &used);
    if (used != x.size() && !(used + 1 == x.size() && x.back() == '\r'))
      throw std::invalid_argument(x);
    if (!std::isfinite(v))
      throw std::out_of_range(x);
    return v;
  } catch (const std::exception&) {
    throw trace_error(where + ": not a finite number: '" + x + "'");
  }
}

/// The key of a function: owner, app and function, with a separator that
/// no hash contains (concatenated, "ab"+"c" and "a"+"bc" would collide).
std::string key_of(const std::string& owner, const std::string& app,
                   const std::string& function) {
  return owner + '\x1f' + app + '\x1f' + function;
}

/// The most invocations a function may have in one minute (the real trace
/// peaks far below), and the longest duration (a day), in ms.
constexpr double max_per_minute = 1e8;
constexpr double max_duration_ms = 86400e3;

/// Calls `f(cells, where)` for every non-empty data row of `in` (after the
/// header), refusing rows whose column count differs from the header's.
template <class F>
void for_each_row(std::istream& in, const std::string& path, size_t columns,
                  F f) {
  std::string line;
  size_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line == "\r")
      continue;
    auto cells = split(line);
    auto where = path + ":" + std::to_string(lineno);
    if (cells.size() != columns)
      throw trace_error(where + ": expected " + std::to_string(columns)
                        + " columns, got " + std::to_string(cells.size()));
    f(cells, where);
  }
}

std::ifstream open(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw trace_error(path + ": cannot open the file");
  return in;
}

} // namespace

double azure_function::duration_at(double u) const {
  if (duration_percentiles.empty())
    return duration_avg_ms;
  auto p = std::clamp(u, 0.0, 1.0) * 100;
  auto& ps = duration_percentiles;
  if (p <= ps.front().first)
    return ps.front().second;
  for (size_t i = 1; i < ps.size(); ++i) {
    if (p <= ps[i].first) {
      auto [p0, v0] = ps[i - 1];
      auto [p1, v1] = ps[i];
      return p1 == p0 ? v1 : v0 + (v1 - v0) * (p - p0) / (p1 - p0);
    }
  }
  return ps.back().second;
}

uint64_t azure_function::total() const {
  uint64_t n = 0;
  for (auto x : per_minute)
    n += x;
  return n;
}

uint64_t azure_trace::total() const {
  uint64_t n = 0;
  for (auto& f : functions)
    n += f.total();
  return n;
}

azure_trace load_azure_trace(const std::string& invocations_path,
                             const std::string& durations_path) {
  auto invocations = open(invocations_path);
  auto durations = open(durations_path);
  return parse_azure_trace(invocations, invocations_path, durations,
                           durations_path);
}

azure_trace parse_azure_trace(std::istream& invocations,
                              const std::string& invocations_path,
                              std::istream& durations,
                              const std::string& durations_path) {
  azure_trace trace;
  {
    auto& in = invocations;
    std::string line;
    if (!std::getline(in, line))
      throw trace_error(invocations_path + ":1: empty file");
    auto header = split(line);
    if (header.size() < 5 || header[0] != "HashOwner" || header[3] != "Trigger")
      throw trace_error(invocations_path
                        + ":1: expected the header HashOwner,HashApp,"
                          "HashFunction,Trigger,<minute>...");
    auto first = to_number(header[4], invocations_path + ":1");
    // Minutes of a day; a trace of several days counts on (a year at most).
    if (first < 0 || first > 366 * 1440 || first != std::floor(first))
      throw trace_error(invocations_path + ":1: first minute '" + header[4]
                        + "' is not a minute (0 to a year's)");
    trace.first_minute = static_cast<int>(first);
    size_t minutes = header.size() - 4;
    for_each_row(in, invocations_path, header.size(),
                 [&](auto& cells, auto& where) {
                   azure_function f;
                   f.owner = cells[0];
                   f.app = cells[1];
                   f.function = cells[2];
                   f.trigger = cells[3];
                   f.per_minute.reserve(minutes);
                   for (size_t i = 4; i < cells.size(); ++i) {
                     auto v = to_number(cells[i], where);
                     if (v < 0)
                       throw trace_error(where + ": negative count");
                     if (v > max_per_minute)
                       throw trace_error(where + ": count " + std::to_string(v)
                                         + " beyond the most in a minute");
                     f.per_minute.push_back(static_cast<uint32_t>(v));
                   }
                   trace.functions.push_back(std::move(f));
                 });
  }
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < trace.functions.size(); ++i) {
    auto& f = trace.functions[i];
    by_key[key_of(f.owner, f.app, f.function)] = i;
  }
  auto& in = durations;
  std::string line;
  if (!std::getline(in, line))
    throw trace_error(durations_path + ":1: empty file");
  auto header = split(line);
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) {
    auto h = header[i];
    if (!h.empty() && h.back() == '\r')
      h.pop_back();
    column[h] = i;
  }
  static const std::vector<std::pair<double, const char*>> pcts{
    {0, "percentile_Average_0"},    {1, "percentile_Average_1"},
    {25, "percentile_Average_25"},  {50, "percentile_Average_50"},
    {75, "percentile_Average_75"},  {99, "percentile_Average_99"},
    {100, "percentile_Average_100"}};
  for (auto key : {"HashOwner", "HashApp", "HashFunction", "Average"})
    if (column.count(key) == 0)
      throw trace_error(durations_path + ":1: no column " + key);
  for (auto& [_, key] : pcts)
    if (column.count(key) == 0)
      throw trace_error(durations_path + ":1: no column " + key);
  for_each_row(
    in, durations_path, header.size(), [&](auto& cells, auto& where) {
      auto i = by_key.find(key_of(cells[column["HashOwner"]],
                                  cells[column["HashApp"]],
                                  cells[column["HashFunction"]]));
      if (i == by_key.end())
        return;
      auto& f = trace.functions[i->second];
      auto duration = [&](const std::string& key) {
        auto v = to_number(cells[column[key]], where);
        if (v < 0 || v > max_duration_ms)
          throw trace_error(where + ": duration " + cells[column[key]]
                            + " ms out of range (0 to a day)");
        return v;
      };
      f.duration_avg_ms = duration("Average");
      f.duration_percentiles.clear();
      for (auto& [p, key] : pcts)
        f.duration_percentiles.emplace_back(p, duration(key));
    });
  return trace;
}

} // namespace augur
