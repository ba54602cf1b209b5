// HTTP request handling up to the point where it needs the cluster: the
// bytes a client sends go through Beast's parser with the server's limits,
// what parses is routed (path, method, task name, query), and a body sent
// as JSON is checked as the server checks it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "augur/runtime/api/routes.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  parser.header_limit(8192);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    auto n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0)
      break;
    used += n;
  }
  if (ec || !parser.is_done())
    return 0;
  auto& req = parser.get();
  auto target = req.target();
  auto r = augur::match_route(std::string_view{target.data(), target.size()});
  for (auto m : {augur::http_method::get, augur::http_method::post,
                 augur::http_method::put, augur::http_method::del,
                 augur::http_method::other})
    augur::method_error(r.kind, m);
  auto type = std::string{req[http::field::content_type]};
  if (type.rfind("application/json", 0) == 0)
    nlohmann::json::accept(req.body());
  // A route names a task only when it is one, and a record only when it
  // is one.
  using augur::route_kind;
  if (!r.task.empty() && r.kind != route_kind::task_invoke
      && r.kind != route_kind::task_profile && r.kind != route_kind::task
      && r.kind != route_kind::task_code)
    __builtin_trap();
  if (r.id != 0 && r.kind != route_kind::invocation)
    __builtin_trap();
  return 0;
}
