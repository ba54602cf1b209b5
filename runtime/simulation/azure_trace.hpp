#pragma once

#include <cstdint>
#include <istream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace augur {

/// A trace file that cannot be read: the message names the file and line.
class trace_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// One function of the Azure Functions 2019 public trace ("Serverless in the
/// Wild", ATC 2020): what starts it, its invocations per minute, and the
/// percentiles of its execution time.
struct azure_function {
  std::string owner;
  std::string app;
  std::string function;
  /// http, timer, queue, event, storage, orchestration or others.
  std::string trigger;
  /// Invocations in each minute of the trace, from `first_minute` on.
  std::vector<uint32_t> per_minute;
  /// (percentile, ms) pairs: 0, 1, 25, 50, 75, 99, 100. Empty when the
  /// durations file has no row for the function.
  std::vector<std::pair<double, double>> duration_percentiles;
  /// Average duration (ms).
  double duration_avg_ms = 0;

  /// Draws an execution time from the percentiles: the inverse of the
  /// piecewise-linear distribution they describe, at `u` in [0, 1].
  double duration_at(double u) const;

  uint64_t total() const;
};

/// The functions of one trace sample.
struct azure_trace {
  /// Minute of the day of the first per-minute column.
  int first_minute = 0;
  std::vector<azure_function> functions;

  uint64_t total() const;
};

/// Reads `invocations.csv` and `durations.csv` of the Azure 2019 format.
/// Throws `trace_error` naming the file and line of anything malformed.
azure_trace load_azure_trace(const std::string& invocations_path,
                             const std::string& durations_path);

/// The same from streams; the names are those the errors give.
azure_trace parse_azure_trace(std::istream& invocations,
                              const std::string& invocations_path,
                              std::istream& durations,
                              const std::string& durations_path);

} // namespace augur
