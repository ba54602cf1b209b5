#include "augur/probes/channel_estimator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace augur {

double channel_estimator::age_ms(double now_ms) const noexcept {
  if (!ever_succeeded_)
    return std::numeric_limits<double>::infinity();
  return std::max(now_ms - last_success_ms_, 0.0);
}

void channel_estimator::add_rtt(double rtt_ms, double now_ms) {
  if (rtt_.samples() >= min_samples_for_shift
      && shift_.add(rtt_ms, rtt_.srtt())) {
    restart(shift_.run());
  } else {
    rtt_.add(rtt_ms);
  }
  recent_.push_back(rtt_ms);
  if (recent_.size() > recent_size)
    recent_.pop_front();
  last_success_ms_ = now_ms;
  ever_succeeded_ = true;
}

void channel_estimator::passive(const service_use& x, double now_ms) {
  if (std::isfinite(x.first_response_ms) && x.first_response_ms >= 0) {
    if (last_probe_ms_ >= 0
        && now_ms - last_probe_at_ <= service_time_max_age_ms) {
      auto excess = x.first_response_ms - last_probe_ms_;
      service_time_ms_ += (excess - service_time_ms_) / 8;
    }
    add_rtt(std::max(x.first_response_ms - service_time_ms(), 0.0), now_ms);
  }
  if (x.transfer_bytes >= min_transfer_bytes && x.transfer_ms >= 0
      && std::isfinite(x.transfer_ms)) {
    throughputs_.emplace_back(static_cast<double>(x.transfer_bytes)
                                / std::max(x.transfer_ms, min_transfer_ms),
                              now_ms);
    if (throughputs_.size() > throughput_window)
      throughputs_.pop_front();
  }
}

double channel_estimator::throughput(double now_ms) const noexcept {
  double best = 0;
  for (auto [x, at] : throughputs_)
    if (now_ms - at <= throughput_max_age_ms)
      best = std::max(best, x);
  return best;
}

void channel_estimator::restart(const std::vector<double>& run) {
  // The new level is the mean of the samples that confirmed it; their mean
  // deviation (at least an eighth of the level) is the new variance.
  auto [mean, deviation] = mean_deviation(run);
  rtt_.restart(mean, std::max(deviation, mean / 8));
  // What came before the run (the run's samples but the last are in
  // `recent_` already): its median is the level the path had.
  std::vector<double> before(recent_.begin(), recent_.end());
  auto keep = before.size() > run.size() - 1 ? before.size() - (run.size() - 1)
                                             : 0;
  before.resize(keep);
  if (before.empty()) {
    ++resyncs_;
    return;
  }
  std::nth_element(before.begin(), before.begin() + before.size() / 2,
                   before.end());
  auto level = before[before.size() / 2];
  if (std::fabs(mean - level) > std::max(0.25 * level, 0.05)) {
    loss_.clear();
    ++shifts_;
  } else {
    ++resyncs_;
  }
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
  // bytes/ms to Mbit/s.
  x.throughput_mbps = throughput(now_ms) * 8 / 1000;
  return x;
}

} // namespace augur
