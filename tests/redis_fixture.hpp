#pragma once

// A real Redis server on loopback for the tests (the demo's launcher), and a
// minimal client to talk to it.

#include <stdexcept>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "augur/runtime/cli/local_redis.hpp"

namespace augur::test {

/// A port nobody listens on right now (the system's choice).
inline uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a{
    io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

/// Sends one inline Redis command and returns the first line of the reply
/// (throws on any socket error).
inline std::string redis_command(uint16_t port, const std::string& cmd) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s{io};
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(s, boost::asio::buffer(cmd + "\r\n"));
  boost::asio::streambuf buf;
  boost::asio::read_until(s, buf, "\r\n");
  std::string line{boost::asio::buffers_begin(buf.data()),
                   boost::asio::buffers_end(buf.data())};
  return line.substr(0, line.find("\r\n"));
}

/// The real Redis of the tests: the same launcher as the demo's.
using redis_server = augur::local_redis;

} // namespace augur::test
