#include "augur/runtime/cli/local_redis.hpp"

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace augur {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

bool answers_ping(uint16_t port) {
  try {
    asio::io_context io;
    tcp::socket s{io};
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(s, asio::buffer(std::string{"PING\r\n"}));
    asio::streambuf buf;
    asio::read_until(s, buf, "\r\n");
    std::string line{asio::buffers_begin(buf.data()),
                     asio::buffers_end(buf.data())};
    return line == "+PONG\r\n";
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace

local_redis::local_redis() {
  {
    asio::io_context io;
    tcp::acceptor a{io, {asio::ip::make_address("127.0.0.1"), 0}};
    port_ = a.local_endpoint().port();
  }
  auto port = std::to_string(port_);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--logfile",
             "/dev/null", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid_ < 0)
    throw std::runtime_error("cannot start redis-server (fork failed)");
  // Ready when it answers PING (bounded: 10 s).
  for (int i = 0; i < 1000; ++i) {
    if (answers_ping(port_))
      return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(
        "redis-server did not start (is Debian's redis-server installed? "
        "scripts/install-deps installs it)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  throw std::runtime_error("redis-server did not answer PING within 10 s");
}

local_redis::~local_redis() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

} // namespace augur
