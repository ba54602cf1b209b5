#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "augur/runtime/state/state_store.hpp"

namespace augur {

/// The one thread that talks to a `state_store`: others hand it work and
/// never wait on the disk. Profiles and invocation records are batched: the
/// latest of each is written within `interval` of being handed over, many in
/// one transaction. Jobs (deployments, reads) run in order after everything
/// handed over before them is written.
class state_writer {
public:
  /// Records waiting to be written, at most; past it new ones are dropped
  /// and counted (the disk cannot keep up).
  static constexpr size_t max_pending_records = 65536;

  state_writer(std::shared_ptr<state_store> store,
               std::chrono::milliseconds interval);

  /// Writes what is pending, then stops.
  ~state_writer();

  state_writer(const state_writer&) = delete;
  state_writer& operator=(const state_writer&) = delete;

  /// A task's profile moved (nullptr: the task is forgotten).
  void profile(const std::string& task, const profile_snapshot* x);

  /// An invocation's record, new or changed (the latest of an id wins).
  void record(invocation_record r);

  /// Runs `job` on the writer's thread with the store, after everything
  /// handed over before it is written. A job that throws is reported on
  /// stderr (jobs catch what they expect).
  void run(std::function<void(state_store&)> job);

  /// Writes everything handed over so far, and waits for it.
  void flush();

  state_store& store() noexcept {
    return *store_;
  }

  /// Records dropped because too many were waiting.
  uint64_t dropped_records() const noexcept {
    return dropped_;
  }

  /// Transactions that wrote batches.
  uint64_t batches() const noexcept {
    return batches_;
  }

private:
  void loop();
  void write_batch(std::unique_lock<std::mutex>& guard);

  std::shared_ptr<state_store> store_;
  std::chrono::milliseconds interval_;
  std::mutex mtx_;
  std::condition_variable wake_;
  std::condition_variable written_;
  bool stopping_ = false;
  bool flush_wanted_ = false;
  std::map<std::string, std::optional<profile_snapshot>> profiles_;
  std::unordered_map<uint64_t, size_t> record_index_;
  std::vector<invocation_record> records_;
  std::deque<std::function<void(state_store&)>> jobs_;
  /// Handed-over and written generations (flush waits for the first).
  uint64_t handed_ = 0;
  uint64_t done_ = 0;
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> batches_{0};
  std::thread thread_;
};

} // namespace augur
