#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace augur {

/// Collects samples (e.g. latencies in ms) and reports mean and percentiles.
class latency_stats {
public:
  void add(double x) {
    xs_.push_back(x);
    sorted_ = false;
  }

  size_t count() const noexcept {
    return xs_.size();
  }

  double mean() const {
    if (xs_.empty())
      return 0;
    double sum = 0;
    for (auto x : xs_)
      sum += x;
    return sum / xs_.size();
  }

  /// The p-th percentile (0 <= p <= 100), nearest rank; 0 when empty.
  double percentile(double p) const {
    if (xs_.empty())
      return 0;
    if (!sorted_) {
      std::sort(xs_.begin(), xs_.end());
      sorted_ = true;
    }
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * xs_.size()));
    return xs_[std::clamp<size_t>(rank, 1, xs_.size()) - 1];
  }

private:
  mutable std::vector<double> xs_;
  mutable bool sorted_ = true;
};

} // namespace augur
