#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "augur/model/profile_estimator.hpp"

struct sqlite3;

namespace augur {

/// A state file that cannot be used: unreadable, not augur's, damaged, newer
/// than this build, or in use by another process. `what()` names the file.
class state_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Milliseconds since the epoch, by the wall clock: the times the state
/// file keeps (records, deployments).
int64_t wall_clock_ms();

/// A task deployed over the API, as the state file keeps it.
struct deployed_task {
  /// The tenant that owns it (empty: a cluster without tenants).
  std::string tenant;
  std::string name;
  /// Grows with every change of the definition or the code, over all tasks
  /// (a task deleted and deployed again never repeats a version).
  uint64_t version = 0;
  /// The definition as the API took it (JSON text).
  std::string definition;
  /// The code archive as uploaded (empty: none).
  std::string code;
  /// The archive's format, `tar.gz` or `zip` (empty: none).
  std::string code_format;
  int64_t updated_ms = 0;
};

/// One invocation's record (OpenWhisk's activation).
struct invocation_record {
  uint64_t id = 0;
  std::string tenant;
  std::string task;
  /// `running` until it ends, then the outcome (`ok`, `failed`, ...).
  std::string status;
  /// Wall-clock times, in milliseconds since the epoch (0: not yet).
  int64_t created_ms = 0;
  int64_t finished_ms = 0;
  /// The answer as the API gives it (JSON text; empty while running).
  std::string body;
};

/// What survives a restart of the control node, in one SQLite file (WAL,
/// locked by the process that opened it): deployed tasks and their code,
/// the profiles' evidence, invocation records. Every call is a transaction
/// of its own and blocks: callers keep it off actor and I/O threads (see
/// `state_writer`). Thread-safe.
class state_store {
public:
  struct limits {
    /// Records older than this are removed (seconds).
    double retention_s = 86400;
    /// At most this many records are kept (the oldest go first).
    uint64_t max_records = 100000;
  };

  /// Opens (or creates) the file at `path`. Throws `state_error` naming the
  /// file when it cannot be read or written, is not an augur state file,
  /// fails SQLite's integrity check, or another process holds it.
  state_store(const std::string& path, limits lim);

  ~state_store();

  state_store(const state_store&) = delete;
  state_store& operator=(const state_store&) = delete;

  const std::string& path() const noexcept {
    return path_;
  }

  // -- deployed tasks --------------------------------------------------------

  std::vector<deployed_task> tasks();

  /// Stores a task under the next version (set in `x`), durably. With
  /// `keep_code`, a task already stored keeps its code (`x.code` and
  /// `x.code_format` are not written): a new definition only.
  void put_task(deployed_task& x, bool keep_code = false);

  /// Removes a task and its profile; returns whether it was there.
  bool delete_task(const std::string& tenant, const std::string& name,
                   const std::string& key);

  // -- profiles --------------------------------------------------------------

  /// Writes profiles (nullptr: remove that task's), in one transaction.
  void put_profiles(
    const std::vector<std::pair<std::string, std::optional<profile_snapshot>>>&
      xs);

  std::vector<profile_snapshot> profiles();

  // -- invocation records ----------------------------------------------------

  /// Writes records (a later write of an id replaces it) in one
  /// transaction, then removes what is past retention or the bound.
  void put_records(const std::vector<invocation_record>& xs, int64_t now_ms);

  std::optional<invocation_record> record(uint64_t id);

  /// The latest records of `tenant`, newest first; `task` empty: all its
  /// tasks.
  std::vector<invocation_record> records(const std::string& tenant,
                                         const std::string& task, size_t limit);

  /// The highest record id ever stored (ids continue from it).
  uint64_t last_record_id();

  /// Records kept now.
  uint64_t record_count();

private:
  void exec(const char* sql);
  /// Fails unless the file is sound, augur's, and of a schema this build
  /// reads.
  void check_file();
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  limits limits_;
  std::mutex mtx_;
  sqlite3* db_ = nullptr;
};

} // namespace augur
