#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "augur/runtime/node/config.hpp"
#include "augur/runtime/node/node_runtime.hpp"

namespace augur {

class state_store;

/// Tasks deployed at run time over the API, per tenant: definitions and
/// code, kept in the state file and defined in the running cluster.
///
/// A tenant's task `name` is the cluster's task `tenant/name` (just `name`
/// without tenants), so tenants never see or touch each other's; the
/// cluster file's tasks are read-only. Every change is a new version: the
/// next invocation runs it, and every instance treats it as cold.
///
/// The changing calls block on the state file and unpack archives: run them
/// on the state writer's thread (`state_writer::run`). `resolve` and
/// `visible` are safe from any thread.
class deployments {
public:
  /// An answer for the API: an HTTP status and a JSON body.
  struct answer {
    unsigned status = 200;
    nlohmann::json body;
  };

  /// Defines every task the state file holds in `cluster` (unpacking its
  /// code). Blocks: call it before serving. Throws `state_error` when the
  /// file holds what cannot be used.
  deployments(node_runtime& cluster, const cluster_config& cfg,
              state_store& store);

  /// `PUT /v1/tasks/{name}`: a JSON definition.
  answer put_definition(state_store& store, const std::string& tenant,
                        const std::string& name, const std::string& body);

  /// `PUT /v1/tasks/{name}/code`: an archive of the task's files.
  answer put_code(state_store& store, const std::string& tenant,
                  const std::string& name, const std::string& archive);

  /// `GET /v1/tasks/{name}` of a deployed task.
  answer describe(const std::string& tenant, const std::string& name) const;

  /// `DELETE /v1/tasks/{name}`.
  answer remove(state_store& store, const std::string& tenant,
                const std::string& name);

  /// The cluster's name of `tenant`'s task `name`: a deployed one, or one of
  /// the cluster file's (`file_allowed`: the tenant may use it); nullopt
  /// when the tenant has none of that name.
  std::optional<std::string> resolve(const std::string& tenant,
                                     const std::string& name,
                                     bool file_allowed) const;

  /// A deployed task's time limit by its key (0: none deployed so).
  double timeout_ms(const std::string& key) const;

  /// The tenant's own deployed tasks, by name.
  std::vector<std::string> names(const std::string& tenant) const;

  /// Whether `name` is the cluster file's (read-only over the API).
  bool from_file(const std::string& name) const;

  /// The key of a tenant's task in the cluster.
  static std::string key_of(const std::string& tenant, const std::string& name);

  /// Why `name` cannot name a deployed task (empty: it can).
  static std::string name_error(const std::string& name);

  /// Reads the definition in `body` (the JSON of `PUT /v1/tasks/{name}`,
  /// hints naming services of `cfg`) into `out`; returns why it cannot be
  /// used (empty: it can).
  static std::string parse_definition(const nlohmann::json& body,
                                      const cluster_config& cfg,
                                      command_task_config& out);

private:
  struct deployed {
    std::string tenant;
    std::string name;
    uint64_t version = 0;
    nlohmann::json definition;
    command_task_config config;
    /// Where its code is unpacked (empty: none), and its format and size.
    std::string code_dir;
    std::string code_format;
    uint64_t code_bytes = 0;
    int64_t updated_ms = 0;
  };

  /// `from_file` with the lock held.
  bool read_only(const std::string& name) const;

  /// Defines `x` in the cluster (on every worker node too: throws
  /// `std::runtime_error` when one could not install it).
  void define(const deployed& x);

  /// `define`, answering why a worker node could not (empty: all did).
  std::string define_everywhere(const deployed& x);

  /// The answer `status` with `out`, or 502 when `failed` says why a worker
  /// node did not take it.
  static answer partly(unsigned status, nlohmann::json out,
                       const std::string& failed);

  /// On a distributed control node, where `x`'s archive is kept for the
  /// worker nodes (beside its files); empty elsewhere.
  std::string archive_of(const deployed& x) const;

  /// Writes `x`'s archive where `archive_of` says (throws `archive_error`).
  void keep_archive(const deployed& x, const std::string& bytes);

  nlohmann::json to_json(const deployed& x) const;

  node_runtime& cluster_;
  cluster_config cfg_;
  std::string code_root_;
  std::vector<std::string> file_tasks_;
  mutable std::mutex mtx_;
  /// By key.
  std::map<std::string, deployed> tasks_;
};

} // namespace augur
