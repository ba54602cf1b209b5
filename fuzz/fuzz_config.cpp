// The cluster file reader: any text is a cluster or a `config_error`
// naming file, line and key; never another exception or a crash.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "augur/runtime/node/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  try {
    augur::parse_config(text, "fuzz.toml");
  } catch (const augur::config_error&) {
  }
  return 0;
}
