#include "augur/runtime/execution/gateway.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <unordered_map>

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

namespace {

class gateway_impl;

/// Bytes a direction holds before it stops reading from its sender (who then
/// feels TCP's backpressure, as behind a slow real link); it reads again once
/// half of them left.
constexpr size_t max_queued_bytes = size_t{1} << 20;

/// One relayed connection: client <-> gateway <-> service.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(std::shared_ptr<gateway_impl> gw, uint64_t id, tcp::socket client);

  void start();
  void close();

private:
  /// One way through the relay: chunks read, each released after the
  /// link's one-way delay and the time its bytes take at the link's
  /// bandwidth (never before the previous one), written in order.
  struct direction {
    explicit direction(asio::io_context& io) : timer(io) {
      // nop
    }
    asio::steady_timer timer;
    std::array<char, 16384> buf;
    std::deque<std::pair<clock_type::time_point, std::string>> queue;
    size_t queued_bytes = 0;
    clock_type::time_point last_release{};
    bool writing = false;
    /// Not reading: the queue is full.
    bool paused = false;
    /// True from this direction's first chunk until the other direction
    /// speaks: the chunks of one request or one response.
    bool in_burst = false;
  };

  void read(bool upstream);
  void write_next(bool upstream);
  void fail();

  std::shared_ptr<gateway_impl> gw_;
  uint64_t id_;
  tcp::socket client_;
  tcp::socket server_;
  direction up_;
  direction down_;
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
      auto open = std::move(self->connections_);
      self->connections_.clear();
      for (auto& [_, c] : open)
        if (auto p = c.lock())
          p->close();
    });
  }

  /// Connection `id` closed (I/O thread): the gateway forgets it, so that
  /// what it keeps stays as large as what is open.
  void closed(uint64_t id) {
    connections_.erase(id);
    open_.store(connections_.size());
  }

  size_t open_connections() const override {
    return open_.load();
  }

  size_t peak_queued_bytes() const override {
    return peak_queued_.load();
  }

  void queued(size_t bytes) {
    if (bytes > peak_queued_.load())
      peak_queued_.store(bytes);
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

  /// When a chunk of `bytes` that arrived `now` leaves the link, as the link
  /// now is: after its one-way delay, and after the previous chunk
  /// (`previous`) plus the time its bytes take at the link's bandwidth.
  /// `queued` tells whether it had to wait for the previous one (the link
  /// was busy: its spacing then shows the link's throughput).
  clock_type::time_point release(clock_type::time_point now,
                                 clock_type::time_point previous, size_t bytes,
                                 bool& queued) {
    auto l = link_ ? link_() : link_spec{};
    auto serialize = std::chrono::duration<double, std::milli>{
      network_emulator::transfer_ms(l, static_cast<double>(bytes))};
    auto earliest = now + delay(l);
    queued = previous > earliest;
    return std::max(previous, earliest)
           + std::chrono::duration_cast<clock_type::duration>(serialize);
  }

  /// The one-way delay of a chunk over link `l`.
  clock_type::duration delay(const link_spec& l) {
    double ms = l.rtt_ms / 2;
    if (l.jitter_ms > 0)
      ms = std::max(
        0.0, std::normal_distribution<double>{ms, l.jitter_ms / 2}(rng_));
    if (l.loss > 0 && std::bernoulli_distribution{std::min(l.loss, 1.0)}(rng_))
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

  /// `bytes` left the link `ms` after the chunk before them of the same
  /// request or response: a passive throughput sample.
  void add_transfer(size_t bytes, double ms) {
    std::function<void(const service_use&)> sink;
    service_use now;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      counts_.transfer_bytes += bytes;
      counts_.transfer_ms += ms;
      if (early_sink_ && counts_.transfer_bytes >= early_bytes_) {
        sink = std::move(early_sink_);
        early_sink_ = nullptr;
        now.service = counts_.service;
        now.transfer_bytes = counts_.transfer_bytes;
        now.transfer_ms = counts_.transfer_ms;
      }
    }
    if (sink)
      sink(now);
  }

  void on_early_sample(uint64_t bytes,
                       std::function<void(const service_use&)> sink) override {
    std::lock_guard<std::mutex> guard{mtx_};
    early_bytes_ = bytes;
    early_sink_ = std::move(sink);
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
      auto id = ++self->next_connection_;
      auto c = std::make_shared<connection>(self, id, std::move(s));
      self->connections_.emplace(id, c);
      self->open_.store(self->connections_.size());
      c->start();
      self->accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  tcp::endpoint upstream_;
  link_source link_;
  uint64_t early_bytes_ = 0;
  std::function<void(const service_use&)> early_sink_;
  std::mt19937_64 rng_;
  uint16_t port_ = 0;
  bool closed_ = false;
  uint64_t next_connection_ = 0;
  std::unordered_map<uint64_t, std::weak_ptr<connection>> connections_;
  std::atomic<size_t> open_{0};
  std::atomic<size_t> peak_queued_{0};
  mutable std::mutex mtx_;
  service_use counts_;
  double first_response_ms_ = -1;
  uint32_t failures_ = 0;
  uint32_t connections_count_ = 0;
};

connection::connection(std::shared_ptr<gateway_impl> gw, uint64_t id,
                       tcp::socket client)
  : gw_(std::move(gw)),
    id_(id),
    client_(std::move(client)),
    server_(gw_->io()),
    up_(gw_->io()),
    down_(gw_->io()) {
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
    // A relay must not add Nagle's delays on top of the emulated ones.
    boost::system::error_code ignored;
    self->client_.set_option(tcp::no_delay(true), ignored);
    self->server_.set_option(tcp::no_delay(true), ignored);
    self->read(true);
    self->read(false);
  });
}

void connection::close() {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ignored;
  client_.close(ignored);
  server_.close(ignored);
  up_.timer.cancel();
  down_.timer.cancel();
  gw_->closed(id_);
}

void connection::fail() {
  close();
}

// Reads chunks from one side as they come; each is held for the link's
// one-way delay after it arrived (so a burst of chunks pays the delay once,
// as on a real link), in order.
void connection::read(bool upstream) {
  auto self = shared_from_this();
  auto& from = upstream ? client_ : server_;
  auto& dir = upstream ? up_ : down_;
  from.async_read_some(asio::buffer(dir.buf), [self, upstream](auto ec,
                                                               size_t n) {
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
    auto& dir = upstream ? self->up_ : self->down_;
    (upstream ? self->down_ : self->up_).in_burst = false;
    bool queued = false;
    auto release = self->gw_->release(now, dir.last_release, n, queued);
    // Within a burst, a chunk that waited for the previous one leaves as
    // fast as the link allows: its spacing is a passive throughput sample
    // (on the schedule, so that a late timer cannot make the link look
    // faster than it is; a pause of the sender is no sample at all).
    if (dir.in_burst && queued && release > dir.last_release)
      self->gw_->add_transfer(
        n, std::chrono::duration<double, std::milli>(release - dir.last_release)
             .count());
    dir.in_burst = true;
    dir.last_release = release;
    dir.queue.emplace_back(release, std::string{dir.buf.data(), n});
    dir.queued_bytes += n;
    self->gw_->queued(dir.queued_bytes);
    if (!dir.writing)
      self->write_next(upstream);
    if (dir.queued_bytes < max_queued_bytes)
      self->read(upstream);
    else
      dir.paused = true;
  });
}

void connection::write_next(bool upstream) {
  auto& dir = upstream ? up_ : down_;
  if (closed_ || dir.queue.empty()) {
    dir.writing = false;
    return;
  }
  dir.writing = true;
  auto self = shared_from_this();
  dir.timer.expires_at(dir.queue.front().first);
  dir.timer.async_wait([self, upstream](auto ec) {
    if (ec || self->closed_)
      return;
    if (!upstream && self->awaiting_response_) {
      // The response leaves for the client: one round trip done. Counted
      // before the write, so that whoever got the response (an execution
      // that then exits) sees it in the counts.
      self->awaiting_response_ = false;
      self->gw_->add_wait(std::chrono::duration<double, std::milli>(
                            clock_type::now() - self->request_start_)
                            .count());
    }
    auto& dir = upstream ? self->up_ : self->down_;
    auto& to = upstream ? self->server_ : self->client_;
    asio::async_write(to, asio::buffer(dir.queue.front().second),
                      [self, upstream](auto ec, size_t) {
                        if (ec) {
                          self->fail();
                          return;
                        }
                        auto& dir = upstream ? self->up_ : self->down_;
                        dir.queued_bytes -= dir.queue.front().second.size();
                        dir.queue.pop_front();
                        if (dir.paused && !self->closed_
                            && dir.queued_bytes < max_queued_bytes / 2) {
                          dir.paused = false;
                          self->read(upstream);
                        }
                        self->write_next(upstream);
                      });
  });
}

} // namespace

std::shared_ptr<gateway>
gateway::open(asio::io_context& io, std::string service,
              std::string upstream_host, uint16_t upstream_port,
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
  auto gw = std::make_shared<gateway_impl>(io, std::move(service),
                                           tcp::endpoint{addr, upstream_port},
                                           std::move(link), seed);
  gw->start();
  return gw;
}

} // namespace augur
