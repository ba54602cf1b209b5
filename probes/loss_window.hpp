#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace augur {

/// Fraction of probes lost among the last `size` probes, and the current run
/// of consecutive failures.
class loss_window {
public:
  explicit loss_window(size_t size = 20) : outcomes_(size == 0 ? 1 : size) {
    // nop
  }

  /// Records one probe: `lost` is true when no answer came in time.
  void add(bool lost) {
    auto& slot = outcomes_[next_];
    if (filled_ == outcomes_.size())
      lost_ -= slot ? 1 : 0;
    else
      ++filled_;
    slot = lost ? 1 : 0;
    lost_ += lost ? 1 : 0;
    next_ = (next_ + 1) % outcomes_.size();
    consecutive_failures_ = lost ? consecutive_failures_ + 1 : 0;
  }

  /// Forgets every probe (the channel changed: its old losses no longer
  /// describe it).
  void clear() {
    std::fill(outcomes_.begin(), outcomes_.end(), 0);
    next_ = filled_ = lost_ = consecutive_failures_ = 0;
  }

  /// Lost fraction of the probes in the window (0 when empty).
  double loss() const noexcept {
    return filled_ == 0 ? 0.0 : static_cast<double>(lost_) / filled_;
  }

  size_t consecutive_failures() const noexcept {
    return consecutive_failures_;
  }

  size_t size() const noexcept {
    return filled_;
  }

private:
  std::vector<uint8_t> outcomes_;
  size_t next_ = 0;
  size_t filled_ = 0;
  size_t lost_ = 0;
  size_t consecutive_failures_ = 0;
};

} // namespace augur
