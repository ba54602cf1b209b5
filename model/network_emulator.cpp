#include "augur/model/network_emulator.hpp"

#include <algorithm>

namespace augur {

void network_emulator::set_link(const link_spec& x) {
  std::lock_guard<std::mutex> guard{mtx_};
  links_[{x.host, x.service}] = x;
}

std::optional<link_spec>
network_emulator::link(const std::string& host,
                       const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = links_.find({host, service});
  if (i == links_.end())
    return std::nullopt;
  return i->second;
}

double network_emulator::draw_rtt(const link_spec& x) {
  if (x.jitter_ms <= 0)
    return x.rtt_ms;
  std::normal_distribution<double> d{x.rtt_ms, x.jitter_ms};
  return std::max(d(rng_), 0.0);
}

std::optional<double> network_emulator::probe(const std::string& host,
                                              const std::string& service) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = links_.find({host, service});
  if (i == links_.end())
    return std::nullopt;
  auto& x = i->second;
  if (x.loss > 0 && std::bernoulli_distribution{std::min(x.loss, 1.0)}(rng_))
    return std::nullopt;
  return draw_rtt(x);
}

double network_emulator::transfer_ms(const link_spec& x, double bytes) {
  return transfer_time_ms(bytes, x.bandwidth_mbps);
}

double network_emulator::transfer_ms(const std::string& host,
                                     const std::string& service,
                                     double bytes) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = links_.find({host, service});
  return i == links_.end() ? 0 : transfer_ms(i->second, bytes);
}

network_emulator::exchange network_emulator::round_trip(
  const std::string& host, const std::string& service, uint32_t max_attempts) {
  std::lock_guard<std::mutex> guard{mtx_};
  exchange result;
  auto i = links_.find({host, service});
  if (i == links_.end())
    return result;
  auto& x = i->second;
  auto rto = std::max(3 * x.rtt_ms, min_rto_ms);
  while (result.attempts < max_attempts) {
    ++result.attempts;
    if (x.loss > 0
        && std::bernoulli_distribution{std::min(x.loss, 1.0)}(rng_)) {
      result.ms += rto;
      continue;
    }
    result.ms += draw_rtt(x);
    result.delivered = true;
    break;
  }
  return result;
}

} // namespace augur
