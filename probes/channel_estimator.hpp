#pragma once

#include <cstddef>
#include <string>

#include "augur/messages/protocol.hpp"
#include "augur/probes/loss_window.hpp"
#include "augur/probes/rtt_estimator.hpp"

namespace augur {

/// Everything a probe knows about one host-service channel: smoothed RTT and
/// variance (RFC 6298), loss over a window, when it last succeeded, and
/// whether it is down (`down_after` consecutive failures mark it down; one
/// success brings it back up). Times are in milliseconds on the caller's
/// clock.
class channel_estimator {
public:
  explicit channel_estimator(size_t loss_window_size = 20,
                             size_t down_after = 3)
    : loss_(loss_window_size), down_after_(down_after) {
    // nop
  }

  /// Records a probe that came back after `rtt_ms`, at time `now_ms`.
  void success(double rtt_ms, double now_ms) {
    rtt_.add(rtt_ms);
    loss_.add(false);
    last_success_ms_ = now_ms;
    ever_succeeded_ = true;
  }

  /// Records a probe that got no answer in time.
  void failure() {
    loss_.add(true);
  }

  bool up() const noexcept {
    return ever_succeeded_ && loss_.consecutive_failures() < down_after_;
  }

  /// Time since the last successful probe (infinite before the first).
  double age_ms(double now_ms) const noexcept;

  /// The estimate as a message for `host` and `service`.
  channel_sample sample(const std::string& host, const std::string& service,
                        double now_ms) const;

  const rtt_estimator& rtt() const noexcept {
    return rtt_;
  }

  const loss_window& losses() const noexcept {
    return loss_;
  }

private:
  rtt_estimator rtt_;
  loss_window loss_;
  size_t down_after_;
  double last_success_ms_ = 0;
  bool ever_succeeded_ = false;
};

} // namespace augur
