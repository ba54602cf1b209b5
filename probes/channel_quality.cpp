#include "augur/probes/channel_quality.hpp"

#include <algorithm>
#include <cmath>

namespace augur {

double channel_quality::cost_ms(const channel_sample& x, double age_ms) const {
  if (!x.up || x.probes == 0)
    return unusable;
  auto loss = std::clamp(x.loss, 0.0, cfg_.max_loss);
  auto rto = std::max(x.srtt_ms + 4 * x.rttvar_ms, cfg_.min_rto_ms);
  auto overdue = std::max(age_ms - cfg_.fresh_ms, 0.0);
  auto staleness
    = 1 - std::exp2(-overdue / std::max(cfg_.stale_half_life_ms, 1e-9));
  return x.srtt_ms + x.rttvar_ms + loss / (1 - loss) * rto
         + staleness * cfg_.stale_penalty_ms;
}

double channel_quality::transfer_ms(double bytes) const {
  return transfer_time_ms(bytes, cfg_.assumed_mbps);
}

double channel_quality::transfer_ms(const channel_sample& x,
                                    double bytes) const {
  return x.throughput_mbps > 0 ? transfer_time_ms(bytes, x.throughput_mbps)
                               : transfer_ms(bytes);
}

} // namespace augur
