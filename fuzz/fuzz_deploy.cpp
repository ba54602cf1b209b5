// A deployment's definition, as `PUT /v1/tasks/{name}` reads it: any bytes
// as JSON, then as a task definition. What it accepts must hold what the
// server relies on: a program to run, limits in range, variable names that
// a process environment can carry, hints that name the cluster's services.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "augur/runtime/api/deployments.hpp"

namespace {

const augur::cluster_config& cluster() {
  static const augur::cluster_config cfg = [] {
    augur::cluster_config c;
    augur::service_config db;
    db.name = "db";
    c.services.push_back(db);
    return c;
  }();
  return cfg;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  // The first line may name the task; the rest is the body.
  auto nl = bytes.find('\n');
  if (nl != std::string::npos) {
    auto name = bytes.substr(0, nl);
    if (augur::deployments::name_error(name).empty()) {
      if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-')
        __builtin_trap();
      for (unsigned char c : name)
        if (!std::isalnum(c) && c != '_' && c != '-' && c != '.')
          __builtin_trap();
    }
    bytes.erase(0, nl + 1);
  }
  auto doc = nlohmann::json::parse(bytes, nullptr, false);
  if (doc.is_discarded())
    return 0;
  augur::command_task_config out;
  if (!augur::deployments::parse_definition(doc, cluster(), out).empty())
    return 0;
  if (out.command.empty() || out.command.front().empty())
    __builtin_trap();
  if (!(out.timeout_ms >= 1 && out.timeout_ms <= 3.6e6))
    __builtin_trap();
  if (out.memory_mb > (1u << 20) || out.env.size() > 256
      || out.command.size() > 256 || out.setup.size() > 256)
    __builtin_trap();
  for (auto& [k, _] : out.env)
    if (k.empty() || k.find('=') != std::string::npos
        || std::isdigit(static_cast<unsigned char>(k[0])))
      __builtin_trap();
  for (auto& h : out.hints)
    if (h != "db")
      __builtin_trap();
  return 0;
}
