// The trace reader: any bytes are read up to the first damage, never a
// crash; whatever is read can be merged, resolved, summarised and exported.

#include <cstddef>
#include <cstdint>
#include <string>

#include "augur/runtime/tracing/trace_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes{reinterpret_cast<const char*>(data), size};
  auto file = augur::parse_trace(bytes, "fuzz");
  auto records = augur::merge_traces({file});
  augur::resolve_invocations(records);
  for (auto& r : records)
    augur::describe(r);
  augur::summarize(records);
  augur::to_chrome_json(records);
  return 0;
}
