#include "augur/runtime/api/http_api.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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

#include "augur/runtime/api/deployments.hpp"
#include "augur/runtime/api/routes.hpp"
#include "augur/runtime/execution/endpoint.hpp"
#include "augur/runtime/execution/gateway.hpp"
#include "augur/runtime/node/request.hpp"
#include "augur/runtime/node/secrets.hpp"
#include "augur/runtime/state/state_writer.hpp"

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
std::string result_text(const invoke_result& r, uint64_t id) {
  auto doc = to_json(r);
  doc["id"] = id;
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
                        {"hinted", s.hinted},
                        {"used", s.used}});
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
    : io(ctx), cluster(c), cfg(cf), acceptor(ctx), writer(c.state()) {
    for (auto& t : cfg.tasks)
      task_timeouts[t.name] = t.timeout_ms;
    for (auto& t : cfg.tenants)
      tokens.emplace_back(t.token);
    if (writer != nullptr) {
      deploys = std::make_unique<deployments>(cluster, cfg, writer->store());
      next_record = writer->store().last_record_id() + 1;
    }
  }

  asio::io_context& io;
  node_runtime& cluster;
  cluster_config cfg;
  tcp::acceptor acceptor;
  metrics stats;
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> in_flight{0};
  std::function<void()> drained;
  /// Open client connections.
  std::atomic<size_t> sessions{0};
  /// The process tasks' time limits, by name (from the file, read once).
  std::unordered_map<std::string, double> task_timeouts;
  /// The tenants' tokens as they are compared, in the tenants' order.
  std::vector<secret_digest> tokens;
  /// The state file (nullptr: a node without one) and the tasks deployed
  /// over the API.
  state_writer* writer;
  std::unique_ptr<deployments> deploys;
  /// The id of the next invocation record.
  std::atomic<uint64_t> next_record{1};

  /// Runs `job` on the state writer's thread; `k` gets its answer on the
  /// I/O thread.
  void on_writer(std::function<deployments::answer(state_store&)> job,
                 std::function<void(deployments::answer)> k) {
    auto self = shared_from_this();
    // `k` holds the session: it travels to the I/O thread and ends there,
    // never on the writer's thread (a session ends where its socket lives).
    writer->run([self, job = std::move(job),
                 k = std::move(k)](state_store& store) mutable {
      deployments::answer a;
      try {
        a = job(store);
      } catch (const std::exception& e) {
        a = {500, {{"error", std::string{"state file: "} + e.what()}}};
      }
      job = nullptr;
      asio::post(self->io, [k = std::move(k), a = std::move(a)] { k(a); });
    });
  }

  /// How long an invocation of `task` may take before the API gives up on
  /// it: its own time limit (process tasks) plus a minute for queueing and
  /// placement, at least a minute.
  std::chrono::milliseconds deadline_of(const std::string& task) const {
    auto i = task_timeouts.find(task);
    auto ms = i != task_timeouts.end() ? i->second : 0.0;
    if (deploys)
      ms = std::max(ms, deploys->timeout_ms(task));
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
    // The larger limit while the header is read; the route's own after it.
    parser_->body_limit(
      std::max(st_->cfg.api.max_body_bytes, st_->cfg.state.max_code_bytes));
    // A request's header, then its body, must each arrive whole within the
    // idle timeout (also between requests on a kept-alive connection): a
    // silent or slow client does not hold a connection for ever.
    stream_.expires_after(idle_timeout());
    auto self = shared_from_this();
    http::async_read_header(
      stream_, buffer_, *parser_, [self](auto ec, size_t) {
        if (ec) {
          self->stream_.expires_never();
          self->read_failed(ec);
          return;
        }
        // Code archives have a limit of their own.
        auto& req = self->parser_->get();
        auto target = req.target();
        auto code
          = req.method() == http::verb::put
            && match_route(std::string_view{target.data(), target.size()}).kind
                 == route_kind::task_code;
        self->body_limit_ = code ? self->st_->cfg.state.max_code_bytes
                                 : self->st_->cfg.api.max_body_bytes;
        if (auto n = self->parser_->content_length();
            n && *n > self->body_limit_) {
          self->stream_.expires_never();
          self->read_failed(http::error::body_limit);
          return;
        }
        self->parser_->body_limit(self->body_limit_);
        self->stream_.expires_after(self->idle_timeout());
        http::async_read(self->stream_, self->buffer_, *self->parser_,
                         [self](auto ec, size_t) {
                           self->stream_.expires_never();
                           if (ec) {
                             self->read_failed(ec);
                             return;
                           }
                           self->request_ = self->parser_->release();
                           self->handle();
                         });
      });
  }

private:
  void read_failed(boost::system::error_code ec) {
    if (ec == http::error::body_limit) {
      reply(error(413, "request body over the limit of "
                         + std::to_string(body_limit_) + " bytes"),
            false);
      return;
    }
    if (ec != http::error::end_of_stream && ec != asio::error::eof
        && ec != asio::error::connection_reset && ec != beast::error::timeout)
      reply(error(400, "malformed request: " + ec.message()), false);
  }

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

  /// The tenant's name ("" without tenants).
  static std::string tenant_name(const tenant_config* tenant) {
    return tenant != nullptr ? tenant->name : std::string{};
  }

  /// The name a tenant knows a task by (its own deployed tasks without the
  /// tenant's prefix).
  static std::string visible_name(const tenant_config* tenant,
                                  const std::string& key) {
    if (tenant != nullptr && key.rfind(tenant->name + "/", 0) == 0)
      return key.substr(tenant->name.size() + 1);
    return key;
  }

  /// Whether a tenant sees the task `key` (its own, or a file task it may
  /// use).
  bool sees(const tenant_config* tenant, const std::string& key) const {
    if (key.find('/') != std::string::npos)
      return tenant != nullptr && key.rfind(tenant->name + "/", 0) == 0;
    return allowed(tenant, key);
  }

  void reply_json(const deployments::answer& a, bool keep) {
    reply(make(a.status, text(a.body) + "\n"), keep);
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
    auto method = method_of(request_.method());
    if (auto wrong = method_error(r.kind, method); !wrong.empty()) {
      reply(error(405, wrong), keep);
      return;
    }
    // Deployments first: a task that does not exist yet may be created.
    if (r.kind == route_kind::task && method != http_method::get) {
      change_task(tenant, r.task, method, keep);
      return;
    }
    if (r.kind == route_kind::task_code) {
      upload_code(tenant, r.task, keep);
      return;
    }
    std::string key;
    if (!r.task.empty()) {
      auto found = resolve(tenant, r.task);
      if (!found) {
        // A file task the tenant may not use is forbidden; anything else
        // is not there (another tenant's tasks are not told apart).
        if (st_->cluster.has_task(r.task) && !allowed(tenant, r.task))
          reply(error(403, "task '" + r.task + "' is not one of tenant '"
                             + tenant->name + "'"),
                keep);
        else
          reply(error(404, "no task named '" + r.task + "'"), keep);
        return;
      }
      key = *found;
    }
    switch (r.kind) {
      case route_kind::health:
        health(keep);
        return;
      case route_kind::metrics:
        metrics_page(keep);
        return;
      case route_kind::list_tasks:
        list_tasks(tenant, keep);
        return;
      case route_kind::channels:
        channels(keep);
        return;
      case route_kind::instances:
        instances(tenant, keep);
        return;
      case route_kind::task_profile:
        profile(key, r.task, keep);
        return;
      case route_kind::task:
        if (st_->deploys)
          reply_json(st_->deploys->describe(tenant_name(tenant), r.task), keep);
        else
          reply(make(200, text(json{{"name", r.task}}) + "\n"), keep);
        return;
      case route_kind::task_invoke: {
        auto wait = r.query.find("wait");
        if (wait != r.query.end() && wait->second != "true"
            && wait->second != "false") {
          reply(error(400, "wait must be true or false"), keep);
          return;
        }
        invoke(tenant, key, r.task,
               wait == r.query.end() || wait->second == "true", keep);
        return;
      }
      case route_kind::invocation:
        invocation(tenant, r.id, keep);
        return;
      case route_kind::invocations:
        invocations(tenant, r.query, keep);
        return;
      case route_kind::task_code:
      case route_kind::not_found:
      case route_kind::bad_request:
        break;
    }
  }

  /// The cluster's name of the tenant's task `name`, if it has one.
  std::optional<std::string> resolve(const tenant_config* tenant,
                                     const std::string& name) const {
    if (st_->deploys)
      return st_->deploys->resolve(tenant_name(tenant), name,
                                   allowed(tenant, name));
    if (st_->cluster.has_task(name) && allowed(tenant, name))
      return name;
    return std::nullopt;
  }

  bool need_state(bool keep) {
    if (st_->deploys)
      return true;
    reply(error(501, "this node keeps no state: deployments and invocation "
                     "records live on the control node"),
          keep);
    return false;
  }

  void list_tasks(const tenant_config* tenant, bool keep) {
    std::set<std::string> names;
    for (auto& name : st_->cluster.tasks())
      if (name.find('/') == std::string::npos && allowed(tenant, name)
          && (!st_->deploys || st_->deploys->from_file(name)))
        names.insert(name);
    if (st_->deploys)
      for (auto& name : st_->deploys->names(tenant_name(tenant)))
        names.insert(name);
    reply(make(200, text(json{{"tasks", names}}) + "\n"), keep);
  }

  void change_task(const tenant_config* tenant, const std::string& name,
                   http_method method, bool keep) {
    if (!need_state(keep))
      return;
    auto self = shared_from_this();
    auto t = tenant_name(tenant);
    auto body = request_.body();
    auto deploys = st_->deploys.get();
    st_->on_writer(
      [=](state_store& store) {
        return method == http_method::put
                 ? deploys->put_definition(store, t, name, body)
                 : deploys->remove(store, t, name);
      },
      [self, keep](deployments::answer a) { self->reply_json(a, keep); });
  }

  void upload_code(const tenant_config* tenant, const std::string& name,
                   bool keep) {
    if (!need_state(keep))
      return;
    auto self = shared_from_this();
    auto t = tenant_name(tenant);
    auto body = std::make_shared<std::string>(std::move(request_.body()));
    auto deploys = st_->deploys.get();
    st_->on_writer(
      [=](state_store& store) {
        return deploys->put_code(store, t, name, *body);
      },
      [self, keep](deployments::answer a) { self->reply_json(a, keep); });
  }

  void invoke(const tenant_config* tenant, const std::string& key,
              const std::string& name, bool wait, bool keep) {
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
    if (!wait && !need_state(keep))
      return;
    ++st_->in_flight;
    invocation_record rec;
    rec.id = st_->next_record++;
    rec.tenant = tenant_name(tenant);
    rec.task = name;
    rec.status = "running";
    rec.created_ms = wall_clock_ms();
    if (st_->writer != nullptr && !wait)
      st_->writer->record(rec);
    if (!wait) {
      auto res = make(
        202, text(json{{"id", rec.id}, {"task", name}, {"status", "running"}})
               + "\n");
      res.set(http::field::location,
              "/v1/invocations/" + std::to_string(rec.id));
      reply(std::move(res), keep);
    }
    auto self = shared_from_this();
    st_->ask_within<invoke_result>(
      st_->deadline_of(key), st_->cluster.frontend(),
      [self, keep, wait, rec, name](invoke_result* r, std::string err) mutable {
        unsigned status = 200;
        std::string body;
        if (r == nullptr) {
          status = 503;
          rec.status = "failed";
          body = text(json{{"id", rec.id},
                           {"task", name},
                           {"status", "failed"},
                           {"error", "no answer from the frontend: " + err}});
        } else {
          self->st_->stats.invocation(*r);
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
          r->task = name;
          rec.status = to_string(r->status);
          body = result_text(*r, rec.id);
        }
        rec.finished_ms = wall_clock_ms();
        rec.body = body;
        if (self->st_->writer != nullptr)
          self->st_->writer->record(std::move(rec));
        if (wait) {
          auto res = make(status, body + "\n");
          if (status == 429)
            res.set(http::field::retry_after, "1");
          self->reply(std::move(res), keep);
        }
        self->st_->invocation_done();
      },
      invoke_request{key, request_.body()});
  }

  /// A record as the API gives it.
  static json record_json(const invocation_record& rec) {
    json out = rec.body.empty() ? json::object()
                                : json::parse(rec.body, nullptr, false);
    if (!out.is_object())
      out = json::object();
    out["id"] = rec.id;
    out["task"] = rec.task;
    out["status"] = rec.status;
    out["created_ms"] = rec.created_ms;
    out["finished_ms"] = rec.finished_ms > 0 ? json(rec.finished_ms)
                                             : json(nullptr);
    return out;
  }

  void invocation(const tenant_config* tenant, uint64_t id, bool keep) {
    if (!need_state(keep))
      return;
    auto self = shared_from_this();
    auto t = tenant_name(tenant);
    st_->on_writer(
      [=](state_store& store) -> deployments::answer {
        auto rec = store.record(id);
        if (!rec || rec->tenant != t)
          return {404, {{"error", "no invocation " + std::to_string(id)}}};
        return {200, record_json(*rec)};
      },
      [self, keep](deployments::answer a) { self->reply_json(a, keep); });
  }

  void invocations(const tenant_config* tenant,
                   const std::map<std::string, std::string>& query, bool keep) {
    if (!need_state(keep))
      return;
    size_t limit = 20;
    std::string task;
    for (auto& [k, v] : query) {
      if (k == "limit") {
        if (v.empty() || v.size() > 4
            || v.find_first_not_of("0123456789") != std::string::npos
            || std::stoul(v) < 1 || std::stoul(v) > 1000) {
          reply(error(400, "limit must be a whole number from 1 to 1000"),
                keep);
          return;
        }
        limit = std::stoul(v);
      } else if (k == "task") {
        task = v;
      } else {
        reply(error(400, "unknown parameter '" + k + "' (known: task, limit)"),
              keep);
        return;
      }
    }
    auto self = shared_from_this();
    auto t = tenant_name(tenant);
    st_->on_writer(
      [=](state_store& store) -> deployments::answer {
        json out = json::array();
        for (auto& rec : store.records(t, task, limit))
          out.push_back(record_json(rec));
        return {200, {{"invocations", out}}};
      },
      [self, keep](deployments::answer a) { self->reply_json(a, keep); });
  }

  void profile(const std::string& key, const std::string& name, bool keep) {
    auto self = shared_from_this();
    st_->ask<task_profile>(
      st_->cluster.registry(),
      [self, keep, name](task_profile* p, std::string err) {
        if (p == nullptr) {
          self->reply(error(500, "registry unavailable: " + err), keep);
        } else {
          p->task = name;
          self->reply(make(200, text(to_json(*p)) + "\n"), keep);
        }
      },
      caf::get_atom::value, key);
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

  void instances(const tenant_config* tenant, bool keep) {
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
        [self, keep, collected, left, tenant](instance_status* s, std::string) {
          if (s != nullptr) {
            // Only the tasks the tenant sees, by the names it knows.
            std::vector<std::string> warm;
            for (auto& w : s->warm)
              if (self->sees(tenant, w))
                warm.push_back(visible_name(tenant, w));
            s->warm = std::move(warm);
            collected->push_back(to_json(*s));
          }
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
  uint64_t body_limit_ = 0;
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
