#pragma once

/// The embedded augur cluster, for users' unit tests:
///
///   #include <augur/embedded.hpp>
///   auto cluster = augur::embedded_cluster::from_toml(R"(...)");
///   cluster.define_task("orders", {{"db"}}, handler);
///   auto r = cluster.invoke("orders", "{}");

#include "augur/runtime/embedded_cluster.hpp"
