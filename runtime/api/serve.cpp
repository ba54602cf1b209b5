#include "augur/runtime/api/serve.hpp"

#include <csignal>
#include <future>
#include <ostream>
#include <string>

#include <boost/asio/signal_set.hpp>

#include "augur/runtime/api/http_api.hpp"
#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/node/node_runtime.hpp"
#include "augur/runtime/state/code_archive.hpp"

namespace augur {

int serve(const cluster_config& cfg, std::ostream& out) {
  return serve_node(cfg, "", out);
}

int serve_node(const cluster_config& cfg, const std::string& name,
               std::ostream& out) {
  // The API's I/O context outlives the cluster, its thread does not: when
  // the actors shut down, answers the API still waits for may release
  // sessions, whose sockets need their context; the thread stops first
  // (`io.stop()` below), as the cluster's shutdown needs.
  io_runner io;
  // A worker node unpacks the code of deployed tasks as the API does.
  auto unpack = [limit = cfg.state.max_unpacked_bytes](const std::string& bytes,
                                                       const std::string& dir) {
    return unpack_code(bytes, dir, archive_limits{limit, 10000});
  };
  node_runtime cluster{
    cfg, node_runtime::clock_mode::real_time, {}, name, unpack};
  if (cluster.role() == node_role::worker) {
    std::promise<int> stopped;
    auto done = stopped.get_future();
    boost::asio::signal_set signals{io.context(), SIGINT, SIGTERM};
    signals.async_wait([&](auto ec, int) {
      if (!ec)
        stopped.set_value(0);
    });
    std::string hosts;
    for (auto& h : cfg.hosts)
      if (h.node == name)
        hosts += (hosts.empty() ? "" : ", ") + h.name;
    out << "augur: node " << name << " (worker) runs " << hosts
        << "; joining the control node" << std::endl;
    auto status = done.get();
    out << "augur: node " << name << " stopping" << std::endl;
    io.stop();
    return status;
  }
  http_api api{io.context(), cluster, cfg};
  std::promise<int> stopped;
  auto done = stopped.get_future();
  boost::asio::signal_set signals{io.context(), SIGINT, SIGTERM};
  signals.async_wait([&](auto ec, int signal) {
    if (ec)
      return;
    out << "augur: signal " << signal << ", draining (" << api.in_flight()
        << " in flight)" << std::endl;
    api.drain([&] { stopped.set_value(0); });
  });
  api.start();
  if (cluster.role() == node_role::control)
    out << "augur: node " << name << " (control) accepts workers on port "
        << cluster.cluster_port() << std::endl;
  out << "augur: serving on http://"
      << to_string(
           endpoint{parse_endpoint(cfg.api.listen, true).host, api.port()})
      << " (" << cluster.tasks().size() << " tasks, " << cfg.instance_count()
      << " instances)" << std::endl;
  auto status = done.get();
  out << "augur: drained, exiting" << std::endl;
  io.stop();
  return status;
}

} // namespace augur
