#include "augur/runtime/api/deployments.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "augur/runtime/state/code_archive.hpp"
#include "augur/runtime/state/state_store.hpp"

namespace augur {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// Code directories are numbered once per process: never reused.
std::atomic<uint64_t> next_code_dir{1};

std::vector<std::string> strings_of(const json& x, const char* key,
                                    std::string& error) {
  std::vector<std::string> out;
  if (!x.is_array()) {
    error = std::string{key} + " must be an array of strings";
    return out;
  }
  if (x.size() > 256) {
    error = std::string{key} + " has more than 256 entries";
    return out;
  }
  for (auto& s : x) {
    if (!s.is_string()) {
      error = std::string{key} + " must be an array of strings";
      return out;
    }
    out.push_back(s.get<std::string>());
  }
  return out;
}

bool env_name_ok(const std::string& k) {
  if (k.empty() || k.size() > 128
      || std::isdigit(static_cast<unsigned char>(k[0])))
    return false;
  return std::all_of(k.begin(), k.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_';
  });
}

} // namespace

std::string deployments::key_of(const std::string& tenant,
                                const std::string& name) {
  return tenant.empty() ? name : tenant + "/" + name;
}

std::string deployments::name_error(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return "a task name has 1 to 64 characters";
  if (name.front() == '.' || name.front() == '-')
    return "a task name starts with a letter, a digit or '_'";
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.')
      return "a task name has only letters, digits, '_', '-' and '.'";
  return "";
}

deployments::deployments(node_runtime& cluster, const cluster_config& cfg,
                         state_store& store)
  : cluster_(cluster), cfg_(cfg), code_root_(cluster.code_root()) {
  for (auto& t : cfg.tasks)
    file_tasks_.push_back(t.name);
  for (auto& row : store.tasks()) {
    deployed x;
    x.tenant = row.tenant;
    x.name = row.name;
    x.version = row.version;
    x.updated_ms = row.updated_ms;
    auto where = "state file " + store.path() + ": task '"
                 + key_of(row.tenant, row.name) + "'";
    x.definition = json::parse(row.definition, nullptr, false);
    if (auto err = parse_definition(x.definition, cfg, x.config); !err.empty())
      throw state_error(where + ": its definition cannot be used: " + err);
    x.config.name = key_of(x.tenant, x.name);
    if (!row.code.empty() && !code_root_.empty()) {
      x.code_dir = code_root_ + "/" + task_directory_name(x.config.name) + "/"
                   + std::to_string(next_code_dir++);
      try {
        archive_limits lim{cfg.state.max_unpacked_bytes, 10000};
        x.code_format = unpack_code(row.code, x.code_dir, lim);
      } catch (const archive_error& e) {
        throw state_error(where + ": its code cannot be unpacked: " + e.what());
      }
      x.code_bytes = row.code.size();
      keep_archive(x, row.code);
    }
    // No worker has joined yet: they get it when they join.
    define(x);
    tasks_.emplace(x.config.name, std::move(x));
  }
}

std::string deployments::parse_definition(const json& body,
                                          const cluster_config& cfg,
                                          command_task_config& out) {
  if (!body.is_object())
    return "the definition must be a JSON object";
  std::string error;
  for (auto& [k, v] : body.items()) {
    if (k == "command") {
      out.command = strings_of(v, "command", error);
      if (error.empty() && out.command.empty())
        error = "command must name a program";
      if (error.empty() && out.command.front().empty())
        error = "command must name a program";
    } else if (k == "hints") {
      out.hints = strings_of(v, "hints", error);
      for (auto& h : out.hints)
        if (error.empty()
            && std::none_of(cfg.services.begin(), cfg.services.end(),
                            [&](auto& s) { return s.name == h; }))
          error = "hints: no service named '" + h + "'";
    } else if (k == "setup") {
      out.setup = strings_of(v, "setup", error);
    } else if (k == "timeout_ms") {
      if (!v.is_number() || !(v.get<double>() >= 1)
          || !(v.get<double>() <= 3.6e6))
        error = "timeout_ms must be a number from 1 to 3600000";
      else
        out.timeout_ms = v.get<double>();
    } else if (k == "memory_mb") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > (1u << 20))
        error = "memory_mb must be a whole number from 0 to 1048576";
      else
        out.memory_mb = v.get<uint64_t>();
    } else if (k == "env") {
      if (!v.is_object() || v.size() > 256) {
        error = "env must be an object of at most 256 strings";
      } else {
        for (auto& [name, value] : v.items()) {
          if (!env_name_ok(name))
            error = "env: '" + name + "' is not a variable name";
          else if (!value.is_string())
            error = "env: " + name + " must be a string";
          else
            out.env[name] = value.get<std::string>();
          if (!error.empty())
            break;
        }
      }
    } else if (k == "idempotent") {
      if (!v.is_boolean())
        error = "idempotent must be true or false";
      else
        out.idempotent = v.get<bool>();
    } else {
      error = "unknown key '" + k
              + "' (known: command, hints, timeout_ms, memory_mb, env, "
                "setup, idempotent)";
    }
    if (!error.empty())
      return error;
  }
  if (out.command.empty())
    return "command is missing (an array: the program and its arguments)";
  return "";
}

std::string deployments::archive_of(const deployed& x) const {
  if (x.code_dir.empty() || cluster_.role() != node_role::control)
    return "";
  return x.code_dir + ".archive";
}

void deployments::keep_archive(const deployed& x, const std::string& bytes) {
  auto path = archive_of(x);
  if (path.empty())
    return;
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out)
    throw archive_error(500, "cannot keep the archive for the worker nodes at "
                               + path);
}

void deployments::define(const deployed& x) {
  task_options opts;
  opts.hints = x.config.hints;
  command_spec cmd;
  cmd.argv = x.config.command;
  cmd.env = x.config.env;
  cmd.timeout_ms = x.config.timeout_ms;
  cmd.memory_mb = x.config.memory_mb;
  cmd.setup = x.config.setup;
  cmd.code_dir = x.code_dir;
  cluster_.define_command_task(x.config.name, opts, cmd, x.version,
                               x.config.idempotent, archive_of(x));
}

std::string deployments::define_everywhere(const deployed& x) {
  try {
    define(x);
    return "";
  } catch (const std::runtime_error& e) {
    return e.what();
  }
}

deployments::answer deployments::partly(unsigned status, nlohmann::json out,
                                        const std::string& failed) {
  if (failed.empty())
    return {status, std::move(out)};
  return {
    502,
    {{"error", "the control node took it, but " + failed + "; send it again"},
     {"task", std::move(out)}}};
}

json deployments::to_json(const deployed& x) const {
  json code = nullptr;
  if (!x.code_dir.empty())
    code = {{"format", x.code_format}, {"bytes", x.code_bytes}};
  return {{"name", x.name},
          {"source", "api"},
          {"version", x.version},
          {"command", x.config.command},
          {"hints", x.config.hints},
          {"timeout_ms", x.config.timeout_ms},
          {"memory_mb", x.config.memory_mb},
          {"env", x.config.env},
          {"setup", x.config.setup},
          {"idempotent", x.config.idempotent},
          {"code", code},
          {"updated_ms", x.updated_ms}};
}

bool deployments::from_file(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return read_only(name);
}

bool deployments::read_only(const std::string& name) const {
  // The file's tasks, and any other the cluster defines without the API
  // (an embedded cluster's).
  return std::find(file_tasks_.begin(), file_tasks_.end(), name)
           != file_tasks_.end()
         || (tasks_.count(name) == 0 && cluster_.has_task(name));
}

deployments::answer
deployments::put_definition(state_store& store, const std::string& tenant,
                            const std::string& name, const std::string& body) {
  if (auto err = name_error(name); !err.empty())
    return {400, {{"error", err}}};
  if (from_file(name))
    return {403,
            {{"error", "task '" + name
                         + "' is defined in the cluster file: read-only "
                           "over the API"}}};
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return {400, {{"error", "malformed JSON body"}}};
  deployed x;
  if (auto err = parse_definition(doc, cfg_, x.config); !err.empty())
    return {400, {{"error", err}}};
  auto key = key_of(tenant, name);
  x.config.name = key;
  x.tenant = tenant;
  x.name = name;
  x.definition = std::move(doc);
  x.updated_ms = wall_clock_ms();
  deployed_task row;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = tasks_.find(key);
    if (i == tasks_.end()) {
      auto own = std::count_if(tasks_.begin(), tasks_.end(), [&](auto& kv) {
        return kv.second.tenant == tenant;
      });
      if (static_cast<uint64_t>(own) >= cfg_.state.max_tasks)
        return {403,
                {{"error", "the tenant has " + std::to_string(own)
                             + " tasks, the most [state] max_tasks allows"}}};
    } else {
      // The code stays as it was.
      x.code_dir = i->second.code_dir;
      x.code_format = i->second.code_format;
      x.code_bytes = i->second.code_bytes;
    }
  }
  row.tenant = tenant;
  row.name = name;
  row.definition = x.definition.dump();
  row.updated_ms = x.updated_ms;
  store.put_task(row, true);
  x.version = row.version;
  auto failed = define_everywhere(x);
  auto out = to_json(x);
  std::lock_guard<std::mutex> guard{mtx_};
  auto created = tasks_.count(key) == 0;
  tasks_[key] = std::move(x);
  return partly(created ? 201u : 200u, std::move(out), failed);
}

deployments::answer
deployments::put_code(state_store& store, const std::string& tenant,
                      const std::string& name, const std::string& archive) {
  auto key = key_of(tenant, name);
  deployed x;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = tasks_.find(key);
    if (i == tasks_.end()) {
      if (read_only(name))
        return {403,
                {{"error", "task '" + name
                             + "' is defined in the cluster file: "
                               "read-only over the API"}}};
      return {404,
              {{"error", "no deployed task named '" + name + "': PUT /v1/tasks/"
                           + name + " with its definition first"}}};
    }
    x = i->second;
  }
  if (code_root_.empty())
    return {500, {{"error", "this node runs no processes"}}};
  auto previous = x.code_dir;
  x.code_dir = code_root_ + "/" + task_directory_name(key) + "/"
               + std::to_string(next_code_dir++);
  try {
    archive_limits lim{cfg_.state.max_unpacked_bytes, 10000};
    x.code_format = unpack_code(archive, x.code_dir, lim);
    keep_archive(x, archive);
  } catch (const archive_error& e) {
    std::error_code ignored;
    fs::remove_all(x.code_dir, ignored);
    return {e.status(), {{"error", e.what()}}};
  }
  x.code_bytes = archive.size();
  x.updated_ms = wall_clock_ms();
  deployed_task row;
  row.tenant = tenant;
  row.name = name;
  row.definition = x.definition.dump();
  row.code = archive;
  row.code_format = x.code_format;
  row.updated_ms = x.updated_ms;
  store.put_task(row);
  x.version = row.version;
  auto failed = define_everywhere(x);
  // Kept: this version's files (and its archive, for workers that join
  // later) and the one before (a cold start of it may be copying them
  // now); older ones go.
  std::error_code ec;
  auto archive_path = archive_of(x);
  for (auto& d :
       fs::directory_iterator(code_root_ + "/" + task_directory_name(key), ec))
    if (d.path() != x.code_dir && d.path() != previous
        && d.path() != archive_path)
      fs::remove_all(d.path(), ec);
  auto out = to_json(x);
  std::lock_guard<std::mutex> guard{mtx_};
  tasks_[key] = std::move(x);
  return partly(200, std::move(out), failed);
}

deployments::answer deployments::describe(const std::string& tenant,
                                          const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = tasks_.find(key_of(tenant, name));
  if (i != tasks_.end())
    return {200, to_json(i->second)};
  for (auto& t : cfg_.tasks)
    if (t.name == name) {
      // The file's environment may hold what the operator keeps to
      // themselves: its names only.
      std::vector<std::string> env;
      for (auto& [k, _] : t.env)
        env.push_back(k);
      return {200,
              {{"name", t.name},
               {"source", "file"},
               {"version", 0},
               {"command", t.command},
               {"hints", t.hints},
               {"timeout_ms", t.timeout_ms},
               {"memory_mb", t.memory_mb},
               {"env_names", env},
               {"setup", t.setup},
               {"idempotent", t.idempotent}}};
    }
  return {404, {{"error", "no task named '" + name + "'"}}};
}

deployments::answer deployments::remove(state_store& store,
                                        const std::string& tenant,
                                        const std::string& name) {
  auto key = key_of(tenant, name);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (tasks_.count(key) == 0) {
      if (read_only(name))
        return {403,
                {{"error", "task '" + name
                             + "' is defined in the cluster file: "
                               "read-only over the API"}}};
      return {404, {{"error", "no task named '" + name + "'"}}};
    }
  }
  store.delete_task(tenant, name, key);
  std::string failed;
  try {
    cluster_.remove_task(key);
  } catch (const std::runtime_error& e) {
    failed = e.what();
  }
  std::lock_guard<std::mutex> guard{mtx_};
  tasks_.erase(key);
  if (!code_root_.empty()) {
    std::error_code ec;
    fs::remove_all(code_root_ + "/" + task_directory_name(key), ec);
  }
  if (!failed.empty())
    return {502,
            {{"error", "deleted on the control node, but " + failed
                         + "; it is gone there when it joins again"}}};
  return {200, {{"deleted", name}}};
}

std::optional<std::string> deployments::resolve(const std::string& tenant,
                                                const std::string& name,
                                                bool file_allowed) const {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto key = key_of(tenant, name);
    if (tasks_.count(key) != 0)
      return key;
  }
  if (file_allowed && name.find('/') == std::string::npos
      && cluster_.has_task(name))
    return name;
  return std::nullopt;
}

double deployments::timeout_ms(const std::string& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = tasks_.find(key);
  return i == tasks_.end() ? 0.0 : i->second.config.timeout_ms;
}

std::vector<std::string> deployments::names(const std::string& tenant) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> out;
  for (auto& [_, x] : tasks_)
    if (x.tenant == tenant)
      out.push_back(x.name);
  return out;
}

} // namespace augur
