#pragma once

// A real Redis server on loopback for the tests: started on a free port,
// stopped at the end.

#include <csignal>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

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

class redis_server {
public:
  redis_server() : port_(free_port()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      auto port = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(),
               "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--logfile", "/dev/null", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (pid_ < 0)
      throw std::runtime_error("cannot fork redis-server");
    // Ready when it answers PING: poll the real condition, bounded.
    for (int attempt = 0; attempt < 500; ++attempt) {
      try {
        if (redis_command(port_, "PING") == "+PONG")
          return;
      } catch (const std::exception&) {
        // not listening yet
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_)
        throw std::runtime_error("redis-server exited at start");
      ::usleep(10000);
    }
    stop();
    throw std::runtime_error("redis-server did not answer PING");
  }

  ~redis_server() {
    stop();
  }

  uint16_t port() const noexcept {
    return port_;
  }

  std::string endpoint() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

private:
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  uint16_t port_;
  pid_t pid_ = -1;
};

} // namespace augur::test
