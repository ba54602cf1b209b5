// The augur command line.

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "augur/runtime/api/serve.hpp"
#include "augur/runtime/cli/client.hpp"
#include "augur/runtime/cli/demo.hpp"
#include "augur/runtime/node/certs.hpp"
#include "augur/runtime/node/config.hpp"
#include "augur/runtime/simulation/report.hpp"
#include "augur/runtime/simulation/scenario.hpp"
#include "augur/runtime/simulation/simulator.hpp"
#include "augur/runtime/state/state_store.hpp"
#include "augur/runtime/tracing/trace_format.hpp"

namespace {

/// `augur trace dump|chrome|summary`: exit 0, or 1 when some file is damaged
/// (what could be read is still shown).
int run_trace_command(bool dump, bool chrome,
                      const std::vector<std::string>& files,
                      uint64_t only_invocation, const std::string& only_actor,
                      const std::string& only_type,
                      const std::string& chrome_out) {
  std::vector<augur::trace_file> traces;
  bool damaged = false;
  for (auto& f : files) {
    try {
      traces.push_back(augur::read_trace(f));
    } catch (const std::exception& e) {
      std::cerr << "augur: " << e.what() << "\n";
      return 2;
    }
    auto& t = traces.back();
    if (!t.damage.empty()) {
      damaged = true;
      std::cerr << "augur: " << f << ": damaged from byte " << t.damage_offset
                << " (" << t.damage << "); " << t.records.size()
                << " records before it are used\n";
    }
  }
  auto records = augur::merge_traces(traces);
  augur::resolve_invocations(records);
  if (dump) {
    for (auto& x : records) {
      if (only_invocation != 0 && x.invocation != only_invocation)
        continue;
      if (!only_actor.empty() && x.sender != only_actor
          && x.receiver != only_actor)
        continue;
      if (!only_type.empty() && x.type != only_type)
        continue;
      std::cout << augur::describe(x) << "\n";
    }
  } else if (chrome) {
    std::ofstream out{chrome_out};
    if (!out) {
      std::cerr << "augur: cannot write " << chrome_out << "\n";
      return 2;
    }
    out << augur::to_chrome_json(records);
    std::cout << "wrote " << chrome_out << " (" << records.size()
              << " records)\n";
  } else {
    std::cout << augur::summarize(records);
  }
  return damaged ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"augur: serverless placement by predicted channel quality"};
  app.require_subcommand(1);

  augur::demo_options demo;
  auto* demo_cmd = app.add_subcommand(
    "demo", "Run a mixed workload for real (Redis, processes, HTTP), augur "
            "against least-loaded placement");
  demo_cmd->add_flag("--virtual", demo.virtual_time,
                     "The emulated demo in virtual time instead (default: "
                     "4000 requests at 500/s)");
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
  demo_cmd->add_option("--trace", demo.trace_file,
                       "Trace every message of augur's run to this file");

  std::string certs_dir;
  std::vector<std::string> certs_nodes;
  auto* certs_cmd = app.add_subcommand(
    "certs", "Make a cluster's TLS authority (once) and a certificate and key "
             "per node, files 0600");
  certs_cmd->add_option("--dir", certs_dir, "Where the files go")->required();
  certs_cmd->add_option("nodes", certs_nodes, "Node names")->required();
  certs_cmd->footer(
    "Example:\n  augur certs --dir configs/cluster/certs control w1 w2\n"
    "makes ca.pem and ca.key (kept when they exist), and control.pem,\n"
    "control.key, w1.pem, ... for the [tls] and [[node]] keys of a cluster "
    "file.");

  std::string check_file;
  auto* check_cmd = app.add_subcommand(
    "check", "Validate a cluster file (exit 2 naming file, line and key)");
  check_cmd->add_option("file", check_file, "Cluster file")->required();

  std::string scenario_file;
  std::string policy = "predictive";
  uint64_t seed = 0;
  bool sim_json = false;
  auto* sim_cmd = app.add_subcommand(
    "simulate", "Replay a scenario in virtual time through the real actors");
  sim_cmd->add_option("scenario", scenario_file, "Scenario file")->required();
  sim_cmd
    ->add_option("--policy", policy,
                 "predictive, least-loaded, random, round-robin, "
                 "hash-home, oracle, or all")
    ->capture_default_str();
  auto* seed_opt = sim_cmd->add_option("--seed", seed,
                                       "Seed (default: the scenario's)");
  sim_cmd->add_flag("--json", sim_json, "Print one JSON document");
  std::string sim_trace;
  double sim_sample = 1;
  sim_cmd->add_option("--trace", sim_trace,
                      "Trace messages to this file (one policy only)");
  sim_cmd
    ->add_option("--trace-sample", sim_sample, "Fraction of invocations traced")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();

  auto* trace_cmd = app.add_subcommand("trace", "Read message traces");
  trace_cmd->require_subcommand(1);
  std::vector<std::string> trace_files;
  uint64_t only_invocation = 0;
  std::string only_actor;
  std::string only_type;
  auto* dump_cmd = trace_cmd->add_subcommand(
    "dump", "Readable lines, merged by time across files");
  dump_cmd->add_option("files", trace_files, "Trace files")->required();
  dump_cmd->add_option("--invocation", only_invocation,
                       "Only messages of this invocation");
  dump_cmd->add_option("--actor", only_actor,
                       "Only messages to or from actors of this name");
  dump_cmd->add_option("--type", only_type, "Only messages of this type");
  std::string chrome_out = "trace.json";
  auto* chrome_cmd = trace_cmd->add_subcommand(
    "chrome", "Chrome trace-event JSON for Perfetto or chrome://tracing");
  chrome_cmd->add_option("files", trace_files, "Trace files")->required();
  chrome_cmd->add_option("-o,--output", chrome_out, "JSON file to write")
    ->capture_default_str();
  auto* summary_cmd = trace_cmd->add_subcommand(
    "summary", "Messages per type and actor, per-hop latency");
  summary_cmd->add_option("files", trace_files, "Trace files")->required();

  std::string serve_config;
  std::string serve_trace;
  auto* serve_cmd = app.add_subcommand(
    "serve", "Run the cluster in real time with the HTTP API until "
             "SIGINT/SIGTERM, then drain");
  serve_cmd->add_option("--config", serve_config, "Cluster file")->required();
  serve_cmd->add_option("--trace", serve_trace, "Trace messages to this file");

  std::string node_config_file;
  std::string node_name;
  std::string node_trace;
  auto* node_cmd = app.add_subcommand(
    "node", "Run one node of a distributed deployment (see configs/cluster)");
  node_cmd->add_option("--config", node_config_file, "Cluster file")
    ->required();
  node_cmd->add_option("--name", node_name, "This node's [[node]] name")
    ->required();
  node_cmd->add_option("--trace", node_trace, "Trace messages to this file");

  std::vector<std::string> plot_inputs;
  std::string plot_output = "augur.svg";
  auto* plot_cmd = app.add_subcommand(
    "plot", "Draw an SVG from `simulate --policy all --json` documents");
  plot_cmd->add_option("reports", plot_inputs, "JSON documents")->required();
  plot_cmd->add_option("-o,--output", plot_output, "SVG file to write")
    ->capture_default_str();
  std::string plot_markdown;
  plot_cmd->add_option("--markdown", plot_markdown,
                       "Also write the README's tables to this file");

  augur::client_commands client;
  client.attach(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; every other mistake on the command line is a
    // usage error (2).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (auto status = client.run(std::cout, std::cerr))
    return *status;
  if (demo.virtual_time && demo_cmd->count("--requests") == 0)
    demo.requests = 4000;
  try {
    if (*demo_cmd) {
      augur::run_demo(demo, std::cout);
    } else if (*serve_cmd) {
      auto cfg = augur::load_config(serve_config);
      if (!serve_trace.empty()) {
        cfg.trace.enabled = true;
        cfg.trace.file = serve_trace;
      }
      return augur::serve(cfg, std::cout);
    } else if (*node_cmd) {
      auto cfg = augur::load_config(node_config_file);
      if (cfg.node(node_name) == nullptr) {
        std::cerr << "augur: " << node_config_file << ": no [[node]] named '"
                  << node_name << "'\n";
        return 2;
      }
      if (!node_trace.empty()) {
        cfg.trace.enabled = true;
        cfg.trace.file = node_trace;
        cfg.trace.node = node_name;
      }
      return augur::serve_node(cfg, node_name, std::cout);
    } else if (*certs_cmd) {
      auto made = augur::make_cluster_certs(certs_dir, certs_nodes);
      std::cout << "authority: " << made.ca_cert << "\n";
      for (size_t i = 0; i < made.nodes.size(); ++i)
        std::cout << certs_nodes[i] << ": " << made.nodes[i].first << ", "
                  << made.nodes[i].second << "\n";
      return 0;
    } else if (*trace_cmd) {
      return run_trace_command(dump_cmd->parsed(), chrome_cmd->parsed(),
                               trace_files, only_invocation, only_actor,
                               only_type, chrome_out);
    } else if (*sim_cmd) {
      auto sc = augur::load_scenario(scenario_file);
      if (!sim_trace.empty()) {
        if (policy == "all") {
          std::cerr << "augur: --trace needs one --policy\n";
          return 2;
        }
        sc.cluster.trace.enabled = true;
        sc.cluster.trace.file = sim_trace;
        sc.cluster.trace.sample = sim_sample;
      }
      if (seed_opt->count() == 0)
        seed = sc.workload.seed;
      std::vector<augur::placement_policy> policies;
      if (policy == "all") {
        policies = augur::all_placement_policies();
      } else if (auto p = augur::parse_placement_policy(policy)) {
        policies.push_back(*p);
      } else {
        std::cerr << "augur: unknown policy '" << policy << "'\n";
        return 2;
      }
      std::vector<nlohmann::json> reports;
      for (auto p : policies) {
        if (!sim_json)
          std::cerr << "simulating " << augur::to_string(p) << "...\n";
        // Progress on a terminal only: quiet when piped or with --json.
        auto progress = !sim_json && ::isatty(STDERR_FILENO) ? &std::cerr
                                                             : nullptr;
        reports.push_back(augur::simulate(sc, p, seed, progress));
      }
      if (sim_json) {
        if (policy != "all") {
          std::cout << reports.front().dump(
            2, ' ', false, nlohmann::json::error_handler_t::replace)
                    << "\n";
        } else {
          nlohmann::json doc;
          doc["scenario"] = scenario_file;
          doc["seed"] = seed;
          for (auto& r : reports)
            doc["policies"][r["policy"].get<std::string>()] = r;
          std::cout << doc.dump(2, ' ', false,
                                nlohmann::json::error_handler_t::replace)
                    << "\n";
        }
      } else {
        std::cout << scenario_file << ", seed " << seed << ": "
                  << reports.front()["invocations"] << " invocations, "
                  << reports.front()["simulated_s"].get<double>()
                  << " s simulated\n\n";
        augur::print_reports(reports, std::cout);
        for (auto& r : reports)
          std::cout << r["policy"].get<std::string>() << ": "
                    << static_cast<long long>(
                         r["invocations_per_wall_s"].get<double>())
                    << " invocations per wall-second\n";
      }
    } else if (*plot_cmd) {
      std::vector<nlohmann::json> docs;
      for (auto& f : plot_inputs) {
        std::ifstream in{f};
        if (!in) {
          std::cerr << "augur: cannot open " << f << "\n";
          return 2;
        }
        try {
          docs.push_back(nlohmann::json::parse(in));
        } catch (const std::exception& e) {
          std::cerr << "augur: " << f << ": " << e.what() << "\n";
          return 2;
        }
        if (!docs.back().contains("policies")) {
          std::cerr << "augur: " << f
                    << ": not the output of `simulate --policy all --json`\n";
          return 2;
        }
      }
      std::ofstream out{plot_output};
      out << augur::plot_svg(docs);
      std::cout << "wrote " << plot_output << "\n";
      if (!plot_markdown.empty()) {
        std::ofstream md{plot_markdown};
        md << augur::markdown_tables(docs);
        std::cout << "wrote " << plot_markdown << "\n";
      }
    } else if (*check_cmd) {
      auto cfg = augur::load_config(check_file);
      std::cout << check_file << ": ok (" << cfg.hosts.size() << " hosts, "
                << cfg.instance_count() << " instances, " << cfg.services.size()
                << " services)\n";
    }
  } catch (const augur::trace_error& e) {
    std::cerr << "augur: " << e.what() << "\n";
    return 2;
  } catch (const augur::state_error& e) {
    std::cerr << "augur: " << e.what() << "\n";
    return 2;
  } catch (const augur::config_error& e) {
    std::cerr << "augur: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "augur: " << e.what() << "\n";
    return 1;
  }
  return EXIT_SUCCESS;
}
