#include "augur/runtime/api/routes.hpp"

namespace augur {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

route not_found(std::string_view path, bool authenticated) {
  route r;
  r.error = "no such path: " + std::string{path};
  r.authenticated = authenticated;
  return r;
}

/// Splits the query into parameters; false (and `r.error`) when it cannot.
bool parse_query(std::string_view q, route& r) {
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty())
      continue;
    if (r.query.size() == max_query_parameters) {
      r.error = "more than " + std::to_string(max_query_parameters)
                + " query parameters";
      return false;
    }
    auto eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(
      eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1),
      true);
    if (!key || !value || key->empty()) {
      r.error = "malformed query parameter '" + std::string{part} + "'";
      return false;
    }
    r.query[*key] = std::move(*value);
  }
  return true;
}

} // namespace

std::optional<std::string> percent_decode(std::string_view x, bool plus_space) {
  std::string result;
  result.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    char c = x[i];
    if (c == '%') {
      if (i + 2 >= x.size())
        return std::nullopt;
      int hi = hex_digit(x[i + 1]);
      int lo = hex_digit(x[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_space) {
      c = ' ';
    }
    if (c == '\0')
      return std::nullopt;
    result += c;
  }
  return result;
}

route match_route(std::string_view target) {
  auto qpos = target.find('?');
  auto path = target.substr(0, qpos);
  route r;
  if (path == "/healthz") {
    r.kind = route_kind::health;
  } else if (path == "/metrics") {
    r.kind = route_kind::metrics;
  } else if (path.rfind("/v1/", 0) != 0) {
    return not_found(path, false);
  } else {
    r.authenticated = true;
    if (path == "/v1/tasks") {
      r.kind = route_kind::list_tasks;
    } else if (path == "/v1/channels") {
      r.kind = route_kind::channels;
    } else if (path == "/v1/instances") {
      r.kind = route_kind::instances;
    } else if (path == "/v1/invocations") {
      r.kind = route_kind::invocations;
    } else if (path.rfind("/v1/invocations/", 0) == 0) {
      auto digits = path.substr(16);
      if (digits.empty() || digits.size() > 19
          || digits.find_first_not_of("0123456789") != std::string_view::npos)
        return not_found(path, true);
      r.kind = route_kind::invocation;
      r.id = std::stoull(std::string{digits});
    } else if (path.rfind("/v1/tasks/", 0) == 0) {
      auto rest = path.substr(10);
      auto slash = rest.find('/');
      auto action = slash == std::string_view::npos ? std::string_view{}
                                                    : rest.substr(slash + 1);
      if (slash == std::string_view::npos)
        r.kind = route_kind::task;
      else if (action == "invoke")
        r.kind = route_kind::task_invoke;
      else if (action == "profile")
        r.kind = route_kind::task_profile;
      else if (action == "code")
        r.kind = route_kind::task_code;
      else
        return not_found(path, true);
      auto name = percent_decode(rest.substr(0, slash), false);
      if (!name || name->empty() || name->size() > max_task_name
          || name->find('/') != std::string::npos)
        return not_found(path, true);
      r.task = std::move(*name);
    } else {
      return not_found(path, true);
    }
  }
  if (qpos != std::string_view::npos
      && !parse_query(target.substr(qpos + 1), r)) {
    r.kind = route_kind::bad_request;
    r.task.clear();
    r.query.clear();
  }
  return r;
}

std::string method_error(route_kind kind, http_method method) {
  switch (kind) {
    case route_kind::task_invoke:
      return method == http_method::post ? "" : "use POST to invoke";
    case route_kind::task:
      return method == http_method::get || method == http_method::put
                 || method == http_method::del
               ? ""
               : "use GET, PUT or DELETE";
    case route_kind::task_code:
      return method == http_method::put ? "" : "use PUT to upload code";
    case route_kind::not_found:
    case route_kind::bad_request:
      return "";
    default:
      return method == http_method::get ? "" : "use GET";
  }
}

} // namespace augur
