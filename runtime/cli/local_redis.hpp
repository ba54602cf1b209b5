#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace augur {

/// A Redis server (Debian's `redis-server`) on a free loopback port, for the
/// demo: started by the constructor, ready when it returns (it answered
/// PING), stopped by the destructor. Throws `std::runtime_error` with a
/// clear message when it cannot start.
class local_redis {
public:
  local_redis();
  ~local_redis();

  local_redis(const local_redis&) = delete;
  local_redis& operator=(const local_redis&) = delete;

  uint16_t port() const noexcept {
    return port_;
  }

  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

private:
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

} // namespace augur
