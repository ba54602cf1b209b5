#include "augur/runtime/api/http_api.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "augur/runtime/api/routes.hpp"
#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/execution/gateway.hpp"
#include "augur/runtime/node/request.hpp"
#include "augur/runtime/node/secrets.hpp"

namespace augur {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

// -- JSON of the protocol's answers -----------------------------------------

json to_json(const bid& b) {
  return {{"instance", b.instance},
          {"host", b.host},
          {"accept", b.accept},
          {"expected_ms", b.expected_ms},
          {"channel_ms", b.channel_ms},
          {"free_slots", b.free_slots},
          {"warm", b.warm}};
}

/// A JSON number, or null where JSON has none (an unmeasured channel).
json number(double x) {
  return std::isfinite(x) ? json(x) : json(nullptr);
}

std::string base64(const std::string& x) {
  std::string out(4 * ((x.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(x.data()),
                           static_cast<int>(x.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

/// JSON text; a string that is not UTF-8 has its bad bytes replaced (U+FFFD)
/// rather than failing the answer.
std::string text(const json& x) {
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

json to_json(const invoke_result& r) {
  json bids = json::array();
  for (auto& b : r.reason.bids)
    bids.push_back(to_json(b));
  return {{"invocation", r.invocation},
          {"task", r.task},
          {"status", to_string(r.status)},
          {"output", r.output},
          {"error", r.error},
          {"log", r.log},
          {"host", r.host},
          {"instance", r.instance},
          {"reason",
           {{"policy", to_string(r.reason.policy)},
            {"likelihood", r.reason.likelihood},
            {"service", r.reason.service},
            {"channel_ms", number(r.reason.channel_ms)},
            {"bids", bids},
            {"note", r.reason.note}}},
          {"latency_ms", r.latency_ms},
          {"aux_ms", r.aux_ms},
          {"cold_start", r.cold_start}};
}

/// The JSON text of a result. Output that is not text (not UTF-8) is given
/// whole, in base64, as `output_base64` (`output` null); only then is the
/// document written twice.
std::string result_text(const invoke_result& r) {
  auto doc = to_json(r);
  try {
    return doc.dump();
  } catch (const json::type_error&) {
    // Some string is not UTF-8: the output, or (rarely) the log.
  }
  try {
    json{r.output}.dump();
  } catch (const json::type_error&) {
    doc["output"] = nullptr;
    doc["output_base64"] = base64(r.output);
  }
  return text(doc);
}

json to_json(const task_profile& p) {
  json services = json::array();
  for (auto& s : p.services)
    services.push_back({{"service", s.service},
                        {"likelihood", s.likelihood},
                        {"round_trips", s.round_trips},
                        {"bytes_out", s.bytes_out},
                        {"evidence", s.evidence},
                        {"hinted", s.hinted}});
  return {
    {"task", p.task}, {"observations", p.observations}, {"services", services}};
}

json to_json(const channel_sample& x) {
  return {{"host", x.host},
          {"service", x.service},
          {"srtt_ms", x.srtt_ms},
          {"rttvar_ms", x.rttvar_ms},
          {"loss", x.loss},
          {"age_ms", x.age_ms},
          {"state", x.up ? "up" : "down"},
          {"probes", x.probes}};
}

json to_json(const instance_status& s) {
  return {{"name", s.info.name},
          {"host", s.info.host},
          {"zone", s.info.zone},
          {"slots", s.info.slots},
          {"busy", s.busy},
          {"executions", s.executions},
          {"cold_starts", s.cold_starts},
          {"warm", s.warm}};
}

std::string label(const std::string& x) {
  std::string out;
  for (auto c : x) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// -- metrics -----------------------------------------------------------------

/// Counters and histograms of the API, in Prometheus' text format.
struct metrics {
  static constexpr double bounds[] = {1,   2,   5,    10,   25,   50,   100,
                                      250, 500, 1000, 2500, 5000, 10000};

  std::mutex mtx;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t>
    invocations;
  struct histogram {
    std::vector<uint64_t> counts = std::vector<uint64_t>(std::size(bounds));
    uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::string, histogram> latency;
  std::map<unsigned, uint64_t> responses;

  void invocation(const invoke_result& r) {
    std::lock_guard<std::mutex> guard{mtx};
    std::string path = to_string(r.reason.policy);
    ++invocations[{r.task, to_string(r.status), path}];
    if (r.status != outcome::ok)
      return;
    auto& h = latency[r.task];
    for (size_t i = 0; i < std::size(bounds); ++i)
      if (r.latency_ms <= bounds[i])
        ++h.counts[i];
    ++h.count;
    h.sum += r.latency_ms;
  }

  void response(unsigned status) {
    std::lock_guard<std::mutex> guard{mtx};
    ++responses[status];
  }

  std::string render(const std::vector<channel_sample>& channels,
                     const frontend_status& fs, uint64_t in_flight) {
    std::lock_guard<std::mutex> guard{mtx};
    std::ostringstream out;
    out << "# HELP augur_invocations_total Invocations by task, outcome and "
           "placement path.\n# TYPE augur_invocations_total counter\n";
    for (auto& [k, n] : invocations)
      out << "augur_invocations_total{task=\"" << label(std::get<0>(k))
          << "\",outcome=\"" << std::get<1>(k) << "\",path=\""
          << label(std::get<2>(k)) << "\"} " << n << "\n";
    out << "# HELP augur_invocation_latency_ms Latency of completed "
           "invocations, admission to answer.\n"
           "# TYPE augur_invocation_latency_ms histogram\n";
    for (auto& [task, h] : latency) {
      for (size_t i = 0; i < std::size(bounds); ++i)
        out << "augur_invocation_latency_ms_bucket{task=\"" << label(task)
            << "\",le=\"" << bounds[i] << "\"} " << h.counts[i] << "\n";
      out << "augur_invocation_latency_ms_bucket{task=\"" << label(task)
          << "\",le=\"+Inf\"} " << h.count << "\n";
      out << "augur_invocation_latency_ms_sum{task=\"" << label(task) << "\"} "
          << h.sum << "\n";
      out << "augur_invocation_latency_ms_count{task=\"" << label(task)
          << "\"} " << h.count << "\n";
    }
    out << "# HELP augur_channel_rtt_ms Smoothed RTT per host and service.\n"
           "# TYPE augur_channel_rtt_ms gauge\n";
    for (auto& c : channels)
      out << "augur_channel_rtt_ms{host=\"" << label(c.host) << "\",service=\""
          << label(c.service) << "\"} " << c.srtt_ms << "\n";
    out << "# HELP augur_channel_loss Fraction of probes lost.\n"
           "# TYPE augur_channel_loss gauge\n";
    for (auto& c : channels)
      out << "augur_channel_loss{host=\"" << label(c.host) << "\",service=\""
          << label(c.service) << "\"} " << c.loss << "\n";
    out << "# HELP augur_channel_up Whether the channel is up.\n"
           "# TYPE augur_channel_up gauge\n";
    for (auto& c : channels)
      out << "augur_channel_up{host=\"" << label(c.host) << "\",service=\""
          << label(c.service) << "\"} " << (c.up ? 1 : 0) << "\n";
    out << "# HELP augur_queue_depth Invocations waiting for a free slot.\n"
           "# TYPE augur_queue_depth gauge\naugur_queue_depth "
        << fs.queued << "\n";
    out << "# HELP augur_in_flight Invocations accepted by the API and not "
           "answered yet.\n# TYPE augur_in_flight gauge\naugur_in_flight "
        << in_flight << "\n";
    out << "# HELP augur_http_responses_total HTTP responses by status.\n"
           "# TYPE augur_http_responses_total counter\n";
    for (auto& [status, n] : responses)
      out << "augur_http_responses_total{status=\"" << status << "\"} " << n
          << "\n";
    return out.str();
  }
};

} // namespace

// -- shared state ------------------------------------------------------------

struct http_api::state : std::enable_shared_from_this<http_api::state> {
  state(asio::io_context& ctx, node_runtime& c, const cluster_config& cf)
    : io(ctx), cluster(c), cfg(cf), acceptor(ctx) {
    for (auto& t : cfg.tasks)
      task_timeouts[t.name] = t.timeout_ms;
    for (auto& t : cfg.tenants)
      tokens.emplace_back(t.token);
  }

  asio::io_context& io;
  node_runtime& cluster;
  cluster_config cfg;
  tcp::acceptor acceptor;
  metrics stats;
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> in_flight{0};
  std::function<void()> drained;
  /// Open client connections (I/O thread only).
  size_t sessions = 0;
  /// The process tasks' time limits, by name (from the file, read once).
  std::unordered_map<std::string, double> task_timeouts;
  /// The tenants' tokens as they are compared, in the tenants' order.
  std::vector<secret_digest> tokens;

  /// How long an invocation of `task` may take before the API gives up on
  /// it: its own time limit (process tasks) plus a minute for queueing and
  /// placement, at least a minute.
  std::chrono::milliseconds deadline_of(const std::string& task) const {
    auto i = task_timeouts.find(task);
    auto ms = i != task_timeouts.end() ? i->second : 0.0;
    return std::chrono::milliseconds(static_cast<int64_t>(ms) + 60000);
  }

  /// Sends a request from a short-lived actor; `k` runs on the I/O thread
  /// with the reply, or with an error text (also when `timeout` passes).
  template <class T, class Handle, class... Ts>
  void ask(Handle dest, std::function<void(T*, std::string)> k, Ts... xs) {
    ask_within<T>(std::chrono::seconds(60), dest, std::move(k), xs...);
  }

  template <class T, class Handle, class... Ts>
  void ask_within(std::chrono::milliseconds timeout, Handle dest,
                  std::function<void(T*, std::string)> k, Ts... xs) {
    auto self = shared_from_this();
    request_from_outside<T>(
      cluster.system(), dest, timeout,
      [self, k](T& x) {
        asio::post(self->io, [k, x]() mutable { k(&x, ""); });
      },
      [self, k](std::string what) {
        asio::post(self->io, [k, what] { k(nullptr, what); });
      },
      xs...);
  }

  void invocation_done() {
    if (--in_flight == 0 && draining && drained) {
      auto f = std::move(drained);
      drained = nullptr;
      f();
    }
  }
};

namespace {

using response = http::response<http::string_body>;
using responder = std::function<void(response)>;

response make(unsigned status, const std::string& body,
              const char* type = "application/json") {
  response res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "augur");
  res.set(http::field::content_type, type);
  res.body() = body;
  res.prepare_payload();
  return res;
}

response error(unsigned status, const std::string& message) {
  return make(status, text(json{{"error", message}}) + "\n");
}

/// One client connection: reads requests, answers them, keeps alive.
class session : public std::enable_shared_from_this<session> {
public:
  session(std::shared_ptr<http_api::state> st, tcp::socket s)
    : st_(std::move(st)), stream_(std::move(s)) {
    ++st_->sessions;
  }

  ~session() {
    --st_->sessions;
  }

  /// Answers 503 and closes: the connection cap is reached.
  void refuse() {
    reply(error(503, "too many connections (the limit is "
                       + std::to_string(st_->cfg.api.max_connections) + ")"),
          false);
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(st_->cfg.api.max_body_bytes);
    // A request must arrive, whole, within the idle timeout (also between
    // requests on a kept-alive connection): a silent or slow client does
    // not hold a connection for ever.
    stream_.expires_after(idle_timeout());
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](auto ec, size_t) {
      self->stream_.expires_never();
      if (ec == http::error::body_limit) {
        self->reply(error(413,
                          "request body over the limit of "
                            + std::to_string(self->st_->cfg.api.max_body_bytes)
                            + " bytes"),
                    false);
        return;
      }
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::eof
            && ec != asio::error::connection_reset
            && ec != beast::error::timeout)
          self->reply(error(400, "malformed request: " + ec.message()), false);
        return;
      }
      self->request_ = self->parser_->release();
      self->handle();
    });
  }

private:
  void reply(response res, bool keep_alive) {
    st_->stats.response(res.result_int());
    res.keep_alive(keep_alive);
    auto self = shared_from_this();
    auto msg = std::make_shared<response>(std::move(res));
    // A client that does not read its answer does not hold the connection.
    stream_.expires_after(idle_timeout());
    http::async_write(stream_, *msg, [self, msg, keep_alive](auto ec, size_t) {
      self->stream_.expires_never();
      if (ec || !keep_alive) {
        boost::system::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->read();
    });
  }

  /// The tenant named by the bearer token; false after answering 401.
  bool authorize(const tenant_config*& tenant) {
    tenant = nullptr;
    if (st_->cfg.tenants.empty())
      return true;
    auto auth = std::string{request_[http::field::authorization]};
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) == 0) {
      secret_digest given{std::string_view{auth}.substr(prefix.size())};
      // Every tenant's token is compared, each in constant time: how long
      // a refusal takes tells nothing of any token.
      auto& tenants = st_->cfg.tenants;
      for (size_t i = 0; i < tenants.size(); ++i)
        if (given == st_->tokens[i] && tenant == nullptr)
          tenant = &tenants[i];
      if (tenant != nullptr)
        return true;
    }
    auto res = error(401, "a valid bearer token is required");
    res.set(http::field::www_authenticate, "Bearer");
    reply(std::move(res), request_.keep_alive());
    return false;
  }

  static bool allowed(const tenant_config* tenant, const std::string& task) {
    if (tenant == nullptr)
      return true;
    for (auto& t : tenant->tasks)
      if (t == "*" || t == task)
        return true;
    return false;
  }

  static http_method method_of(http::verb v) {
    switch (v) {
      case http::verb::get:
        return http_method::get;
      case http::verb::post:
        return http_method::post;
      case http::verb::put:
        return http_method::put;
      case http::verb::delete_:
        return http_method::del;
      default:
        return http_method::other;
    }
  }

  void handle() {
    auto keep = request_.keep_alive();
    auto target = request_.target();
    auto r = match_route(std::string_view{target.data(), target.size()});
    const tenant_config* tenant = nullptr;
    // Every /v1 path needs a token before anything else is said of it.
    if (r.authenticated && !authorize(tenant))
      return;
    if (r.kind == route_kind::not_found) {
      reply(error(404, r.error), keep);
      return;
    }
    if (r.kind == route_kind::bad_request) {
      reply(error(400, r.error), keep);
      return;
    }
    if (auto wrong = method_error(r.kind, method_of(request_.method()));
        !wrong.empty()) {
      reply(error(405, wrong), keep);
      return;
    }
    if (!r.task.empty()) {
      if (!st_->cluster.has_task(r.task)) {
        reply(error(404, "no task named '" + r.task + "'"), keep);
        return;
      }
      if (!allowed(tenant, r.task)) {
        reply(error(403, "task '" + r.task + "' is not one of tenant '"
                           + tenant->name + "'"),
              keep);
        return;
      }
    }
    switch (r.kind) {
      case route_kind::health:
        health(keep);
        return;
      case route_kind::metrics:
        metrics_page(keep);
        return;
      case route_kind::list_tasks: {
        json tasks = json::array();
        for (auto& name : st_->cluster.tasks())
          if (allowed(tenant, name))
            tasks.push_back(name);
        reply(make(200, text(json{{"tasks", tasks}}) + "\n"), keep);
        return;
      }
      case route_kind::channels:
        channels(keep);
        return;
      case route_kind::instances:
        instances(keep);
        return;
      case route_kind::task_profile:
        profile(r.task, keep);
        return;
      case route_kind::task_invoke:
        invoke(r.task, keep);
        return;
      case route_kind::not_found:
      case route_kind::bad_request:
        break;
    }
  }

  void invoke(const std::string& task, bool keep) {
    if (st_->draining) {
      auto res = error(503, "draining: not accepting invocations");
      reply(std::move(res), false);
      return;
    }
    auto type = std::string{request_[http::field::content_type]};
    if (type.rfind("application/json", 0) == 0
        && !json::accept(request_.body())) {
      reply(error(400, "malformed JSON body"), keep);
      return;
    }
    ++st_->in_flight;
    auto self = shared_from_this();
    st_->ask_within<invoke_result>(
      st_->deadline_of(task), st_->cluster.frontend(),
      [self, keep](invoke_result* r, std::string err) {
        if (r == nullptr) {
          self->reply(error(503, "no answer from the frontend: " + err), keep);
        } else {
          self->st_->stats.invocation(*r);
          unsigned status = 200;
          switch (r->status) {
            case outcome::ok:
              break;
            case outcome::rejected:
              status = 429;
              break;
            case outcome::unknown_task:
              status = 404;
              break;
            default:
              status = 500;
          }
          auto res = make(status, result_text(*r) + "\n");
          if (status == 429)
            res.set(http::field::retry_after, "1");
          self->reply(std::move(res), keep);
        }
        self->st_->invocation_done();
      },
      invoke_request{task, request_.body()});
  }

  void profile(const std::string& task, bool keep) {
    auto self = shared_from_this();
    st_->ask<task_profile>(
      st_->cluster.registry(),
      [self, keep](task_profile* p, std::string err) {
        if (p == nullptr)
          self->reply(error(500, "registry unavailable: " + err), keep);
        else
          self->reply(make(200, text(to_json(*p)) + "\n"), keep);
      },
      caf::get_atom::value, task);
  }

  void channels(bool keep) {
    auto self = shared_from_this();
    st_->ask<std::vector<channel_sample>>(
      st_->cluster.frontend(),
      [self, keep](std::vector<channel_sample>* xs, std::string err) {
        if (xs == nullptr) {
          self->reply(error(500, "frontend unavailable: " + err), keep);
          return;
        }
        json out = json::array();
        for (auto& x : *xs)
          out.push_back(to_json(x));
        self->reply(make(200, text(json{{"channels", out}}) + "\n"), keep);
      },
      caf::get_atom::value, channels_atom::value);
  }

  void instances(bool keep) {
    auto handles = st_->cluster.instance_handles();
    auto collected = std::make_shared<std::vector<json>>();
    auto left = std::make_shared<size_t>(handles.size());
    auto self = shared_from_this();
    if (handles.empty()) {
      reply(make(200, text(json{{"instances", json::array()}}) + "\n"), keep);
      return;
    }
    for (auto& h : handles)
      st_->ask<instance_status>(
        h,
        [self, keep, collected, left](instance_status* s, std::string) {
          if (s != nullptr)
            collected->push_back(to_json(*s));
          if (--*left == 0) {
            std::sort(collected->begin(), collected->end(),
                      [](auto& a, auto& b) { return a["name"] < b["name"]; });
            self->reply(make(200, text(json{{"instances", *collected}}) + "\n"),
                        keep);
          }
        },
        caf::get_atom::value, status_atom::value);
  }

  void health(bool keep) {
    auto self = shared_from_this();
    st_->ask<frontend_status>(
      st_->cluster.frontend(),
      [self, keep](frontend_status* fs, std::string) {
        json body{{"status", self->st_->draining ? "draining" : "ok"}};
        if (fs != nullptr) {
          body["instances"] = fs->live_instances;
          body["in_flight"] = fs->in_flight;
          body["queued"] = fs->queued;
        }
        self->reply(make(200, text(body) + "\n"), keep);
      },
      caf::get_atom::value, status_atom::value);
  }

  void metrics_page(bool keep) {
    auto self = shared_from_this();
    st_->ask<std::vector<channel_sample>>(
      st_->cluster.frontend(),
      [self, keep](std::vector<channel_sample>* xs, std::string) {
        auto chans = xs ? *xs : std::vector<channel_sample>{};
        self->st_->ask<frontend_status>(
          self->st_->cluster.frontend(),
          [self, keep, chans](frontend_status* fs, std::string) {
            auto text = self->st_->stats.render(
              chans, fs ? *fs : frontend_status{}, self->st_->in_flight);
            self->reply(make(200, text, "text/plain; version=0.0.4"), keep);
          },
          caf::get_atom::value, status_atom::value);
      },
      caf::get_atom::value, channels_atom::value);
  }

  std::chrono::milliseconds idle_timeout() const {
    return std::chrono::milliseconds(
      static_cast<int64_t>(st_->cfg.api.idle_timeout_ms));
  }

  std::shared_ptr<http_api::state> st_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
};

void do_accept(std::shared_ptr<http_api::state> st) {
  st->acceptor.async_accept([st](auto ec, tcp::socket s) {
    if (ec)
      return; // closed
    auto over = st->sessions >= st->cfg.api.max_connections;
    auto x = std::make_shared<session>(st, std::move(s));
    if (over)
      x->refuse();
    else
      x->read();
    do_accept(st);
  });
}

} // namespace

http_api::http_api(asio::io_context& io, node_runtime& cluster,
                   const cluster_config& cfg)
  : state_(std::make_shared<state>(io, cluster, cfg)) {
  auto [host, port] = parse_endpoint(cfg.api.listen, true);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    throw std::runtime_error("[api] listen: bad address '" + host + "'");
  tcp::endpoint ep{addr, port};
  auto& a = state_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec)
    a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    a.bind(ep, ec);
  if (!ec)
    a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + cfg.api.listen + ": "
                             + ec.message());
}

http_api::~http_api() {
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
}

uint16_t http_api::port() const {
  return state_->acceptor.local_endpoint().port();
}

void http_api::start() {
  auto st = state_;
  asio::post(st->io, [st] { do_accept(st); });
}

void http_api::drain(std::function<void()> drained) {
  auto st = state_;
  asio::post(st->io, [st, drained] {
    st->draining = true;
    if (st->in_flight == 0)
      drained();
    else
      st->drained = drained;
  });
}

uint64_t http_api::in_flight() const {
  return state_->in_flight;
}

} // namespace augur
