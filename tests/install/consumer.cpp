// Builds against the installed package only: the headers under
// <prefix>/include/augur and the library through find_package(augur).

#include <augur/embedded.hpp>

#include <iostream>

int main() {
  auto cluster = augur::embedded_cluster::from_toml(R"(
    [[host]]
    name = "h"
    [[service]]
    name = "db"
  )");
  cluster.define_task("echo", {{"db"}},
                      [](augur::task_context& ctx, const std::string& in) {
                        return ctx.call("db", in);
                      });
  auto r = cluster.invoke("echo", "hello");
  std::cout << r.output << " from " << r.instance << "\n";
  return r.ok() && r.output == "hello" ? 0 : 1;
}
