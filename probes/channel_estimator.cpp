#include "augur/probes/channel_estimator.hpp"

#include <algorithm>
#include <limits>

namespace augur {

double channel_estimator::age_ms(double now_ms) const noexcept {
  if (!ever_succeeded_)
    return std::numeric_limits<double>::infinity();
  return std::max(now_ms - last_success_ms_, 0.0);
}

channel_sample channel_estimator::sample(const std::string& host,
                                         const std::string& service,
                                         double now_ms) const {
  channel_sample x;
  x.host = host;
  x.service = service;
  x.srtt_ms = rtt_.srtt();
  x.rttvar_ms = rtt_.rttvar();
  x.loss = loss_.loss();
  x.age_ms = ever_succeeded_ ? age_ms(now_ms) : 0;
  x.up = up();
  x.probes = rtt_.samples();
  return x;
}

} // namespace augur
