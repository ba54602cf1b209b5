#pragma once

// The trace file format: a sequence of msgpack maps, one per record, with
// named keys (docs/trace-format.md). Plain C++: no actor system needed to
// write or read it.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace augur {

/// One traced event: a message sent to, or consumed by, an augur actor.
struct trace_record {
  /// Format version of the record (currently 1).
  uint32_t version = 1;
  /// Actor-clock time of the event, in nanoseconds.
  int64_t time_ns = 0;
  /// Node (process) that recorded it.
  std::string node;
  /// `send` (enqueued into the receiver's mailbox) or `consume` (the
  /// receiver ran it).
  std::string event;
  /// Unique per message on its node: a `send` and its `consume` share it.
  uint64_t message = 0;
  std::string sender;
  uint64_t sender_id = 0;
  std::string receiver;
  uint64_t receiver_id = 0;
  /// Type of the message: the augur type (`invoke_request`) or its atoms
  /// (`get,status`).
  std::string type;
  /// CAF request id (0: not a request or response); a request and its
  /// response share it.
  uint64_t request = 0;
  bool response = false;
  /// The invocation the message concerns (0: none known).
  uint64_t invocation = 0;
  /// Serialized size of the message, in bytes.
  uint64_t size = 0;
  /// The message rendered as text, when asked for (else empty).
  std::string content;
  /// `consume` only: wall-clock time the handler took, in nanoseconds.
  int64_t handler_ns = 0;
};

/// Appends `x` to `out` in the trace format.
void write_record(std::string& out, const trace_record& x);

/// What reading a trace file found.
struct trace_file {
  std::string path;
  std::vector<trace_record> records;
  /// Empty when the whole file was read; else what is wrong and where the
  /// damage starts (`damage_offset`, in bytes).
  std::string damage;
  uint64_t damage_offset = 0;
};

/// Reads a trace file up to the first damage (truncation, bytes that are
/// not msgpack, a value that is not a record); never throws for bad
/// content (only for a file that cannot be opened: `std::runtime_error`).
trace_file read_trace(const std::string& path);

/// Reads a trace from memory (same rules).
trace_file parse_trace(const std::string& bytes, const std::string& name);

/// Records of several files merged by time (stable: a file's order is kept
/// for equal times).
std::vector<trace_record> merge_traces(const std::vector<trace_file>& files);

/// Invocation ids spread to the other records of the same message (its send
/// and consume) and of the same request: a request whose response names an
/// invocation concerns that invocation too.
void resolve_invocations(std::vector<trace_record>& records);

/// One line per record, for `augur trace dump`.
std::string describe(const trace_record& x);

/// Chrome trace-event JSON (Perfetto, chrome://tracing): a track per actor,
/// a slice per consumed message, flow arrows from send to consume.
std::string to_chrome_json(const std::vector<trace_record>& records);

/// Messages per type and per actor, and per-hop latency (send to consume),
/// for `augur trace summary`.
std::string summarize(const std::vector<trace_record>& records);

} // namespace augur
