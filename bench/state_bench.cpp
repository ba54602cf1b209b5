// What keeping an invocation record costs: the API thread hands each record
// to the state writer (a lock and a copy); the writer's thread writes them
// in batches, one SQLite transaction each. Measured against the same loop
// that only builds the record (what an API without records does), over
// records of a typical answer's size, to a real file in WAL mode. (A burst
// beyond the writer's bound of waiting records, 65,536, drops what exceeds
// it: the default stays below.)
//
//   augur_state_bench [RECORDS]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "augur/runtime/state/state_writer.hpp"

using namespace augur;
using clock_type = std::chrono::steady_clock;

namespace {

invocation_record make(uint64_t id, const std::string& body) {
  return {id, "alice", "greet", "ok", 1, 2, body};
}

double us_since(clock_type::time_point t0, uint64_t n) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0)
           .count()
         / static_cast<double>(n);
}

} // namespace

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50000;
  // A typical answer: the result, its placement reason and two bids.
  std::string body(700, 'x');
  auto dir = std::filesystem::temp_directory_path()
             / ("augur-state-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  // None: the record is built and dropped.
  auto t0 = clock_type::now();
  uint64_t sink = 0;
  for (uint64_t i = 1; i <= n; ++i) {
    auto r = make(i, body);
    r.created_ms = now;
    sink += r.body.size();
  }
  auto none_us = us_since(t0, n);
  // Kept: handed to the writer; then every one written (flush).
  double handed_us = 0;
  double total_us = 0;
  uint64_t batches = 0;
  uint64_t dropped = 0;
  uint64_t kept = 0;
  {
    state_store::limits lim;
    lim.max_records = n;
    auto store = std::make_shared<state_store>((dir / "bench.state").string(),
                                               lim);
    state_writer w{store, std::chrono::milliseconds(200)};
    t0 = clock_type::now();
    for (uint64_t i = 1; i <= n; ++i) {
      auto r = make(i, body);
      r.created_ms = now;
      w.record(std::move(r));
    }
    handed_us = us_since(t0, n);
    w.flush();
    total_us = us_since(t0, n);
    batches = w.batches();
    dropped = w.dropped_records();
    kept = store->record_count();
  }
  std::filesystem::remove_all(dir);
  std::printf("{\"records\": %llu, \"none_us\": %.3f, \"handed_us\": %.3f, "
              "\"written_us\": %.3f, \"batches\": %llu, \"kept\": %llu, "
              "\"dropped\": %llu, \"sink\": %llu}\n",
              static_cast<unsigned long long>(n), none_us, handed_us, total_us,
              static_cast<unsigned long long>(batches),
              static_cast<unsigned long long>(kept),
              static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(sink % 10));
  return 0;
}
