#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "augur/runtime/execution/gateway.hpp"

namespace augur {

/// How a service is probed for real.
enum class probe_kind : uint8_t {
  /// A TCP connect with a deadline (any service).
  tcp,
  /// A Redis PING through the probing host's gateway.
  redis,
};

/// The kind's name in cluster files (`tcp`, `redis`).
const char* to_string(probe_kind x);

/// Called once with whether the measurement succeeded and the round trip.
using measurement_handler = std::function<void(bool ok, double rtt_ms)>;

/// An application-level ping of a Redis server: connects to `port` on
/// loopback (the probe's gateway to the service, which applies the link),
/// sends PING and times the round trip to +PONG. Fails after `timeout_ms`.
void measure_redis_ping(boost::asio::io_context& io, uint16_t port,
                        double timeout_ms, measurement_handler done);

/// A TCP connect to `host:port` with a deadline; the measured round trip is
/// the connect time plus what the emulated link adds (`link`).
void measure_tcp_connect(boost::asio::io_context& io, const std::string& host,
                         uint16_t port, link_source link, double timeout_ms,
                         measurement_handler done);

} // namespace augur
