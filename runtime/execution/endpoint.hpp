#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace augur {

/// Where a TCP peer is: a host (name or address) and a port.
struct endpoint {
  std::string host;
  uint16_t port = 0;
};

/// Parses `host:port`, the one syntax of every address augur reads (service
/// endpoints, `[api] listen`, node addresses): an IPv6 address goes in
/// brackets (`[::1]:8080`), the port is 1 to 65535 in decimal digits, or 0
/// when `port_zero_ok` (listen on a free port). Throws
/// `std::invalid_argument` saying what is wrong with `text`.
endpoint parse_endpoint(std::string_view text, bool port_zero_ok = false);

/// `host:port` again (IPv6 addresses in brackets).
std::string to_string(const endpoint& x);

} // namespace augur
