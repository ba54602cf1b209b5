#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "augur/messages/interfaces.hpp"
#include "augur/runtime/execution/task.hpp"
#include "augur/runtime/tracing/tracing.hpp"

namespace augur {

/// State of the control node's hub of deployed tasks.
struct deploy_hub_state {
  /// The deployed tasks by name, without their code's bytes (read from
  /// `code_path` when sent).
  std::map<std::string, task_definition> tasks;
  /// The agents of the worker nodes that joined (and are still there).
  std::vector<node_agent_actor> agents;
  static inline const char* name = "deploy_hub";
};

/// The control node's hub: every worker node installs every task deployed
/// at run time before the deployment is answered, and a worker that joins
/// installs them all before its instances join the pool. `timeout_ms`
/// bounds the wait for one agent's answer.
deploy_hub_actor::behavior_type
deploy_hub(traced_pointer<deploy_hub_actor, deploy_hub_state> self,
           double timeout_ms);

/// State of a worker node's agent.
struct node_agent_state {
  std::shared_ptr<task_catalog> catalog;
  /// Where deployed tasks' code is unpacked (empty: no code here).
  std::string code_root;
  code_unpacker unpack;
  static inline const char* name = "node_agent";
};

/// A worker node's agent: installs what the hub hands it into the node's
/// catalog, its code unpacked under `code_root`.
node_agent_actor::behavior_type
node_agent(traced_pointer<node_agent_actor, node_agent_state> self,
           std::shared_ptr<task_catalog> catalog, std::string code_root,
           code_unpacker unpack);

} // namespace augur
