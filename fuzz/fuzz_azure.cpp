// The Azure 2019 trace reader: two CSV files (the input split at its first
// NUL byte) are a trace or a `trace_error` naming file and line.

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "augur/runtime/simulation/azure_trace.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  auto nul = bytes.find('\0');
  std::istringstream invocations{bytes.substr(0, nul)};
  std::istringstream durations{
    nul == std::string::npos ? std::string{} : bytes.substr(nul + 1)};
  try {
    auto trace = augur::parse_azure_trace(invocations, "invocations.csv",
                                          durations, "durations.csv");
    for (auto& f : trace.functions) {
      f.duration_at(0);
      f.duration_at(0.5);
      f.duration_at(1);
    }
    trace.total();
  } catch (const augur::trace_error&) {
  }
  return 0;
}
