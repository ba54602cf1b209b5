#pragma once

#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace augur {

/// The mean of `xs` and their mean absolute deviation from it (both 0 for
/// none).
inline std::pair<double, double> mean_deviation(const std::vector<double>& xs) {
  if (xs.empty())
    return {0, 0};
  double mean = 0;
  for (auto x : xs)
    mean += x;
  mean /= static_cast<double>(xs.size());
  double deviation = 0;
  for (auto x : xs)
    deviation += std::fabs(x - mean);
  return {mean, deviation / static_cast<double>(xs.size())};
}

/// Tells a lasting change of a channel's RTT (a degradation, a recovery, a
/// new path) from noise, so that the estimator can follow it within a few
/// probes instead of the many that RFC 6298's smoothing (alpha = 1/8) takes.
///
/// A sample is *outside* when it differs from the current SRTT by more than
/// max(`relative` x SRTT, `floor_ms`). A shift is `confirm` consecutive
/// samples outside on the same side that also agree with each other: their
/// mean is further from SRTT than four times their own mean deviation. The
/// test deliberately ignores RTTVAR: a shift that the smoothing has half
/// absorbed inflates RTTVAR by the size of the shift itself, and would hide
/// the next one (a recovery right after a degradation).
class level_shift {
public:
  struct settings {
    size_t confirm = 3;
    double relative = 0.25;
    double floor_ms = 0.05;
  };

  level_shift() = default;

  explicit level_shift(settings cfg) : cfg_(cfg) {
    // nop
  }

  /// Judges `rtt_ms` against the current estimate `srtt_ms`. Returns true
  /// when it confirms a shift: the samples that confirmed it are then in
  /// `run()`, and the detector starts afresh.
  bool add(double rtt_ms, double srtt_ms) {
    auto band = std::fmax(cfg_.relative * srtt_ms, cfg_.floor_ms);
    auto deviation = rtt_ms - srtt_ms;
    if (std::fabs(deviation) <= band) {
      run_.clear();
      return false;
    }
    auto side = deviation > 0 ? 1 : -1;
    if (!run_.empty() && side != side_)
      run_.clear();
    side_ = side;
    run_.push_back(rtt_ms);
    if (run_.size() > cfg_.confirm)
      run_.erase(run_.begin());
    if (run_.size() < cfg_.confirm)
      return false;
    auto [mean, spread] = mean_deviation(run_);
    if (std::fabs(mean - srtt_ms) <= 4 * spread)
      return false; // outside, but scattered: noise
    confirmed_ = run_;
    run_.clear();
    return true;
  }

  /// The samples that confirmed the last shift.
  const std::vector<double>& run() const noexcept {
    return confirmed_;
  }

private:
  settings cfg_;
  int side_ = 0;
  std::vector<double> run_;
  std::vector<double> confirmed_;
};

} // namespace augur
