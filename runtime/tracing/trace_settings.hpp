#pragma once

#include <string>

namespace augur {

/// Message tracing (`[trace]`; see docs/trace-format.md).
struct trace_settings {
  bool enabled = false;
  /// File the records go to; empty: kept in memory (embedded clusters).
  std::string file;
  /// Fraction of invocations traced (all their messages), 0-1.
  double sample = 1;
  /// Also record each message's content, rendered as text.
  bool content = false;
  /// Without a file: the records kept in memory at most; past it the
  /// oldest give way to the newest.
  uint64_t memory_records = 100000;
  /// Name of this node in the records.
  std::string node = "local";
};

} // namespace augur
