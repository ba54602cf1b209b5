#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "augur/messages/protocol.hpp"

namespace augur {

/// What a gateway adds to the traffic it relays, read anew for every chunk
/// so that a link changed at run time applies at once: `rtt_ms` (half each
/// way), `jitter_ms` (normal, per chunk), `loss` (a lost chunk costs TCP's
/// retransmission timeout, max(3 RTT, 200 ms), before it goes through).
using link_source = std::function<link_spec()>;

/// A local TCP relay from an execution (or a probe) to one auxiliary
/// service's real endpoint. It listens on 127.0.0.1 (port chosen by the
/// system), connects to the service for every connection it accepts, relays
/// both ways, emulates the link, and counts what passes: this is the
/// observation that profiles learn from, with no cooperation from the code
/// that talks through it. Thread-safe to read; lives on the io_context.
class gateway {
public:
  /// Opens the listener. Throws `std::runtime_error` if it cannot.
  static std::shared_ptr<gateway>
  open(boost::asio::io_context& io, std::string service,
       std::string upstream_host, uint16_t upstream_port, link_source link,
       uint64_t seed);

  virtual ~gateway();

  /// The port the execution connects to.
  virtual uint16_t port() const = 0;

  /// What went through so far: connections, round trips (a request followed
  /// by a response), bytes each way, and the time spent waiting for
  /// responses (`aux_ms`).
  virtual service_use counts() const = 0;

  /// Time from the first request byte to the first response byte (ms), or
  /// a negative value before any response.
  virtual double first_response_ms() const = 0;

  /// Connections relayed to the service.
  virtual uint32_t connections() const = 0;

  /// Connections to the service that failed.
  virtual uint32_t upstream_failures() const = 0;

  /// Connections open now: a closed one is forgotten at once.
  virtual size_t open_connections() const = 0;

  /// The most bytes one direction of a connection held at once: a sender
  /// faster than the link is stopped (TCP's backpressure) once it is ahead
  /// by 1 MiB, so this stays near that whatever the traffic.
  virtual size_t peak_queued_bytes() const = 0;

  /// Calls `sink` once, on the gateway's I/O thread, as soon as the bytes
  /// measured at the link's pace (`counts().transfer_bytes`) reach `bytes`,
  /// with the counts then: a throughput sample while the transfer still
  /// runs, as TCP's delivery rate tells a path's bandwidth from its first
  /// acknowledged bytes. Set it before traffic starts.
  virtual void
  on_early_sample(uint64_t bytes, std::function<void(const service_use&)> sink)
    = 0;

  /// Stops accepting and closes every connection.
  virtual void close() = 0;
};

/// `AUGUR_SERVICE_<NAME>`: the name upper-cased, other characters as `_`.
std::string service_env_name(const std::string& service);

} // namespace augur
