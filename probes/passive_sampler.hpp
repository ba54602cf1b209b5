#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "augur/messages/protocol.hpp"

namespace augur {

/// Which of what an instance's executions saw of a service goes to the
/// host's probe: every transfer long enough to tell a throughput
/// (`min_transfer_bytes`), and a first response (an RTT sample) at most once
/// per `interval_ms` per service. The RTT samples are the first execution
/// after each interval, whatever it saw: an unbiased sample of the path that
/// keeps the estimate fresh between probes without a message per execution.
/// A first response includes the service's own time to answer: an RTT from
/// the execution's side, as its calls pay it.
class passive_sampler {
public:
  explicit passive_sampler(double interval_ms = 0,
                           uint64_t min_transfer_bytes = 16384)
    : interval_ms_(interval_ms), min_transfer_bytes_(min_transfer_bytes) {
    // nop
  }

  /// True when `x`, seen at `now_ms`, goes to the probe.
  bool take(const service_use& x, double now_ms) {
    if (x.transfer_bytes >= min_transfer_bytes_ && x.transfer_ms > 0)
      return true;
    if (!(x.first_response_ms >= 0))
      return false;
    auto [i, fresh] = last_ms_.try_emplace(x.service, now_ms);
    if (fresh)
      return true;
    if (now_ms - i->second < interval_ms_)
      return false;
    i->second = now_ms;
    return true;
  }

private:
  double interval_ms_;
  uint64_t min_transfer_bytes_;
  /// One entry per service the host's executions use: as many as the
  /// cluster has services.
  std::unordered_map<std::string, double> last_ms_;
};

} // namespace augur
