#pragma once

// Reading TOML with errors that name the file, the line and the key. Used by
// the cluster and scenario parsers; not part of the public API.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "augur/runtime/node/config.hpp"

namespace augur::detail {

/// Reads one TOML table, naming the file, line and key of every problem,
/// and refusing keys it was not asked for (typos must not pass silently).
class table_reader {
public:
  table_reader(const std::string& file, const toml::table& tbl,
               std::string prefix)
    : file_(file), tbl_(tbl), prefix_(std::move(prefix)) {
    // nop
  }

  [[noreturn]] void fail(const toml::node* at, const std::string& key,
                         const std::string& problem) const {
    auto line = at ? static_cast<uint32_t>(at->source().begin.line)
                   : static_cast<uint32_t>(tbl_.source().begin.line);
    throw config_error(file_, line, prefix_ + key, problem);
  }

  double number(const std::string& key, double fallback, double lo, double hi,
                bool required = false) {
    seen_.insert(key);
    auto node = tbl_.get(key);
    if (!node) {
      if (required)
        fail(nullptr, key, "missing");
      return fallback;
    }
    auto v = node->value<double>();
    if (!v || !(node->is_number()))
      fail(node, key, "must be a number");
    // nan passes every comparison: refuse it (and infinities) first.
    if (!std::isfinite(*v))
      fail(node, key, "must be a finite number");
    if (*v < lo || *v > hi) {
      std::ostringstream os;
      os << "must be within [" << lo << ", " << hi << "], got " << *v;
      fail(node, key, os.str());
    }
    return *v;
  }

  uint64_t integer(const std::string& key, uint64_t fallback, uint64_t lo,
                   uint64_t hi, bool required = false) {
    seen_.insert(key);
    auto node = tbl_.get(key);
    if (!node) {
      if (required)
        fail(nullptr, key, "missing");
      return fallback;
    }
    if (!node->is_integer())
      fail(node, key, "must be an integer");
    auto v = *node->value<int64_t>();
    if (v < 0 || static_cast<uint64_t>(v) < lo || static_cast<uint64_t>(v) > hi)
      fail(node, key,
           "must be within [" + std::to_string(lo) + ", " + std::to_string(hi)
             + "], got " + std::to_string(v));
    return static_cast<uint64_t>(v);
  }

  std::string string(const std::string& key, const std::string& fallback,
                     bool required = false) {
    seen_.insert(key);
    auto node = tbl_.get(key);
    if (!node) {
      if (required)
        fail(nullptr, key, "missing");
      return fallback;
    }
    if (!node->is_string())
      fail(node, key, "must be a string");
    auto v = *node->value<std::string>();
    if (required && v.empty())
      fail(node, key, "must not be empty");
    return v;
  }

  /// A secret given in one of three ways: `KEY` (in the file), `KEY_file`
  /// (a file holding it, relative to the cluster file; its path joins
  /// `private_paths`, which executions never see) or `KEY_env` (an
  /// environment variable holding it). Trailing newlines are dropped. Empty
  /// when none is given and not `required`.
  std::string secret(const std::string& key, bool required,
                     std::vector<std::string>& private_paths) {
    auto in_file = string(key, "");
    auto file = string(key + "_file", "");
    auto env = string(key + "_env", "");
    auto given = !in_file.empty() + !file.empty() + !env.empty();
    if (given > 1)
      fail(node(key + "_file") ? node(key + "_file") : node(key + "_env"), key,
           "give one of " + key + ", " + key + "_file and " + key + "_env");
    std::string value = in_file;
    if (!file.empty()) {
      auto path = resolve(file);
      std::ifstream in{path};
      if (!in)
        fail(node(key + "_file"), key + "_file", "cannot read '" + path + "'");
      std::ostringstream os;
      os << in.rdbuf();
      value = os.str();
      private_paths.push_back(path);
    } else if (!env.empty()) {
      auto v = std::getenv(env.c_str());
      if (v == nullptr)
        fail(node(key + "_env"), key + "_env",
             "the environment has no variable '" + env + "'");
      value = v;
    }
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r'))
      value.pop_back();
    if ((required || given > 0) && value.empty())
      fail(node(key), key,
           given == 0 ? "missing (or " + key + "_file, " + key + "_env)"
                      : "must not be empty");
    return value;
  }

  /// A path, made absolute (relative to the file it was read from when it
  /// is relative); "" when absent.
  std::string path(const std::string& key) {
    auto p = string(key, "");
    return p.empty() ? p : resolve(p);
  }

  /// `p` absolute and normal, relative to the file's directory.
  std::string resolve(const std::string& p) const {
    auto x = std::filesystem::path{p};
    if (x.is_relative())
      x = std::filesystem::path{file_}.parent_path() / x;
    return std::filesystem::absolute(x).lexically_normal().string();
  }

  bool boolean(const std::string& key, bool fallback) {
    seen_.insert(key);
    auto node = tbl_.get(key);
    if (!node)
      return fallback;
    if (!node->is_boolean())
      fail(node, key, "must be true or false");
    return *node->value<bool>();
  }

  /// A required string that must name something the file defines
  /// (`section` is the TOML section that defines them, e.g. `host`).
  std::string reference(const std::string& key,
                        const std::set<std::string>& known,
                        const std::string& section) {
    auto name = string(key, "", true);
    if (known.count(name) == 0)
      fail(node(key), key, "no [[" + section + "]] named '" + name + "'");
    return name;
  }

  const toml::node* node(const std::string& key) const {
    return tbl_.get(key);
  }

  /// A list of strings (empty when absent).
  std::vector<std::string> strings(const std::string& key) {
    seen_.insert(key);
    std::vector<std::string> result;
    auto node = tbl_.get(key);
    if (!node)
      return result;
    auto arr = node->as_array();
    if (!arr)
      fail(node, key, "must be an array of strings");
    for (auto& x : *arr) {
      if (!x.is_string())
        fail(&x, key, "must be an array of strings");
      result.push_back(*x.value<std::string>());
    }
    return result;
  }

  /// A sub-table (nullptr when absent); marks the key as read.
  const toml::table* table(const std::string& key) {
    seen_.insert(key);
    auto node = tbl_.get(key);
    if (!node)
      return nullptr;
    auto tbl = node->as_table();
    if (!tbl)
      fail(node, key, "must be a table");
    return tbl;
  }

  /// Marks a key as read by someone else.
  void skip(const std::string& key) {
    seen_.insert(key);
  }

  const std::string& file() const noexcept {
    return file_;
  }

  const std::string& prefix() const noexcept {
    return prefix_;
  }

  /// Refuses every key not read so far.
  void no_other_keys() const {
    for (auto& [k, v] : tbl_) {
      auto key = std::string{k.str()};
      if (seen_.count(key) == 0)
        fail(&v, key, "unknown key");
    }
  }

private:
  const std::string& file_;
  const toml::table& tbl_;
  std::string prefix_;
  std::set<std::string> seen_;
};

/// The table `key` of `root`, or nullptr when absent; anything but a table
/// is an error naming the key.
inline const toml::table* table_of(const std::string& file,
                                   const toml::table& root,
                                   const std::string& key) {
  auto node = root.get(key);
  if (!node)
    return nullptr;
  auto tbl = node->as_table();
  if (!tbl)
    throw config_error(file, static_cast<uint32_t>(node->source().begin.line),
                       key, "must be a table");
  return tbl;
}

inline const toml::array* array_of_tables(const std::string& file,
                                          const toml::table& root,
                                          const std::string& key) {
  auto node = root.get(key);
  if (!node)
    return nullptr;
  auto arr = node->as_array();
  if (!arr || !arr->is_array_of_tables())
    throw config_error(file, static_cast<uint32_t>(node->source().begin.line),
                       key, "must be an array of tables ([[" + key + "]])");
  return arr;
}

/// Parses TOML text; malformed text is a `config_error` with its line.
toml::table parse_toml(std::string_view text, const std::string& source);

/// Reads the cluster sections of a document; top-level sections other than
/// the cluster's and `extra_sections` are refused.
cluster_config read_cluster(const toml::table& root, const std::string& source,
                            const std::set<std::string>& extra_sections,
                            cluster_config defaults = {});

/// Reads a whole file (a `config_error` if it cannot be opened).
std::string read_file(const std::string& path);

} // namespace augur::detail
