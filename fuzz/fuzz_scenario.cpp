// The scenario reader: any text is a scenario or a clear error.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "augur/runtime/node/config.hpp"
#include "augur/runtime/simulation/azure_trace.hpp"
#include "augur/runtime/simulation/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  try {
    // Paths in the text resolve under a directory that does not exist, so
    // that no input reaches the machine's files.
    augur::parse_scenario(text, "fuzz.toml", "/nonexistent-augur-fuzz");
  } catch (const augur::config_error&) {
  } catch (const augur::trace_error&) {
  }
  return 0;
}
