#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "augur/messages/protocol.hpp"

namespace augur {

/// The emulated network of the embedded and virtual modes: for every host
/// and service, a link with an RTT, a jitter (standard deviation of a normal
/// distribution around the RTT, cut at zero), a loss probability and a
/// bandwidth. It is
/// the physical world that probes measure and executions pay for, shared by
/// all actors of one cluster, so it is safe to use from several threads.
class network_emulator {
public:
  /// What one request/response exchange with a service cost.
  struct exchange {
    /// Total time, retransmissions included.
    double ms = 0;
    /// Attempts made (1 when nothing was lost).
    uint32_t attempts = 0;
    /// False when every attempt was lost.
    bool delivered = false;
  };

  /// TCP's minimum retransmission timeout (Linux: 200 ms).
  static constexpr double min_rto_ms = 200;

  explicit network_emulator(uint64_t seed = 1) : rng_(seed) {
    // nop
  }

  /// Sets (or replaces) a link.
  void set_link(const link_spec& x);

  /// The link from `host` to `service`, if any.
  std::optional<link_spec> link(const std::string& host,
                                const std::string& service) const;

  /// One probe: the measured RTT, or nothing when the probe was lost (or
  /// there is no such link).
  std::optional<double> probe(const std::string& host,
                              const std::string& service);

  /// One request/response exchange as a client over TCP would see it: a lost
  /// attempt costs a retransmission timeout of max(3 RTT, `min_rto_ms`)
  /// before the next try, at most `max_attempts` tries.
  exchange round_trip(const std::string& host, const std::string& service,
                      uint32_t max_attempts = 5);

  /// Time to move `bytes` over the link at its bandwidth (0 when the link
  /// is unlimited or absent).
  double transfer_ms(const std::string& host, const std::string& service,
                     double bytes) const;

  /// The same for a given link.
  static double transfer_ms(const link_spec& x, double bytes);

private:
  double draw_rtt(const link_spec& x);

  mutable std::mutex mtx_;
  std::mt19937_64 rng_;
  std::map<std::pair<std::string, std::string>, link_spec> links_;
};

} // namespace augur
