#pragma once

#include <algorithm>
#include <cmath>

namespace augur {

/// Smoothed round-trip time and its variance, as RFC 6298 (section 2) keeps
/// them for TCP's retransmission timer: the first sample R sets SRTT = R and
/// RTTVAR = R/2; each later sample moves RTTVAR by beta = 1/4 towards
/// |SRTT - R| and then SRTT by alpha = 1/8 towards R. All values are in
/// milliseconds.
class rtt_estimator {
public:
  static constexpr double alpha = 1.0 / 8;
  static constexpr double beta = 1.0 / 4;

  /// Adds one measured round trip.
  void add(double rtt_ms) {
    if (samples_ == 0) {
      srtt_ = rtt_ms;
      rttvar_ = rtt_ms / 2;
    } else {
      rttvar_ = (1 - beta) * rttvar_ + beta * std::fabs(srtt_ - rtt_ms);
      srtt_ = (1 - alpha) * srtt_ + alpha * rtt_ms;
    }
    ++samples_;
  }

  /// Restarts the estimate at a new level (a confirmed level shift): the
  /// old samples no longer describe the channel.
  void restart(double srtt_ms, double rttvar_ms) {
    srtt_ = srtt_ms;
    rttvar_ = rttvar_ms;
    ++samples_;
  }

  /// Smoothed RTT (0 before the first sample).
  double srtt() const noexcept {
    return srtt_;
  }

  /// RTT variance (0 before the first sample).
  double rttvar() const noexcept {
    return rttvar_;
  }

  /// RFC 6298's retransmission timeout SRTT + 4 RTTVAR, at least `floor_ms`.
  double rto(double floor_ms = 1.0) const noexcept {
    return std::max(srtt_ + 4 * rttvar_, floor_ms);
  }

  unsigned long samples() const noexcept {
    return samples_;
  }

private:
  double srtt_ = 0;
  double rttvar_ = 0;
  unsigned long samples_ = 0;
};

} // namespace augur
