#include "augur/runtime/serve.hpp"

#include <csignal>
#include <future>
#include <ostream>

#include <boost/asio/signal_set.hpp>

#include "augur/runtime/embedded_cluster.hpp"
#include "augur/runtime/http_api.hpp"
#include "augur/runtime/io_runner.hpp"

namespace augur {

int serve(const cluster_config& cfg, std::ostream& out) {
  embedded_cluster cluster{cfg, embedded_cluster::clock_mode::real_time};
  io_runner io;
  http_api api{io.context(), cluster, cfg};
  std::promise<int> stopped;
  auto done = stopped.get_future();
  boost::asio::signal_set signals{io.context(), SIGINT, SIGTERM};
  signals.async_wait([&](auto ec, int signal) {
    if (ec)
      return;
    out << "augur: signal " << signal << ", draining ("
        << api.in_flight() << " in flight)" << std::endl;
    api.drain([&] { stopped.set_value(0); });
  });
  api.start();
  out << "augur: serving on http://"
      << cfg.api.listen.substr(0, cfg.api.listen.rfind(':')) << ":"
      << api.port() << " (" << cluster.tasks().size() << " tasks, "
      << cfg.instance_count() << " instances)" << std::endl;
  auto status = done.get();
  out << "augur: drained, exiting" << std::endl;
  return status;
}

} // namespace augur
