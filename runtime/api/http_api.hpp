#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "augur/runtime/node/config.hpp"
#include "augur/runtime/node/node_runtime.hpp"

namespace augur {

/// The HTTP API of `augur serve` (Boost.Beast, JSON; the routes are in
/// `routes.hpp`):
///
/// - `POST /v1/tasks/{name}/invoke`: body = payload, answer = the result
///   (output that is not UTF-8 comes whole in base64 as `output_base64`,
///   `output` then null);
/// - `GET /v1/tasks`: the tasks;
/// - `GET /v1/tasks/{name}/profile`: what augur learned about a task;
/// - `GET /v1/channels`: per host and service, SRTT, RTTVAR, loss, age,
///   state;
/// - `GET /v1/instances`: slots, load, warm tasks;
/// - `GET /healthz`: liveness (no token needed);
/// - `GET /metrics`: Prometheus text format (no token needed).
///
/// With `[[tenant]]`s configured, every /v1 request needs
/// `Authorization: Bearer <token>` (401 without a valid one) and may only
/// invoke its tenant's tasks (403). Errors are JSON `{"error": ...}` with
/// the right status: 400 malformed JSON (a body sent as
/// `application/json`), 404 unknown task or path, 405 wrong method, 413 body
/// over `[api] max_body_bytes`, 429 queue full (with `Retry-After`), 500 a
/// task that failed (with its error and stderr), 503 while draining.
/// The server never crashes on input.
class http_api {
public:
  /// Binds `cfg.api.listen` (port 0: the system picks one). Throws
  /// `std::runtime_error` if it cannot.
  http_api(boost::asio::io_context& io, node_runtime& cluster,
           const cluster_config& cfg);

  ~http_api();

  http_api(const http_api&) = delete;
  http_api& operator=(const http_api&) = delete;

  /// The port it listens on.
  uint16_t port() const;

  /// Starts accepting connections.
  void start();

  /// Stops accepting invocations (they get 503), lets the accepted ones
  /// finish, then calls `drained` (on the I/O thread).
  void drain(std::function<void()> drained);

  /// Invocations accepted and not answered yet.
  uint64_t in_flight() const;

  struct state;

private:
  std::shared_ptr<state> state_;
};

} // namespace augur
