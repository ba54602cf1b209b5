#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/probes/level_shift.hpp"
#include "augur/probes/loss_window.hpp"
#include "augur/probes/rtt_estimator.hpp"

namespace augur {

/// Everything a probe knows about one host-service channel: smoothed RTT and
/// variance (RFC 6298), loss over a window, when it last succeeded, and
/// whether it is down (`down_after` consecutive failures mark it down; one
/// success brings it back up). When a few consecutive samples agree on a
/// level far from the smoothed RTT (`level_shift`), the RTT estimate restarts
/// at that level, so a degradation and a recovery are both followed within a
/// few probes. If the level also differs from the median of the samples
/// before them, the path itself changed (`shifts`): its old losses are
/// forgotten too; otherwise the smoothed RTT had only been pulled away by a
/// transient (a spike) and is set right (`resyncs`). Times are in
/// milliseconds on the caller's clock.
class channel_estimator {
public:
  explicit channel_estimator(size_t loss_window_size = 20,
                             size_t down_after = 3)
    : loss_(loss_window_size), down_after_(down_after) {
    // nop
  }

  /// Records a probe that came back after `rtt_ms`, at time `now_ms`.
  void success(double rtt_ms, double now_ms) {
    add_rtt(rtt_ms, now_ms);
    loss_.add(false);
    last_probe_ms_ = rtt_ms;
    last_probe_at_ = now_ms;
  }

  /// Records what one execution saw of the service (passively, through its
  /// gateway or the emulator): its first response time as an RTT sample,
  /// and its transfers as a throughput sample when they moved at least
  /// `min_transfer_bytes`. Losses stay the active probes' to judge.
  ///
  /// A first response also holds the service's own time to answer that
  /// request, which a probe's does not: the estimator learns it (the
  /// passive samples' excess over the latest probe, no older than
  /// `service_time_max_age_ms`, weighted 1/8 to the newest) and takes it
  /// off, so that the instances executions run on do not look farther
  /// from the service than those only probed.
  void passive(const service_use& x, double now_ms);

  /// What the service's answer to a first request adds to the round trip,
  /// as learned so far (0 before). The mean excess is kept as it is
  /// (jitter makes it negative as often as positive) and only its use is
  /// bounded below by 0.
  double service_time_ms() const noexcept {
    return std::max(service_time_ms_, 0.0);
  }

  /// A probe older than this says too little of the path to learn a
  /// service time from.
  static constexpr double service_time_max_age_ms = 2000;

  /// Throughput learned from transfers, in bytes per millisecond: the
  /// largest of the last `throughput_window` samples not older than
  /// `throughput_max_age_ms` at `now_ms` (a windowed maximum, as BBR
  /// estimates a bottleneck: a transfer can be slower than its path, never
  /// faster), 0 when there is none.
  double throughput(double now_ms) const noexcept;

  /// Throughput samples kept, and the least bytes that make one.
  static constexpr size_t throughput_window = 8;
  /// Throughput samples older than this are forgotten: a channel nobody
  /// moves bytes over any more (it measured slow, so it is avoided) goes
  /// back to the assumed throughput and gets tried again.
  static constexpr double throughput_max_age_ms = 300000;
  static constexpr uint64_t min_transfer_bytes = 16384;
  /// The shortest transfer time a sample counts: a transfer that took less
  /// (none at all, on a channel faster than anything can time) says the
  /// channel is at least that fast, not that it is unknown (which would
  /// leave it at the assumed throughput, no better than a slower channel).
  static constexpr double min_transfer_ms = 0.001;

  /// After how many of a transfer's `bytes` a passive monitor takes an
  /// early throughput sample, as TCP's delivery rate tells a path's
  /// bandwidth from its first acknowledged bytes (BBR): an eighth of them,
  /// at least `min_transfer_bytes` and at most `early_sample_max_bytes`; 0
  /// when that is more than half of them (the sample at the transfer's end
  /// comes soon enough).
  static uint64_t early_sample_bytes(uint64_t bytes) noexcept {
    auto early = std::max(min_transfer_bytes,
                          std::min(bytes / 8, early_sample_max_bytes));
    return early <= bytes / 2 ? early : 0;
  }
  static constexpr uint64_t early_sample_max_bytes = 1 << 20;

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

  /// Changes of the path's level followed so far.
  size_t shifts() const noexcept {
    return shifts_;
  }

  /// Times the smoothed RTT was set right after a transient.
  size_t resyncs() const noexcept {
    return resyncs_;
  }

  /// Raw samples kept to tell a new level from a transient.
  static constexpr size_t recent_size = 8;

  /// Samples before the estimate is trusted enough to judge shifts.
  static constexpr unsigned long min_samples_for_shift = 4;

private:
  void add_rtt(double rtt_ms, double now_ms);
  void restart(const std::vector<double>& run);

  /// Throughput samples (bytes/ms) and when they were taken.
  std::deque<std::pair<double, double>> throughputs_;

  level_shift shift_;
  std::deque<double> recent_;
  size_t shifts_ = 0;
  size_t resyncs_ = 0;
  rtt_estimator rtt_;
  loss_window loss_;
  size_t down_after_;
  double last_success_ms_ = 0;
  bool ever_succeeded_ = false;
  /// The latest probe's RTT and when it came (negative: none yet).
  double last_probe_ms_ = -1;
  double last_probe_at_ = 0;
  double service_time_ms_ = 0;
};

} // namespace augur
