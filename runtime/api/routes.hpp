#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace augur {

/// What a request's target asks for, decided from the target alone (no
/// state, no actor): the HTTP API's routing table, fuzzed on its own.
enum class route_kind {
  health,       // GET /healthz
  metrics,      // GET /metrics
  list_tasks,   // GET /v1/tasks
  task_invoke,  // POST /v1/tasks/{name}/invoke
  task_profile, // GET /v1/tasks/{name}/profile
  task,         // GET, PUT, DELETE /v1/tasks/{name}
  task_code,    // PUT /v1/tasks/{name}/code
  channels,     // GET /v1/channels
  instances,    // GET /v1/instances
  invocation,   // GET /v1/invocations/{id}
  invocations,  // GET /v1/invocations?task=&limit=
  not_found,
  bad_request, // a query that cannot be read
};

/// The methods a route takes.
enum class http_method { get, post, put, del, other };

struct route {
  route_kind kind = route_kind::not_found;
  /// The task named in the path, percent-decoded (task routes only).
  std::string task;
  /// The invocation record named in the path (`invocation` only).
  uint64_t id = 0;
  /// The query's parameters, percent-decoded.
  std::map<std::string, std::string> query;
  /// Why it is `not_found` or `bad_request`: said to the client.
  std::string error;
  /// Whether the route needs a tenant's token (every /v1 path, unknown ones
  /// included: a stranger learns nothing of what exists).
  bool authenticated = false;
};

/// Parameters a query may carry at most; more is a 400.
constexpr size_t max_query_parameters = 16;

/// Longest task name a path may carry.
constexpr size_t max_task_name = 128;

/// Routes `target` (path and query). Never throws.
route match_route(std::string_view target);

/// The error text when `method` is not what `kind` takes (empty: it is).
std::string method_error(route_kind kind, http_method method);

/// `%XX` and `+` decoded; nullopt when a `%` is not followed by two hex
/// digits or the result holds a NUL.
std::optional<std::string> percent_decode(std::string_view x, bool plus_space);

} // namespace augur
