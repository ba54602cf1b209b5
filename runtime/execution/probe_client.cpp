#include "augur/runtime/execution/probe_client.hpp"

#include <chrono>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "augur/model/network_emulator.hpp"

namespace augur {

const char* to_string(probe_kind x) {
  return x == probe_kind::redis ? "redis" : "tcp";
}

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

/// One measurement: a socket, a deadline, and a handler called once.
struct attempt : std::enable_shared_from_this<attempt> {
  attempt(asio::io_context& io, measurement_handler f)
    : socket(io), deadline(io), done(std::move(f)) {
    // nop
  }

  tcp::socket socket;
  asio::steady_timer deadline;
  asio::streambuf buf;
  measurement_handler done;
  clock_type::time_point start;

  void finish(bool ok, double ms) {
    if (!done)
      return;
    auto f = std::move(done);
    done = nullptr;
    boost::system::error_code ignored;
    deadline.cancel();
    socket.close(ignored);
    f(ok, ms);
  }

  void arm(double timeout_ms) {
    auto self = shared_from_this();
    deadline.expires_after(std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double, std::milli>{timeout_ms}));
    deadline.async_wait([self](auto ec) {
      if (!ec)
        self->finish(false, 0);
    });
  }

  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start)
      .count();
  }
};

} // namespace

void measure_redis_ping(asio::io_context& io, uint16_t port, double timeout_ms,
                        measurement_handler done) {
  auto a = std::make_shared<attempt>(io, std::move(done));
  asio::post(io, [a, port, timeout_ms] {
    a->arm(timeout_ms);
    a->socket.async_connect(
      {asio::ip::make_address("127.0.0.1"), port}, [a](auto ec) {
        if (ec) {
          a->finish(false, 0);
          return;
        }
        a->start = clock_type::now();
        static const std::string ping = "PING\r\n";
        asio::async_write(a->socket, asio::buffer(ping), [a](auto ec, size_t) {
          if (ec) {
            a->finish(false, 0);
            return;
          }
          asio::async_read_until(
            a->socket, a->buf, "\r\n", [a](auto ec, size_t n) {
              if (ec) {
                a->finish(false, 0);
                return;
              }
              std::string line{asio::buffers_begin(a->buf.data()),
                               asio::buffers_begin(a->buf.data()) + n};
              a->finish(line == "+PONG\r\n", a->elapsed_ms());
            });
        });
      });
  });
}

void measure_tcp_connect(asio::io_context& io, const std::string& host,
                         uint16_t port, link_source link, double timeout_ms,
                         measurement_handler done) {
  auto a = std::make_shared<attempt>(io, std::move(done));
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    asio::post(io, [a] { a->finish(false, 0); });
    return;
  }
  asio::post(io, [a, addr, port, link, timeout_ms] {
    a->arm(timeout_ms);
    a->start = clock_type::now();
    a->socket.async_connect({addr, port}, [a, link](auto ec) {
      if (ec) {
        a->finish(false, 0);
        return;
      }
      // The emulated link's part of a round trip: wait it out, so that the
      // deadline applies to it as to a real one.
      auto l = link ? link() : link_spec{};
      auto extra = l.rtt_ms;
      a->socket.close();
      auto wait
        = std::make_shared<asio::steady_timer>(a->socket.get_executor());
      wait->expires_after(std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double, std::milli>{extra}));
      wait->async_wait([a, wait](auto) { a->finish(true, a->elapsed_ms()); });
    });
  });
}

} // namespace augur
