// The augur command line.

#include <cstdlib>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "augur/runtime/config.hpp"
#include "augur/runtime/demo.hpp"

int main(int argc, char** argv) {
  CLI::App app{"augur: serverless placement by predicted channel quality"};
  app.require_subcommand(1);

  augur::demo_options demo;
  auto* demo_cmd = app.add_subcommand(
    "demo", "Run a mixed workload on the embedded cluster, augur against "
            "least-loaded placement");
  demo_cmd->add_option("--config", demo.config, "Cluster file")
    ->capture_default_str();
  demo_cmd->add_option("--requests", demo.requests, "Invocations to run")
    ->capture_default_str()
    ->check(CLI::Range(1u, 10000000u));
  demo_cmd->add_option("--rate", demo.rate_per_s, "Arrivals per second")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  demo_cmd->add_option("--seed", demo.seed, "Seed of the arrivals")
    ->capture_default_str();
  demo_cmd->add_flag("--json", demo.json, "Print one JSON document");

  std::string check_file;
  auto* check_cmd = app.add_subcommand(
    "check", "Validate a cluster file (exit 2 naming file, line and key)");
  check_cmd->add_option("file", check_file, "Cluster file")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo_cmd) {
      augur::run_demo(demo, std::cout);
    } else if (*check_cmd) {
      auto cfg = augur::load_config(check_file);
      std::cout << check_file << ": ok (" << cfg.hosts.size() << " hosts, "
                << cfg.instance_count() << " instances, "
                << cfg.services.size() << " services)\n";
    }
  } catch (const augur::config_error& e) {
    std::cerr << "augur: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "augur: " << e.what() << "\n";
    return 1;
  }
  return EXIT_SUCCESS;
}
