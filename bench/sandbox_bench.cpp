// The start-up cost of one execution with and without the sandbox: runs
// `/bin/true` as a task process would (fork, exec, pipes, reaping), one
// after the other, alternating bare and under bubblewrap.
//
//   augur_sandbox_bench [--runs N]
//
// Prints one JSON document: the median and p90 wall time of each, and their
// ratio, all from this one run.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "augur/runtime/execution/io_runner.hpp"
#include "augur/runtime/execution/process.hpp"

using namespace augur;

namespace {

double run_once(io_runner& io, const process_spec& spec) {
  std::promise<process_result> p;
  auto f = p.get_future();
  run_process(io.context(), spec,
              [&p](process_result r) { p.set_value(std::move(r)); });
  auto r = f.get();
  if (!r.ok()) {
    std::cerr << "augur_sandbox_bench: " << r.describe() << ": " << r.errors
              << std::endl;
    std::exit(1);
  }
  return r.wall_ms;
}

nlohmann::json summary(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return {{"median_ms", xs[xs.size() / 2]}, {"p90_ms", xs[xs.size() * 9 / 10]}};
}

} // namespace

int main(int argc, char** argv) {
  size_t runs = 200;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = std::max<size_t>(std::strtoull(argv[++i], nullptr, 10), 1);
  auto path = std::getenv("PATH");
  auto bwrap = find_program("bwrap", path != nullptr ? path : "/usr/bin:/bin");
  if (bwrap.empty()) {
    std::cerr << "augur_sandbox_bench: bwrap not found (Debian's bubblewrap)"
              << std::endl;
    return 1;
  }
  auto dir = std::filesystem::temp_directory_path()
             / ("augur-sandbox-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  process_spec bare;
  bare.argv = {"/bin/true"};
  bare.workdir = dir.string();
  auto boxed = bare;
  boxed.sandbox.bwrap = bwrap;
  boxed.sandbox.drop = ::geteuid() == 0;
  if (boxed.sandbox.drop
      && ::chown(dir.c_str(), boxed.sandbox.uid, boxed.sandbox.gid) != 0) {
    std::cerr << "augur_sandbox_bench: cannot hand " << dir << " over"
              << std::endl;
    return 1;
  }
  io_runner io;
  std::vector<double> plain_ms;
  std::vector<double> sandbox_ms;
  for (size_t i = 0; i < runs; ++i) {
    plain_ms.push_back(run_once(io, bare));
    sandbox_ms.push_back(run_once(io, boxed));
  }
  std::filesystem::remove_all(dir);
  nlohmann::json out;
  out["runs"] = runs;
  out["bare"] = summary(plain_ms);
  out["sandbox"] = summary(sandbox_ms);
  out["ratio_of_medians"] = out["sandbox"]["median_ms"].get<double>()
                            / out["bare"]["median_ms"].get<double>();
  std::cout << out.dump(2) << std::endl;
  return 0;
}
