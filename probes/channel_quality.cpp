#include "augur/probes/channel_quality.hpp"

#include <algorithm>
#include <cmath>

namespace augur {

double channel_quality::cost_ms(const channel_sample& x, double age_ms) const {
  if (!x.up || x.probes == 0)
    return unusable;
  auto loss = std::clamp(x.loss, 0.0, cfg_.max_loss);
  auto rto = std::max(x.srtt_ms + 4 * x.rttvar_ms, cfg_.min_rto_ms);
  auto staleness = 1
                   - std::exp2(-std::max(age_ms, 0.0)
                               / std::max(cfg_.stale_half_life_ms, 1e-9));
  return x.srtt_ms + x.rttvar_ms + loss / (1 - loss) * rto
         + staleness * cfg_.stale_penalty_ms;
}

double channel_quality::transfer_ms(double bytes) const {
  if (bytes <= 0)
    return 0;
  // Mbit/s to bytes per millisecond.
  return bytes / (std::max(cfg_.assumed_mbps, 1e-9) * 125);
}

double channel_quality::transfer_ms(const channel_sample& x,
                                    double bytes) const {
  if (bytes <= 0)
    return 0;
  if (!(x.throughput_mbps > 0))
    return transfer_ms(bytes);
  return bytes / (x.throughput_mbps * 125);
}

} // namespace augur
