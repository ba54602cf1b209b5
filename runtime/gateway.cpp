#include "augur/runtime/gateway.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "augur/model/network_emulator.hpp"

namespace augur {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

gateway::~gateway() = default;

std::string service_env_name(const std::string& service) {
  std::string result = "AUGUR_SERVICE_";
  for (unsigned char c : service)
    result += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  return result;
}

std::pair<std::string, uint16_t> split_endpoint(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size())
    throw std::invalid_argument("endpoint '" + endpoint
                                + "' is not host:port");
  auto port = std::stoul(endpoint.substr(colon + 1));
  if (port == 0 || port > 65535)
    throw std::invalid_argument("endpoint '" + endpoint + "': bad port");
  return {endpoint.substr(0, colon), static_cast<uint16_t>(port)};
}

namespace {

class gateway_impl;

/// One relayed connection: client <-> gateway <-> service.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(std::shared_ptr<gateway_impl> gw, tcp::socket client);

  void start();
  void close();

private:
  void pump(bool upstream);
  void fail();

  std::shared_ptr<gateway_impl> gw_;
  tcp::socket client_;
  tcp::socket server_;
  asio::steady_timer up_timer_;
  asio::steady_timer down_timer_;
  std::array<char, 16384> up_buf_;
  std::array<char, 16384> down_buf_;
  clock_type::time_point up_release_;
  clock_type::time_point down_release_;
  bool awaiting_response_ = false;
  clock_type::time_point request_start_;
  bool closed_ = false;
};

class gateway_impl : public gateway,
                     public std::enable_shared_from_this<gateway_impl> {
public:
  gateway_impl(asio::io_context& io, std::string service, tcp::endpoint up,
               link_source link, uint64_t seed)
    : io_(io),
      acceptor_(io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}),
      upstream_(up),
      link_(std::move(link)),
      rng_(seed) {
    counts_.service = std::move(service);
  }

  uint16_t port() const override {
    return port_;
  }

  service_use counts() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return counts_;
  }

  double first_response_ms() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return first_response_ms_;
  }

  uint32_t connections() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return connections_count_;
  }

  uint32_t upstream_failures() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return failures_;
  }

  void close() override {
    auto self = shared_from_this();
    asio::post(io_, [self] {
      self->closed_ = true;
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
      for (auto& c : self->connections_)
        if (auto p = c.lock())
          p->close();
      self->connections_.clear();
    });
  }

  void start() {
    port_ = acceptor_.local_endpoint().port();
    accept();
  }

  asio::io_context& io() {
    return io_;
  }

  const tcp::endpoint& upstream() const {
    return upstream_;
  }

  /// The one-way delay of the next chunk, as the link now is.
  clock_type::duration delay() {
    auto l = link_ ? link_() : link_spec{};
    double ms = l.rtt_ms / 2;
    if (l.jitter_ms > 0)
      ms = std::max(0.0,
                    std::normal_distribution<double>{ms, l.jitter_ms / 2}(rng_));
    if (l.loss > 0
        && std::bernoulli_distribution{std::min(l.loss, 1.0)}(rng_))
      ms += std::max(3 * l.rtt_ms, network_emulator::min_rto_ms);
    return std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double, std::milli>{ms});
  }

  void add_request(size_t bytes, bool new_round_trip) {
    std::lock_guard<std::mutex> guard{mtx_};
    counts_.bytes_out += bytes;
    if (new_round_trip)
      ++counts_.round_trips;
  }

  void add_response(size_t bytes) {
    std::lock_guard<std::mutex> guard{mtx_};
    counts_.bytes_in += bytes;
  }

  void add_wait(double ms) {
    std::lock_guard<std::mutex> guard{mtx_};
    counts_.aux_ms += ms;
    if (first_response_ms_ < 0)
      first_response_ms_ = ms;
  }

  void add_failure() {
    std::lock_guard<std::mutex> guard{mtx_};
    ++failures_;
  }

  void connected() {
    std::lock_guard<std::mutex> guard{mtx_};
    ++connections_count_;
  }

private:
  void accept() {
    auto self = shared_from_this();
    acceptor_.async_accept([self](auto ec, tcp::socket s) {
      if (ec || self->closed_)
        return;
      auto c = std::make_shared<connection>(self, std::move(s));
      self->connections_.push_back(c);
      c->start();
      self->accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  tcp::endpoint upstream_;
  link_source link_;
  std::mt19937_64 rng_;
  uint16_t port_ = 0;
  bool closed_ = false;
  std::vector<std::weak_ptr<connection>> connections_;
  mutable std::mutex mtx_;
  service_use counts_;
  double first_response_ms_ = -1;
  uint32_t failures_ = 0;
  uint32_t connections_count_ = 0;
};

connection::connection(std::shared_ptr<gateway_impl> gw, tcp::socket client)
  : gw_(std::move(gw)),
    client_(std::move(client)),
    server_(gw_->io()),
    up_timer_(gw_->io()),
    down_timer_(gw_->io()) {
  // nop
}

void connection::start() {
  auto self = shared_from_this();
  server_.async_connect(gw_->upstream(), [self](auto ec) {
    if (ec) {
      self->gw_->add_failure();
      self->close();
      return;
    }
    self->gw_->connected();
    self->pump(true);
    self->pump(false);
  });
}

void connection::close() {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ignored;
  client_.close(ignored);
  server_.close(ignored);
  up_timer_.cancel();
  down_timer_.cancel();
}

void connection::fail() {
  close();
}

// Reads a chunk from one side, holds it for the link's one-way delay (in
// order: never before the previous chunk), writes it to the other side.
void connection::pump(bool upstream) {
  auto self = shared_from_this();
  auto& from = upstream ? client_ : server_;
  auto& buf = upstream ? up_buf_ : down_buf_;
  from.async_read_some(asio::buffer(buf), [self, upstream](auto ec, size_t n) {
    if (ec) {
      self->fail();
      return;
    }
    auto now = clock_type::now();
    if (upstream) {
      bool fresh = !self->awaiting_response_;
      if (fresh) {
        self->awaiting_response_ = true;
        self->request_start_ = now;
      }
      self->gw_->add_request(n, fresh);
    } else {
      self->gw_->add_response(n);
    }
    auto& release = upstream ? self->up_release_ : self->down_release_;
    release = std::max(release, now + self->gw_->delay());
    auto& timer = upstream ? self->up_timer_ : self->down_timer_;
    timer.expires_at(release);
    timer.async_wait([self, upstream, n](auto ec) {
      if (ec || self->closed_)
        return;
      auto& to = upstream ? self->server_ : self->client_;
      auto& buf = upstream ? self->up_buf_ : self->down_buf_;
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, upstream](auto ec, size_t) {
                          if (ec) {
                            self->fail();
                            return;
                          }
                          if (!upstream && self->awaiting_response_) {
                            // The response reached the client: one round
                            // trip done.
                            self->awaiting_response_ = false;
                            self->gw_->add_wait(
                              std::chrono::duration<double, std::milli>(
                                clock_type::now() - self->request_start_)
                                .count());
                          }
                          self->pump(upstream);
                        });
    });
  });
}

} // namespace

std::shared_ptr<gateway> gateway::open(asio::io_context& io,
                                       std::string service,
                                       std::string upstream_host,
                                       uint16_t upstream_port,
                                       link_source link, uint64_t seed) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(upstream_host, ec);
  if (ec) {
    // A name: resolve it once, now.
    tcp::resolver resolver{io};
    auto results = resolver.resolve(upstream_host,
                                    std::to_string(upstream_port), ec);
    if (ec || results.empty())
      throw std::runtime_error("cannot resolve " + upstream_host);
    addr = results.begin()->endpoint().address();
  }
  auto gw = std::make_shared<gateway_impl>(
    io, std::move(service), tcp::endpoint{addr, upstream_port},
    std::move(link), seed);
  gw->start();
  return gw;
}

} // namespace augur
