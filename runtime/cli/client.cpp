#include "augur/runtime/cli/client.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "augur/runtime/state/code_archive.hpp"

namespace augur {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;

namespace {

/// Could not ask augur (exit 2).
struct unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct reply {
  unsigned status = 0;
  std::string body;
  json doc;
};

/// One HTTP request to the API, synchronous (a command line waits anyway).
reply call(const std::string& url, const std::string& token, http::verb verb,
           const std::string& path, const std::string& body = "",
           const std::string& type = "application/octet-stream") {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw unreachable("--url must start with http:// (got '" + url + "')");
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  auto colon = authority.rfind(':');
  auto host = authority.substr(0, colon);
  auto port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (host.empty())
    throw unreachable("--url names no host ('" + url + "')");
  asio::io_context io;
  beast::tcp_stream stream{io};
  try {
    asio::ip::tcp::resolver resolver{io};
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, port));
  } catch (const std::exception& e) {
    throw unreachable("cannot reach augur at " + url + ": " + e.what());
  }
  http::request<http::string_body> req{verb, prefix + path, 11};
  req.set(http::field::host, authority);
  req.set(http::field::user_agent, "augur-cli");
  if (!token.empty())
    req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty() || verb == http::verb::put || verb == http::verb::post) {
    req.set(http::field::content_type, type);
    req.body() = body;
  }
  req.prepare_payload();
  reply r;
  try {
    // An invocation may run as long as its task's time limit allows.
    stream.expires_after(std::chrono::hours(1));
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    r.status = parser.get().result_int();
    r.body = parser.get().body();
  } catch (const std::exception& e) {
    throw unreachable("augur at " + url + " did not answer: " + e.what());
  }
  r.doc = json::parse(r.body, nullptr, false);
  return r;
}

std::string encode(const std::string& x) {
  std::ostringstream out;
  for (unsigned char c : x) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out << c;
    else
      out << '%' << std::uppercase << std::hex << std::setw(2)
          << std::setfill('0') << static_cast<int>(c);
  }
  return out.str();
}

std::string str(const json& x) {
  if (x.is_null())
    return "-";
  if (x.is_string())
    return x.get<std::string>();
  if (x.is_boolean())
    return x.get<bool>() ? "yes" : "no";
  if (x.is_number_float()) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(2) << x.get<double>();
    return out.str();
  }
  if (x.is_array()) {
    std::string out;
    for (auto& e : x)
      out += (out.empty() ? "" : " ") + str(e);
    return out.empty() ? "-" : out;
  }
  return x.dump();
}

std::string field(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) ? str(doc[key]) : "-";
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw unreachable("cannot read " + path);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

std::string when(const json& ms) {
  if (!ms.is_number())
    return "-";
  auto t = static_cast<std::time_t>(ms.get<int64_t>() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream out;
  out << std::put_time(&tm, "%Y-%m-%d %H:%M:%S") << "Z";
  return out.str();
}

} // namespace

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i)
    width[i] = header[i].size();
  for (auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size())
        text += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << text << "\n";
  };
  line(header);
  for (auto& r : rows)
    line(r);
  return out.str();
}

struct client_commands::options {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  bool json = false;
  // task deploy
  std::string name;
  std::string code;
  std::vector<std::string> command;
  std::vector<std::string> hints;
  std::vector<std::string> env;
  std::string setup;
  double timeout_ms = 0;
  uint64_t memory_mb = 0;
  bool idempotent = false;
  // invoke
  std::string data;
  bool async = false;
  // invocation
  uint64_t id = 0;
  std::string task_filter;
  uint32_t limit = 20;
  CLI::App* deploy = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* invoke = nullptr;
  CLI::App* inv_show = nullptr;
  CLI::App* inv_list = nullptr;
  CLI::App* profile = nullptr;
  CLI::App* channels = nullptr;
  CLI::App* instances = nullptr;
};

client_commands::client_commands() : opts_(std::make_unique<options>()) {
  // nop
}

client_commands::~client_commands() = default;

namespace {

/// `--url`, `--token` and `--json` on a client subcommand.
void common(CLI::App* cmd, client_commands::options& o) {
  // (AUGUR_URL and AUGUR_TOKEN are read in `run`: every subcommand shares
  // these variables, and CLI11 would let an unused one's environment
  // override what the used one was given.)
  cmd->add_option("--url", o.url, "augur's API (or AUGUR_URL)")
    ->capture_default_str();
  cmd->add_option("--token", o.token,
                  "A tenant's bearer token (or AUGUR_TOKEN)");
  cmd->add_flag("--json", o.json, "Print augur's JSON answer as it is");
  cmd->footer(cmd->get_footer()
              + "\n\nExit status: 0 success; 1 augur answered that it failed "
                "(a failed invocation, a refused request); 2 a usage error or "
                "augur could not be reached.");
}

} // namespace

void client_commands::attach(CLI::App& app) {
  auto& o = *opts_;
  auto* task = app.add_subcommand("task", "Deploy, list, show and delete tasks "
                                          "over the API");
  task->require_subcommand(1);
  o.deploy = task->add_subcommand(
    "deploy", "Deploy (or redeploy: a new version) a task and its code");
  o.deploy->add_option("name", o.name, "Task name")->required();
  o.deploy->add_option("--code", o.code,
                       "A directory (packed as .tar.gz) or a .tar.gz/.zip");
  o.deploy->add_option("--hint", o.hints, "A service the task uses (repeat)");
  o.deploy->add_option("--env", o.env, "KEY=VALUE in its environment (repeat)");
  o.deploy->add_option("--setup", o.setup,
                       "A command run once per instance at a cold start");
  o.deploy->add_option("--timeout-ms", o.timeout_ms, "Time limit of one run")
    ->check(CLI::Range(1.0, 3.6e6));
  o.deploy->add_option("--memory-mb", o.memory_mb, "Address-space limit");
  o.deploy->add_flag("--idempotent", o.idempotent,
                     "Safe to run again when its instance is lost mid-run");
  o.deploy->add_option("command", o.command, "The program and its arguments")
    ->required();
  o.deploy->footer(
    "Example:\n  augur task deploy greet --code ./greet --hint cache -- "
    "python3 main.py");
  common(o.deploy, o);
  o.list = task->add_subcommand("list", "The tasks this tenant may use");
  o.list->footer("Example:\n  augur task list");
  common(o.list, o);
  o.show = task->add_subcommand("show", "A task's definition and version");
  o.show->add_option("name", o.name, "Task name")->required();
  o.show->footer("Example:\n  augur task show greet");
  common(o.show, o);
  o.remove = task->add_subcommand(
    "delete", "Delete a deployed task (running executions finish)");
  o.remove->add_option("name", o.name, "Task name")->required();
  o.remove->footer("Example:\n  augur task delete greet");
  common(o.remove, o);

  o.invoke = app.add_subcommand("invoke", "Invoke a task and print its output");
  o.invoke->add_option("name", o.name, "Task name")->required();
  o.invoke->add_option("--data", o.data,
                       "The payload: TEXT, or @FILE for a file's bytes");
  o.invoke->add_flag("--async", o.async,
                     "Return at once with the invocation's id");
  o.invoke->footer("Examples:\n  augur invoke greet --data bob\n"
                   "  augur invoke greet --data @payload.json --async");
  common(o.invoke, o);

  auto* inv = app.add_subcommand("invocation", "Invocation records");
  inv->require_subcommand(1);
  o.inv_show = inv->add_subcommand("show", "One invocation's record");
  o.inv_show->add_option("id", o.id, "Its id")->required();
  o.inv_show->footer("Example:\n  augur invocation show 42");
  common(o.inv_show, o);
  o.inv_list = inv->add_subcommand("list", "The latest invocations");
  o.inv_list->add_option("--task", o.task_filter, "Only this task's");
  o.inv_list->add_option("--limit", o.limit, "At most this many")
    ->check(CLI::Range(1u, 1000u))
    ->capture_default_str();
  o.inv_list->footer(
    "Example:\n  augur invocation list --task greet --limit 5");
  common(o.inv_list, o);

  o.profile = app.add_subcommand(
    "profile", "What augur learned of the services a task uses");
  o.profile->add_option("name", o.name, "Task name")->required();
  o.profile->footer("Example:\n  augur profile greet");
  common(o.profile, o);
  o.channels = app.add_subcommand(
    "channels", "Measured channels from every host to every service");
  o.channels->footer("Example:\n  augur channels --json");
  common(o.channels, o);
  o.instances = app.add_subcommand("instances",
                                   "Instances: slots, load, warm tasks");
  o.instances->footer("Example:\n  augur instances");
  common(o.instances, o);
}

namespace {

/// Prints an error answer; returns the exit status for it.
int refused(const reply& r, std::ostream& err) {
  auto msg = r.doc.is_object() && r.doc.contains("error") ? str(r.doc["error"])
                                                          : r.body;
  err << "augur: " << r.status << ": " << msg << "\n";
  return 1;
}

int print_task(const json& t, std::ostream& out) {
  out << "name:        " << field(t, "name") << "\n"
      << "source:      " << field(t, "source") << "\n"
      << "version:     " << field(t, "version") << "\n"
      << "command:     " << field(t, "command") << "\n"
      << "hints:       " << field(t, "hints") << "\n"
      << "timeout_ms:  " << field(t, "timeout_ms") << "\n"
      << "memory_mb:   " << field(t, "memory_mb") << "\n"
      << "setup:       " << field(t, "setup") << "\n"
      << "idempotent:  " << field(t, "idempotent") << "\n";
  if (t.contains("code"))
    out << "code:        "
        << (t["code"].is_object() ? field(t["code"], "format") + ", "
                                      + field(t["code"], "bytes") + " bytes"
                                  : std::string{"-"})
        << "\n";
  if (t.contains("updated_ms"))
    out << "updated:     " << when(t["updated_ms"]) << "\n";
  return 0;
}

int print_record(const json& r, std::ostream& out) {
  out << "id:          " << field(r, "id") << "\n"
      << "task:        " << field(r, "task") << "\n"
      << "status:      " << field(r, "status") << "\n"
      << "created:     " << when(r.value("created_ms", json{})) << "\n"
      << "finished:    " << when(r.value("finished_ms", json{})) << "\n"
      << "host:        " << field(r, "host") << "\n"
      << "instance:    " << field(r, "instance") << "\n"
      << "latency_ms:  " << field(r, "latency_ms") << "\n"
      << "aux_ms:      " << field(r, "aux_ms") << "\n"
      << "cold_start:  " << field(r, "cold_start") << "\n";
  if (r.contains("reason") && r["reason"].is_object())
    out << "placement:   " << field(r["reason"], "policy") << " ("
        << field(r["reason"], "service") << " likelihood "
        << field(r["reason"], "likelihood") << ")\n";
  if (r.contains("error") && !str(r["error"]).empty() && str(r["error"]) != "-")
    out << "error:       " << field(r, "error") << "\n";
  out << "output:\n" << field(r, "output") << "\n";
  if (r.contains("log") && !str(r["log"]).empty() && str(r["log"]) != "-")
    out << "log:\n" << field(r, "log");
  return 0;
}

} // namespace

std::optional<int> client_commands::run(std::ostream& out, std::ostream& err) {
  auto& o = *opts_;
  CLI::App* used = nullptr;
  for (auto* cmd : {o.deploy, o.list, o.show, o.remove, o.invoke, o.inv_show,
                    o.inv_list, o.profile, o.channels, o.instances})
    if (cmd->parsed())
      used = cmd;
  if (used == nullptr)
    return std::nullopt;
  if (auto url = std::getenv("AUGUR_URL");
      url != nullptr && *url != '\0' && used->count("--url") == 0)
    o.url = url;
  if (auto token = std::getenv("AUGUR_TOKEN");
      token != nullptr && used->count("--token") == 0)
    o.token = token;
  auto get = [&](const std::string& path) {
    return call(o.url, o.token, http::verb::get, path);
  };
  auto json_or = [&](const reply& r, auto&& people) -> int {
    if (r.status >= 400
        && !(o.invoke->parsed() && r.doc.is_object()
             && r.doc.contains("status"))) {
      if (o.json)
        out << r.body;
      return refused(r, err);
    }
    if (o.json) {
      out << r.body;
      if (!r.body.empty() && r.body.back() != '\n')
        out << "\n";
      return r.status >= 400 ? 1 : 0;
    }
    return people(r.doc);
  };
  try {
    if (o.deploy->parsed()) {
      json def{{"command", o.command}, {"hints", o.hints}};
      if (o.timeout_ms > 0)
        def["timeout_ms"] = o.timeout_ms;
      if (o.memory_mb > 0)
        def["memory_mb"] = o.memory_mb;
      if (o.idempotent)
        def["idempotent"] = true;
      if (!o.setup.empty())
        def["setup"] = json::array({"sh", "-c", o.setup});
      json env = json::object();
      for (auto& kv : o.env) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          err << "augur: --env wants KEY=VALUE, not '" << kv << "'\n";
          return 2;
        }
        env[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      if (!env.empty())
        def["env"] = env;
      std::string archive;
      if (!o.code.empty()) {
        try {
          archive = std::filesystem::is_directory(o.code)
                      ? pack_directory(o.code)
                      : read_file(o.code);
        } catch (const std::exception& e) {
          err << "augur: --code " << o.code << ": " << e.what() << "\n";
          return 2;
        }
      }
      auto path = "/v1/tasks/" + encode(o.name);
      auto r = call(o.url, o.token, http::verb::put, path, def.dump(),
                    "application/json");
      if (r.status >= 400)
        return json_or(r, [](const json&) { return 1; });
      if (!archive.empty()) {
        r = call(o.url, o.token, http::verb::put, path + "/code", archive);
        if (r.status >= 400)
          return json_or(r, [](const json&) { return 1; });
      }
      return json_or(r, [&](const json& t) {
        out << "deployed " << field(t, "name") << " version "
            << field(t, "version");
        if (t.contains("code") && t["code"].is_object())
          out << " (" << field(t["code"], "format") << ", "
              << field(t["code"], "bytes") << " bytes of code)";
        out << "\n";
        return 0;
      });
    }
    if (o.list->parsed()) {
      auto r = get("/v1/tasks");
      return json_or(r, [&](const json& doc) {
        std::vector<std::vector<std::string>> rows;
        for (auto& name : doc.value("tasks", json::array())) {
          auto t = get("/v1/tasks/" + encode(str(name)));
          rows.push_back({str(name), field(t.doc, "source"),
                          field(t.doc, "version"), field(t.doc, "command")});
        }
        out << format_table({"NAME", "SOURCE", "VERSION", "COMMAND"}, rows);
        return 0;
      });
    }
    if (o.show->parsed())
      return json_or(get("/v1/tasks/" + encode(o.name)),
                     [&](const json& t) { return print_task(t, out); });
    if (o.remove->parsed()) {
      auto r = call(o.url, o.token, http::verb::delete_,
                    "/v1/tasks/" + encode(o.name));
      return json_or(r, [&](const json&) {
        out << "deleted " << o.name << "\n";
        return 0;
      });
    }
    if (o.invoke->parsed()) {
      std::string payload = o.data;
      if (!payload.empty() && payload.front() == '@')
        payload = read_file(payload.substr(1));
      auto path = "/v1/tasks/" + encode(o.name) + "/invoke"
                  + (o.async ? "?wait=false" : "");
      auto r = call(o.url, o.token, http::verb::post, path, payload);
      return json_or(r, [&](const json& doc) {
        if (o.async) {
          out << field(doc, "id") << "\n";
          return 0;
        }
        auto status = field(doc, "status");
        if (status != "ok") {
          err << "augur: invocation " << field(doc, "id") << " " << status
              << ": " << field(doc, "error") << "\n";
          if (doc.contains("log") && doc["log"].is_string())
            err << doc["log"].get<std::string>();
          return 1;
        }
        out << field(doc, "output");
        if (doc["output"].is_string()
            && (doc["output"].get<std::string>().empty()
                || doc["output"].get<std::string>().back() != '\n'))
          out << "\n";
        return 0;
      });
    }
    if (o.inv_show->parsed())
      return json_or(get("/v1/invocations/" + std::to_string(o.id)),
                     [&](const json& r) { return print_record(r, out); });
    if (o.inv_list->parsed()) {
      auto path = "/v1/invocations?limit=" + std::to_string(o.limit);
      if (!o.task_filter.empty())
        path += "&task=" + encode(o.task_filter);
      return json_or(get(path), [&](const json& doc) {
        std::vector<std::vector<std::string>> rows;
        for (auto& r : doc.value("invocations", json::array()))
          rows.push_back({field(r, "id"), field(r, "task"), field(r, "status"),
                          field(r, "latency_ms"), field(r, "instance"),
                          when(r.value("created_ms", json{}))});
        out << format_table(
          {"ID", "TASK", "STATUS", "LATENCY_MS", "INSTANCE", "CREATED"}, rows);
        return 0;
      });
    }
    if (o.profile->parsed())
      return json_or(
        get("/v1/tasks/" + encode(o.name) + "/profile"), [&](const json& p) {
          std::vector<std::vector<std::string>> rows;
          for (auto& s : p.value("services", json::array()))
            rows.push_back({field(s, "service"), field(s, "likelihood"),
                            field(s, "round_trips"), field(s, "bytes_out"),
                            field(s, "evidence"), field(s, "hinted")});
          out << "task " << field(p, "task") << ", " << field(p, "observations")
              << " observations\n"
              << format_table({"SERVICE", "LIKELIHOOD", "ROUND_TRIPS",
                               "BYTES_OUT", "EVIDENCE", "HINTED"},
                              rows);
          return 0;
        });
    if (o.channels->parsed())
      return json_or(get("/v1/channels"), [&](const json& doc) {
        std::vector<std::vector<std::string>> rows;
        for (auto& c : doc.value("channels", json::array()))
          rows.push_back({field(c, "host"), field(c, "service"),
                          field(c, "srtt_ms"), field(c, "rttvar_ms"),
                          field(c, "loss"), field(c, "state")});
        out << format_table(
          {"HOST", "SERVICE", "SRTT_MS", "RTTVAR_MS", "LOSS", "STATE"}, rows);
        return 0;
      });
    if (o.instances->parsed())
      return json_or(get("/v1/instances"), [&](const json& doc) {
        std::vector<std::vector<std::string>> rows;
        for (auto& i : doc.value("instances", json::array()))
          rows.push_back({field(i, "name"), field(i, "zone"), field(i, "slots"),
                          field(i, "busy"), field(i, "executions"),
                          field(i, "cold_starts"), field(i, "warm")});
        out << format_table({"NAME", "ZONE", "SLOTS", "BUSY", "EXECUTIONS",
                             "COLD_STARTS", "WARM"},
                            rows);
        return 0;
      });
  } catch (const unreachable& e) {
    err << "augur: " << e.what() << "\n";
    return 2;
  }
  return std::nullopt;
}

} // namespace augur
