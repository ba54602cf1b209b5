#include "augur/runtime/state/state_store.hpp"

#include <chrono>

#include <sqlite3.h>

namespace augur {

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

namespace {

/// 'augr': tells augur's state files from other SQLite files.
constexpr int application_id = 0x61756772;
constexpr int schema_version = 1;

/// One prepared statement, finalized on scope exit.
class statement {
public:
  statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }

  ~statement() {
    sqlite3_finalize(stmt_);
  }

  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int i, const std::string& x) {
    check(sqlite3_bind_text(stmt_, i, x.data(), static_cast<int>(x.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }

  statement& bind_blob(int i, const std::string& x) {
    check(sqlite3_bind_blob(stmt_, i, x.data(), static_cast<int>(x.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }

  statement& bind(int i, int64_t x) {
    check(sqlite3_bind_int64(stmt_, i, x));
    return *this;
  }

  statement& bind(int i, double x) {
    check(sqlite3_bind_double(stmt_, i, x));
    return *this;
  }

  /// Steps once: true with a row, false when done.
  bool step() {
    auto rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc == SQLITE_DONE)
      return false;
    throw std::runtime_error(sqlite3_errmsg(db_));
  }

  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string text(int i) {
    auto p = sqlite3_column_blob(stmt_, i);
    auto n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr
             ? std::string{}
             : std::string{static_cast<const char*>(p), static_cast<size_t>(n)};
  }

  int64_t integer(int i) {
    return sqlite3_column_int64(stmt_, i);
  }

  double real(int i) {
    return sqlite3_column_double(stmt_, i);
  }

private:
  void check(int rc) {
    if (rc != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// A transaction: committed by `commit`, rolled back otherwise.
class transaction {
public:
  explicit transaction(sqlite3* db) : db_(db) {
    run("BEGIN IMMEDIATE");
  }

  ~transaction() {
    if (!done_)
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  void commit() {
    run("COMMIT");
    done_ = true;
  }

private:
  void run(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string what = err != nullptr ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw std::runtime_error(what);
    }
  }

  sqlite3* db_;
  bool done_ = false;
};

constexpr const char* record_columns
  = "id, tenant, task, status, created_ms, finished_ms, body";

invocation_record record_of(statement& q) {
  invocation_record r;
  r.id = static_cast<uint64_t>(q.integer(0));
  r.tenant = q.text(1);
  r.task = q.text(2);
  r.status = q.text(3);
  r.created_ms = q.integer(4);
  r.finished_ms = q.integer(5);
  r.body = q.text(6);
  return r;
}

} // namespace

state_store::state_store(const std::string& path, limits lim)
  : path_(path), limits_(lim) {
  auto rc = sqlite3_open_v2(path.c_str(), &db_,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                              | SQLITE_OPEN_FULLMUTEX,
                            nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw state_error("state file " + path + ": cannot open it: " + why);
  }
  try {
    // Held until exit: a second process on the same file is refused here,
    // not left to corrupt what the first one believes.
    sqlite3_busy_timeout(db_, 0);
    exec("PRAGMA locking_mode = EXCLUSIVE");
    {
      statement journal{db_, "PRAGMA journal_mode = WAL"};
      journal.step();
      auto mode = journal.text(0);
      if (mode != "wal" && !(path == ":memory:" && mode == "memory"))
        fail("cannot switch it to WAL (journal mode " + mode + ")");
    }
    // Survives the process being killed (the OS has every commit); a power
    // cut may lose the last commits, never the file.
    exec("PRAGMA synchronous = NORMAL");
    check_file();
    transaction tx{db_};
    exec("CREATE TABLE IF NOT EXISTS tasks ("
         " tenant TEXT NOT NULL, name TEXT NOT NULL,"
         " version INTEGER NOT NULL, definition TEXT NOT NULL,"
         " code BLOB, code_format TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
         " PRIMARY KEY (tenant, name))");
    exec("CREATE TABLE IF NOT EXISTS profiles ("
         " task TEXT NOT NULL, service TEXT NOT NULL,"
         " observations INTEGER NOT NULL, successes REAL NOT NULL,"
         " failures REAL NOT NULL, round_trips REAL NOT NULL,"
         " bytes_out REAL NOT NULL, bytes_in REAL NOT NULL,"
         " PRIMARY KEY (task, service))");
    exec("CREATE TABLE IF NOT EXISTS invocations ("
         " id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, task TEXT NOT NULL,"
         " status TEXT NOT NULL, created_ms INTEGER NOT NULL,"
         " finished_ms INTEGER NOT NULL, body TEXT NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS invocations_by_task"
         " ON invocations (tenant, task, id)");
    exec("CREATE INDEX IF NOT EXISTS invocations_by_time"
         " ON invocations (created_ms)");
    exec("CREATE TABLE IF NOT EXISTS counters ("
         " name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    exec("INSERT OR IGNORE INTO counters VALUES ('task_version', 0)");
    exec("INSERT OR IGNORE INTO counters VALUES ('record_id', 0)");
    exec(("PRAGMA application_id = " + std::to_string(application_id)).c_str());
    exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    tx.commit();
  } catch (const state_error&) {
    sqlite3_close(db_);
    throw;
  } catch (const std::exception& e) {
    std::string why = e.what();
    sqlite3_close(db_);
    if (why.find("locked") != std::string::npos
        || why.find("busy") != std::string::npos)
      why = "another process holds it (" + why + ")";
    throw state_error("state file " + path + ": " + why);
  }
}

state_store::~state_store() {
  sqlite3_close(db_);
}

void state_store::check_file() {
  statement check{db_, "PRAGMA quick_check"};
  std::string problems;
  while (check.step())
    if (auto line = check.text(0); line != "ok")
      problems += (problems.empty() ? "" : "; ") + line;
  if (!problems.empty())
    fail("it is damaged (" + problems
         + "); restore it from a backup or move it away");
  statement id{db_, "PRAGMA application_id"};
  id.step();
  statement version{db_, "PRAGMA user_version"};
  version.step();
  statement objects{db_, "SELECT count(*) FROM sqlite_master"};
  objects.step();
  auto empty = objects.integer(0) == 0;
  if (!empty && id.integer(0) != application_id)
    fail("it is an SQLite file, but not augur's state");
  if (!empty && version.integer(0) > schema_version)
    fail("it was written by a newer augur (schema "
         + std::to_string(version.integer(0)) + ", this one reads "
         + std::to_string(schema_version) + ")");
}

void state_store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string what = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw std::runtime_error(what);
  }
}

void state_store::fail(const std::string& what) {
  throw state_error("state file " + path_ + ": " + what);
}

// -- deployed tasks ----------------------------------------------------------

namespace {

constexpr const char* task_columns
  = "tenant, name, version, definition, code, code_format, updated_ms";

deployed_task task_of(statement& q) {
  deployed_task x;
  x.tenant = q.text(0);
  x.name = q.text(1);
  x.version = static_cast<uint64_t>(q.integer(2));
  x.definition = q.text(3);
  x.code = q.text(4);
  x.code_format = q.text(5);
  x.updated_ms = q.integer(6);
  return x;
}

} // namespace

std::vector<deployed_task> state_store::tasks() {
  std::lock_guard<std::mutex> guard{mtx_};
  statement q{db_, (std::string{"SELECT "} + task_columns
                    + " FROM tasks ORDER BY tenant, name")
                     .c_str()};
  std::vector<deployed_task> result;
  while (q.step())
    result.push_back(task_of(q));
  return result;
}

void state_store::put_task(deployed_task& x, bool keep_code) {
  std::lock_guard<std::mutex> guard{mtx_};
  transaction tx{db_};
  statement next{db_, "UPDATE counters SET value = value + 1"
                      " WHERE name = 'task_version' RETURNING value"};
  next.step();
  x.version = static_cast<uint64_t>(next.integer(0));
  while (next.step()) {
    // nop (RETURNING rows must be stepped through)
  }
  statement q{db_, keep_code ? "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)"
                               " ON CONFLICT (tenant, name) DO UPDATE SET"
                               " version = excluded.version,"
                               " definition = excluded.definition,"
                               " updated_ms = excluded.updated_ms"
                             : "INSERT OR REPLACE INTO tasks"
                               " VALUES (?, ?, ?, ?, ?, ?, ?)"};
  q.bind(1, x.tenant)
    .bind(2, x.name)
    .bind(3, static_cast<int64_t>(x.version))
    .bind(4, x.definition)
    .bind_blob(5, x.code)
    .bind(6, x.code_format)
    .bind(7, x.updated_ms);
  q.step();
  tx.commit();
}

bool state_store::delete_task(const std::string& tenant,
                              const std::string& name, const std::string& key) {
  std::lock_guard<std::mutex> guard{mtx_};
  transaction tx{db_};
  statement q{db_, "DELETE FROM tasks WHERE tenant = ? AND name = ?"};
  q.bind(1, tenant).bind(2, name);
  q.step();
  auto removed = sqlite3_changes(db_) > 0;
  statement p{db_, "DELETE FROM profiles WHERE task = ?"};
  p.bind(1, key);
  p.step();
  tx.commit();
  return removed;
}

// -- profiles ----------------------------------------------------------------

void state_store::put_profiles(
  const std::vector<std::pair<std::string, std::optional<profile_snapshot>>>&
    xs) {
  if (xs.empty())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  transaction tx{db_};
  statement remove{db_, "DELETE FROM profiles WHERE task = ?"};
  statement put{db_, "INSERT OR REPLACE INTO profiles"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"};
  for (auto& [task, x] : xs) {
    if (!x) {
      remove.bind(1, task);
      remove.step();
      remove.reset();
      continue;
    }
    for (auto& s : x->services) {
      put.bind(1, task)
        .bind(2, s.name)
        .bind(3, static_cast<int64_t>(x->observations))
        .bind(4, s.successes)
        .bind(5, s.failures)
        .bind(6, s.round_trips)
        .bind(7, s.bytes_out)
        .bind(8, s.bytes_in);
      put.step();
      put.reset();
    }
  }
  tx.commit();
}

std::vector<profile_snapshot> state_store::profiles() {
  std::lock_guard<std::mutex> guard{mtx_};
  statement q{db_, "SELECT task, service, observations, successes, failures,"
                   " round_trips, bytes_out, bytes_in FROM profiles"
                   " ORDER BY task, service"};
  std::vector<profile_snapshot> result;
  while (q.step()) {
    auto task = q.text(0);
    if (result.empty() || result.back().task != task) {
      result.emplace_back();
      result.back().task = task;
    }
    auto& x = result.back();
    x.observations = static_cast<uint64_t>(q.integer(2));
    x.services.push_back(
      {q.text(1), q.real(3), q.real(4), q.real(5), q.real(6), q.real(7)});
  }
  return result;
}

// -- invocation records ------------------------------------------------------

void state_store::put_records(const std::vector<invocation_record>& xs,
                              int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  transaction tx{db_};
  statement put{db_, "INSERT OR REPLACE INTO invocations"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)"};
  uint64_t last = 0;
  for (auto& r : xs) {
    put.bind(1, static_cast<int64_t>(r.id))
      .bind(2, r.tenant)
      .bind(3, r.task)
      .bind(4, r.status)
      .bind(5, r.created_ms)
      .bind(6, r.finished_ms)
      .bind(7, r.body);
    put.step();
    put.reset();
    last = std::max(last, r.id);
  }
  statement counter{db_, "UPDATE counters SET value = max(value, ?)"
                         " WHERE name = 'record_id'"};
  counter.bind(1, static_cast<int64_t>(last));
  counter.step();
  auto horizon = now_ms - static_cast<int64_t>(limits_.retention_s * 1000);
  statement old{db_, "DELETE FROM invocations WHERE created_ms < ?"};
  old.bind(1, horizon);
  old.step();
  statement over{db_, "DELETE FROM invocations WHERE id <= (SELECT id FROM"
                      " invocations ORDER BY id DESC LIMIT 1 OFFSET ?)"};
  over.bind(1, static_cast<int64_t>(limits_.max_records));
  over.step();
  tx.commit();
}

std::optional<invocation_record> state_store::record(uint64_t id) {
  std::lock_guard<std::mutex> guard{mtx_};
  statement q{db_, (std::string{"SELECT "} + record_columns
                    + " FROM invocations WHERE id = ?")
                     .c_str()};
  q.bind(1, static_cast<int64_t>(id));
  if (!q.step())
    return std::nullopt;
  return record_of(q);
}

std::vector<invocation_record> state_store::records(const std::string& tenant,
                                                    const std::string& task,
                                                    size_t limit) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto sql = std::string{"SELECT "} + record_columns
             + " FROM invocations WHERE tenant = ?"
             + (task.empty() ? "" : " AND task = ?")
             + " ORDER BY id DESC LIMIT ?";
  statement q{db_, sql.c_str()};
  q.bind(1, tenant);
  if (task.empty())
    q.bind(2, static_cast<int64_t>(limit));
  else
    q.bind(2, task).bind(3, static_cast<int64_t>(limit));
  std::vector<invocation_record> result;
  while (q.step())
    result.push_back(record_of(q));
  return result;
}

uint64_t state_store::last_record_id() {
  std::lock_guard<std::mutex> guard{mtx_};
  statement q{db_, "SELECT value FROM counters WHERE name = 'record_id'"};
  q.step();
  return static_cast<uint64_t>(q.integer(0));
}

uint64_t state_store::record_count() {
  std::lock_guard<std::mutex> guard{mtx_};
  statement q{db_, "SELECT count(*) FROM invocations"};
  q.step();
  return static_cast<uint64_t>(q.integer(0));
}

} // namespace augur
