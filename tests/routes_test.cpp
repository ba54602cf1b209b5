// The HTTP API's routing table, without a server.

#include <doctest/doctest.h>

#include "augur/runtime/api/routes.hpp"

using namespace augur;

TEST_CASE("routes: every path, its method, its task") {
  CHECK(match_route("/healthz").kind == route_kind::health);
  CHECK_FALSE(match_route("/healthz").authenticated);
  CHECK(match_route("/metrics").kind == route_kind::metrics);
  CHECK(match_route("/v1/tasks").kind == route_kind::list_tasks);
  CHECK(match_route("/v1/tasks").authenticated);
  auto inv = match_route("/v1/tasks/orders/invoke");
  CHECK(inv.kind == route_kind::task_invoke);
  CHECK(inv.task == "orders");
  CHECK(match_route("/v1/tasks/a%20b/profile").task == "a b");
  CHECK(match_route("/v1/channels").kind == route_kind::channels);
  CHECK(match_route("/v1/instances").kind == route_kind::instances);
  CHECK(method_error(route_kind::task_invoke, http_method::get)
        == "use POST to invoke");
  CHECK(method_error(route_kind::task_invoke, http_method::post).empty());
  CHECK(method_error(route_kind::health, http_method::post) == "use GET");
}

TEST_CASE("routes: unknown and damaged targets are clear errors") {
  auto r = match_route("/nope");
  CHECK(r.kind == route_kind::not_found);
  CHECK(r.error == "no such path: /nope");
  CHECK_FALSE(r.authenticated);
  // Under /v1, a stranger learns nothing before giving a token.
  CHECK(match_route("/v1/secret").authenticated);
  for (auto t : {"/v1/tasks/", "/v1/tasks//invoke", "/v1/tasks/x/other",
                 "/v1/invocations/", "/v1/invocations/12a",
                 "/v1/invocations/-1", "/v1/invocations/99999999999999999999",
                 "/v1/tasks/%2/invoke", "/v1/tasks/%zz/invoke",
                 "/v1/tasks/a%00b/invoke", "/v1/tasks/a%2Fb/invoke", ""}) {
    CAPTURE(t);
    CHECK(match_route(t).kind == route_kind::not_found);
  }
  CHECK(
    match_route("/v1/tasks/" + std::string(max_task_name + 1, 'x') + "/invoke")
      .kind
    == route_kind::not_found);
}

TEST_CASE("routes: deployments and invocation records") {
  auto t = match_route("/v1/tasks/hello%2Dworld");
  CHECK(t.kind == route_kind::task);
  CHECK(t.task == "hello-world");
  CHECK(method_error(route_kind::task, http_method::put).empty());
  CHECK(method_error(route_kind::task, http_method::del).empty());
  CHECK(method_error(route_kind::task, http_method::post)
        == "use GET, PUT or DELETE");
  auto code = match_route("/v1/tasks/hello/code");
  CHECK(code.kind == route_kind::task_code);
  CHECK(code.task == "hello");
  CHECK(method_error(route_kind::task_code, http_method::get)
        == "use PUT to upload code");
  auto one = match_route("/v1/invocations/42");
  CHECK(one.kind == route_kind::invocation);
  CHECK(one.id == 42);
  CHECK(one.authenticated);
  auto list = match_route("/v1/invocations?task=hello&limit=5");
  CHECK(list.kind == route_kind::invocations);
  CHECK(list.query.at("task") == "hello");
  CHECK(list.query.at("limit") == "5");
}

TEST_CASE("routes: queries are decoded and bounded") {
  auto r = match_route("/v1/tasks/t/invoke?wait=false&x=a+b%21&&flag");
  CHECK(r.kind == route_kind::task_invoke);
  CHECK(r.query.at("wait") == "false");
  CHECK(r.query.at("x") == "a b!");
  CHECK(r.query.at("flag").empty());
  auto bad = match_route("/v1/tasks/t/invoke?x=%4");
  CHECK(bad.kind == route_kind::bad_request);
  CHECK(bad.task.empty()); // (fuzz/fuzz_http: a refused route names no task)
  CHECK(bad.error == "malformed query parameter 'x=%4'");
  CHECK(match_route("/v1/tasks?=v").kind == route_kind::bad_request);
  std::string many = "/v1/tasks?";
  for (size_t i = 0; i <= max_query_parameters; ++i)
    many += "k" + std::to_string(i) + "=v&";
  CHECK(match_route(many).error == "more than 16 query parameters");
  CHECK(percent_decode("%41%42", false) == "AB");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK_FALSE(percent_decode("%", false));
}
