#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "augur/messages/protocol.hpp"
#include "augur/probes/channel_quality.hpp"

namespace augur {

/// The latest sample of every channel (host to service) that probes have
/// published, and what a round trip over each costs now. The frontend keeps
/// one for every host, an instance one for its own host.
///
/// A sample carries its age when it was sent; the table adds the time since
/// it arrived, so a channel whose probe went quiet grows stale here too.
class channel_table {
public:
  channel_table() = default;

  explicit channel_table(channel_quality quality) : quality_(quality) {
    // nop
  }

  /// Keeps `x` as the latest sample of its channel, received at `now_ms`.
  void update(channel_sample x, double now_ms);

  /// Expected cost of one round trip from `host` to `service` at `now_ms`
  /// (`channel_quality::unusable` for a channel never sampled).
  double cost_ms(const std::string& host, const std::string& service,
                 double now_ms) const;

  /// Time to move `bytes` from `host` to `service` and back, at the
  /// channel's learned throughput (`channel_quality::transfer_ms`).
  double transfer_ms(const std::string& host, const std::string& service,
                     double bytes) const;

  /// The latest sample of every channel.
  std::vector<channel_sample> samples() const;

  const channel_quality& quality() const noexcept {
    return quality_;
  }

private:
  struct entry {
    channel_sample sample;
    double received_ms = 0;
  };

  /// The entry of the channel from `host` to `service`, or nullptr.
  const entry* find(const std::string& host, const std::string& service) const;

  channel_quality quality_;
  /// service -> host -> latest sample.
  std::unordered_map<std::string, std::unordered_map<std::string, entry>>
    channels_;
};

} // namespace augur
