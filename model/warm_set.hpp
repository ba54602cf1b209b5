#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace augur {

/// The tasks an instance keeps initialized, most recent first, at most
/// `capacity` of them: running a task not in the set is a cold start and
/// evicts the least recently used one when full.
class warm_set {
public:
  explicit warm_set(size_t capacity = 8) : capacity_(capacity) {
    // nop
  }

  bool contains(const std::string& task) const {
    return std::find(tasks_.begin(), tasks_.end(), task) != tasks_.end();
  }

  /// Marks `task` as just used. Returns true if it was cold.
  bool touch(const std::string& task) {
    auto i = std::find(tasks_.begin(), tasks_.end(), task);
    if (i != tasks_.end()) {
      std::rotate(tasks_.begin(), i, i + 1);
      return false;
    }
    if (capacity_ == 0)
      return true;
    if (tasks_.size() == capacity_)
      tasks_.pop_back();
    tasks_.insert(tasks_.begin(), task);
    return true;
  }

  const std::vector<std::string>& tasks() const noexcept {
    return tasks_;
  }

  size_t capacity() const noexcept {
    return capacity_;
  }

private:
  size_t capacity_;
  std::vector<std::string> tasks_;
};

} // namespace augur
