#pragma once

#include <limits>

#include "augur/messages/protocol.hpp"

namespace augur {

/// Turns a channel estimate into one number: the expected cost, in
/// milliseconds, of one round trip to the service over that channel. Lower
/// is better; a channel that is down, or was never measured, costs infinity.
///
///   cost = SRTT + RTTVAR                       (latency and its jitter)
///        + loss / (1 - loss) * RTO             (expected retransmissions,
///                                               RTO = max(SRTT + 4 RTTVAR,
///                                               min_rto), TCP's timer)
///        + (1 - 2^(-overdue / stale_half_life)) * stale_penalty
///
/// and moving `bytes` over it costs bytes / throughput on top (`transfer_ms`).
///
/// The last term is staleness: an estimate loses confidence once it is
/// overdue (older than `fresh_ms`, two probe intervals: the next probe
/// should have answered), so an old good measurement does not beat a fresh
/// one by much. Before that an estimate is as good as new: which host was
/// probed last must not decide where a task runs.
class channel_quality {
public:
  /// Tunables of the score.
  struct settings {
    /// Age up to which an estimate counts as fresh.
    double fresh_ms = 0;
    /// Age beyond `fresh_ms` at which half the staleness penalty applies.
    double stale_half_life_ms = 1000;
    /// The penalty of a fully stale estimate.
    double stale_penalty_ms = 10;
    /// Loss is capped below 1 so that the cost stays finite while the link
    /// is still up.
    double max_loss = 0.95;
    /// TCP's minimum retransmission timeout (Linux: 200 ms): what a lost
    /// packet costs on a fast link.
    double min_rto_ms = 200;
    /// Throughput assumed for a channel whose transfers were never measured
    /// (Mbit/s): optimistic, so that an untried channel is tried rather
    /// than ruled out by a guess.
    double assumed_mbps = 10000;
  };

  channel_quality() = default;

  explicit channel_quality(settings cfg) : cfg_(cfg) {
    // nop
  }

  static constexpr double unusable = std::numeric_limits<double>::infinity();

  /// Expected cost of one round trip, given the sample and how long ago (in
  /// milliseconds) the sample's measurement was taken.
  double cost_ms(const channel_sample& x, double age_ms) const;

  /// Time to move `bytes` over the channel at its learned throughput (or
  /// the assumed one before any transfer was measured).
  double transfer_ms(const channel_sample& x, double bytes) const;

  /// The same for a channel never sampled at all.
  double transfer_ms(double bytes) const;

  const settings& config() const noexcept {
    return cfg_;
  }

private:
  settings cfg_;
};

} // namespace augur
