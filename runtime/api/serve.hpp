#pragma once

#include <iosfwd>

#include "augur/runtime/node/config.hpp"

namespace augur {

/// `augur serve`: runs the cluster of `cfg` in real time with the HTTP API
/// on `[api] listen` until SIGINT or SIGTERM, then drains (accepted
/// invocations finish, new ones get 503) and returns 0. Prints the address
/// it listens on first.
int serve(const cluster_config& cfg, std::ostream& out);

/// `augur node`: runs node `name` of the distributed deployment in `cfg`: a
/// control node serves the HTTP API like `serve`; a worker node runs its
/// hosts and stays joined to the control node until SIGINT or SIGTERM.
int serve_node(const cluster_config& cfg, const std::string& name,
               std::ostream& out);

} // namespace augur
