#include "augur/runtime/execution/endpoint.hpp"

#include <stdexcept>

namespace augur {

endpoint parse_endpoint(std::string_view text, bool port_zero_ok) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("'" + std::string{text}
                                + "' is not host:port: " + why);
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    fail("no ':' before the port");
  auto host = text.substr(0, colon);
  auto port = text.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      fail("an IPv6 address needs its closing ']'");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    fail("an IPv6 address goes in brackets ([::1]:80)");
  }
  if (host.empty())
    fail("no host");
  if (port.empty())
    fail("no port");
  if (port.size() > 5 || port.find_first_not_of("0123456789") != port.npos)
    fail("the port must be a number from 1 to 65535");
  auto number = std::stoul(std::string{port});
  if (number > 65535 || (number == 0 && !port_zero_ok))
    fail("the port must be a number from 1 to 65535");
  return endpoint{std::string{host}, static_cast<uint16_t>(number)};
}

std::string to_string(const endpoint& x) {
  auto host = x.host.find(':') != std::string::npos ? "[" + x.host + "]"
                                                    : x.host;
  return host + ":" + std::to_string(x.port);
}

} // namespace augur
