#include "augur/runtime/state/state_writer.hpp"

#include <iostream>

namespace augur {

state_writer::state_writer(std::shared_ptr<state_store> store,
                           std::chrono::milliseconds interval)
  : store_(std::move(store)), interval_(interval) {
  thread_ = std::thread{[this] {
    loop();
  }};
}

state_writer::~state_writer() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void state_writer::profile(const std::string& task, const profile_snapshot* x) {
  std::lock_guard<std::mutex> guard{mtx_};
  profiles_[task] = x != nullptr ? std::optional<profile_snapshot>{*x}
                                 : std::nullopt;
  ++handed_;
}

void state_writer::record(invocation_record r) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = record_index_.find(r.id); i != record_index_.end()) {
    records_[i->second] = std::move(r);
  } else if (records_.size() >= max_pending_records) {
    ++dropped_;
    return;
  } else {
    record_index_.emplace(r.id, records_.size());
    records_.push_back(std::move(r));
  }
  ++handed_;
  // A full batch goes out without waiting for the interval.
  if (records_.size() == 1024)
    wake_.notify_one();
}

void state_writer::run(std::function<void(state_store&)> job) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    jobs_.push_back(std::move(job));
    ++handed_;
  }
  wake_.notify_one();
}

void state_writer::flush() {
  std::unique_lock<std::mutex> guard{mtx_};
  auto target = handed_;
  flush_wanted_ = true;
  wake_.notify_one();
  written_.wait(guard, [&] { return done_ >= target; });
}

void state_writer::write_batch(std::unique_lock<std::mutex>& guard) {
  auto profiles = std::move(profiles_);
  auto records = std::move(records_);
  profiles_.clear();
  records_.clear();
  record_index_.clear();
  if (profiles.empty() && records.empty())
    return;
  guard.unlock();
  try {
    std::vector<std::pair<std::string, std::optional<profile_snapshot>>> xs(
      std::make_move_iterator(profiles.begin()),
      std::make_move_iterator(profiles.end()));
    store_->put_profiles(xs);
    if (!records.empty())
      store_->put_records(records, wall_clock_ms());
    ++batches_;
  } catch (const std::exception& e) {
    std::cerr << "augur: " << store_->path()
              << ": cannot write profiles and records: " << e.what()
              << std::endl;
  }
  guard.lock();
}

void state_writer::loop() {
  std::unique_lock<std::mutex> guard{mtx_};
  for (;;) {
    wake_.wait_for(guard, interval_, [&] {
      return stopping_ || !jobs_.empty() || records_.size() >= 1024
             || flush_wanted_;
    });
    flush_wanted_ = false;
    // Everything handed over up to now is written before the jobs run.
    auto target = handed_;
    write_batch(guard);
    while (!jobs_.empty()) {
      // What was handed over while the lock was let go (the batch above,
      // an earlier job) goes first: a record handed over just before a job
      // is written when the job runs.
      write_batch(guard);
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      guard.unlock();
      try {
        job(*store_);
      } catch (const std::exception& e) {
        std::cerr << "augur: " << store_->path() << ": " << e.what()
                  << std::endl;
      }
      guard.lock();
    }
    done_ = std::max(done_, target);
    written_.notify_all();
    if (stopping_ && profiles_.empty() && records_.empty() && jobs_.empty())
      return;
  }
}

} // namespace augur
