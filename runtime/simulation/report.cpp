#include "augur/runtime/simulation/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "augur/model/placement.hpp"

namespace augur {

namespace {

std::string format(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, x);
  return buf;
}

std::string escape(const std::string& x) {
  std::string out;
  for (auto c : x) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Policies in a fixed order: augur first, then its bound, then the rest.
std::vector<std::string> ordered_policies(const nlohmann::json& policies) {
  std::vector<std::string> names;
  auto add = [&](placement_policy p) {
    if (policies.contains(to_string(p))
        && std::find(names.begin(), names.end(), to_string(p)) == names.end())
      names.emplace_back(to_string(p));
  };
  add(placement_policy::predictive);
  add(placement_policy::oracle);
  for (auto p : all_placement_policies())
    add(p);
  for (auto& [k, _] : policies.items())
    if (std::find(names.begin(), names.end(), k) == names.end())
      names.push_back(k);
  return names;
}

std::string fixed2(double x) {
  return format("%.2f", x);
}

uint64_t cold_with_prewarms(const nlohmann::json& r) {
  return r.value("cold_starts", uint64_t{0}) + r.value("prewarms", uint64_t{0});
}

} // namespace

void print_reports(const std::vector<nlohmann::json>& reports,
                   std::ostream& out) {
  if (reports.empty())
    return;
  char line[512];
  std::snprintf(line, sizeof(line),
                "%-13s %8s %8s %6s %6s | %8s %8s %8s | %8s %8s %8s | %6s %6s\n",
                "policy", "invoked", "done", "rej", "fail", "mean ms", "p50 ms",
                "p99 ms", "aux mean", "aux p99", "aux>1min", "cold", "negot");
  out << line << std::string(118, '-') << "\n";
  for (auto& r : reports) {
    auto& l = r["latency_ms"];
    auto& a = r["aux_latency_ms"];
    std::snprintf(
      line, sizeof(line),
      "%-13s %8llu %8llu %6llu %6llu | %8.2f %8.2f %8.2f | %8.2f %8.2f %8.2f "
      "| %6llu %6llu\n",
      r["policy"].get<std::string>().c_str(),
      r["invocations"].get<unsigned long long>(),
      r["completed"].get<unsigned long long>(),
      r["rejected"].get<unsigned long long>(),
      r["failed"].get<unsigned long long>(), l["mean"].get<double>(),
      l["p50"].get<double>(), l["p99"].get<double>(), a["mean"].get<double>(),
      a["p99"].get<double>(),
      r["after_first_minute"]["aux_latency_ms"]["mean"].get<double>(),
      static_cast<unsigned long long>(cold_with_prewarms(r)),
      r["negotiations"].get<unsigned long long>());
    out << line;
  }
  auto& phases = reports.front()["phases"];
  if (phases.size() > 1) {
    out << "\nmean / p99 latency (ms) and mean aux (ms) by phase:\n";
    std::snprintf(line, sizeof(line), "%-13s", "policy");
    out << line;
    for (auto& p : phases) {
      auto label = format("%.0f", p["from_s"].get<double>()) + "-"
                   + format("%.0f", p["to_s"].get<double>()) + " s";
      std::snprintf(line, sizeof(line), " | %-22s", label.c_str());
      out << line;
    }
    out << "\n";
    for (auto& r : reports) {
      std::snprintf(line, sizeof(line), "%-13s",
                    r["policy"].get<std::string>().c_str());
      out << line;
      for (auto& p : r["phases"]) {
        auto cell
          = format("%.1f", p["latency_ms"]["mean"].get<double>()) + " / "
            + format("%.1f", p["latency_ms"]["p99"].get<double>()) + " / "
            + format("%.2f", p["aux_latency_ms"]["mean"].get<double>());
        std::snprintf(line, sizeof(line), " | %-22s", cell.c_str());
        out << line;
      }
      out << "\n";
    }
  }
  out << "\n(rej: rejected, queue full; aux: time in service calls; aux>1min: "
         "mean aux of invocations after the first minute; negot: "
         "negotiated placements)\n";
}

std::string plot_svg(const std::vector<nlohmann::json>& documents) {
  static const char* colors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                 "#66a61e", "#e6ab02", "#a6761d"};
  static const std::vector<std::pair<const char*, const char*>> metrics{
    {"mean latency", "latency_ms/mean"},
    {"p99 latency", "latency_ms/p99"},
    {"mean aux", "aux_latency_ms/mean"},
    {"p99 aux", "aux_latency_ms/p99"}};
  const int panel_w = 640;
  const int panel_h = 260;
  const int margin = 50;
  std::ostringstream svg;
  auto height = static_cast<int>(documents.size()) * (panel_h + 40) + 60;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << panel_w + 2 * margin << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  int y0 = 20;
  for (auto& doc : documents) {
    auto& policies = doc["policies"];
    auto names = ordered_policies(policies);
    auto value = [&](const std::string& policy, const char* path) {
      return policies[policy]
                     [nlohmann::json::json_pointer{std::string{"/"} + path}]
                       .get<double>();
    };
    auto scenario = doc.value("scenario", std::string{"scenario"});
    svg << "<text x=\"" << margin << "\" y=\"" << y0 + 12
        << "\" font-size=\"13\" font-weight=\"bold\">" << escape(scenario)
        << " (ms; each group scaled to its largest bar)</text>\n";
    int base = y0 + 20 + panel_h - 40;
    int plot_h = panel_h - 60;
    svg << "<line x1=\"" << margin << "\" y1=\"" << base << "\" x2=\""
        << margin + panel_w << "\" y2=\"" << base << "\" stroke=\"black\"/>\n";
    auto group_w = panel_w / static_cast<int>(metrics.size());
    auto bar_w = std::max(4, (group_w - 20) / std::max<int>(1, names.size()));
    for (size_t m = 0; m < metrics.size(); ++m) {
      auto gx = margin + static_cast<int>(m) * group_w + 10;
      double top = 0;
      for (auto& n : names)
        top = std::max(top, value(n, metrics[m].second));
      top = top <= 0 ? 1 : top * 1.15;
      for (size_t p = 0; p < names.size(); ++p) {
        auto v = value(names[p], metrics[m].second);
        auto h = static_cast<int>(v / top * plot_h);
        auto x = gx + static_cast<int>(p) * bar_w;
        svg << "<rect x=\"" << x << "\" y=\"" << base - h << "\" width=\""
            << bar_w - 2 << "\" height=\"" << h << "\" fill=\"" << colors[p % 7]
            << "\"><title>" << escape(names[p]) << " " << metrics[m].first
            << ": " << format("%.2f", v) << " ms</title></rect>\n";
        svg << "<text x=\"" << x + (bar_w - 2) / 2 << "\" y=\"" << base - h - 3
            << "\" text-anchor=\"middle\" font-size=\"8\">"
            << format(v < 10 ? "%.1f" : "%.0f", v) << "</text>\n";
      }
      svg << "<text x=\"" << gx + (bar_w * static_cast<int>(names.size())) / 2
          << "\" y=\"" << base + 14 << "\" text-anchor=\"middle\">"
          << metrics[m].first << "</text>\n";
    }
    for (size_t p = 0; p < names.size(); ++p) {
      auto lx = margin + static_cast<int>(p) * 105;
      svg << "<rect x=\"" << lx << "\" y=\"" << base + 22
          << "\" width=\"10\" height=\"10\" fill=\"" << colors[p % 7]
          << "\"/><text x=\"" << lx + 14 << "\" y=\"" << base + 31 << "\">"
          << escape(names[p]) << "</text>\n";
    }
    y0 += panel_h + 40;
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string markdown_tables(const std::vector<nlohmann::json>& documents) {
  std::ostringstream md;
  std::ostringstream summary;
  summary << "| scenario | mean: predictive / best baseline | p99: predictive "
             "/ best baseline | cold starts: predictive / hash-home | aux "
             "after 1 min: predictive / oracle |\n"
          << "| --- | ---: | ---: | ---: | ---: |\n";
  for (auto& doc : documents) {
    if (!doc.contains("policies") || doc["policies"].empty())
      continue;
    auto& policies = doc.at("policies");
    auto names = ordered_policies(policies);
    auto scenario = doc.value("scenario", std::string{"scenario"});
    auto slash = scenario.find_last_of('/');
    auto name = scenario.substr(slash == std::string::npos ? 0 : slash + 1);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0)
      name.resize(name.size() - 5);
    auto& first = policies[names.front()];
    md << "**" << name << "** (" << first.value("invocations", uint64_t{0})
       << " invocations)\n\n"
       << "| policy | mean ms | p99 ms | aux mean ms | aux p99 ms | aux mean "
          "after 1 min | cold starts |\n"
       << "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (auto& p : names) {
      auto& r = policies[p];
      md << "| " << p << " | " << fixed2(r["latency_ms"]["mean"].get<double>())
         << " | " << fixed2(r["latency_ms"]["p99"].get<double>()) << " | "
         << fixed2(r["aux_latency_ms"]["mean"].get<double>()) << " | "
         << fixed2(r["aux_latency_ms"]["p99"].get<double>()) << " | "
         << fixed2(
              r["after_first_minute"]["aux_latency_ms"]["mean"].get<double>())
         << " | " << cold_with_prewarms(r);
      if (r.value("prewarms", uint64_t{0}) > 0)
        md << " (" << r["prewarms"].get<uint64_t>() << " pre-warms)";
      md << " |\n";
    }
    md << "\n";
    if (!policies.contains("predictive"))
      continue;
    auto& p = policies["predictive"];
    double best_mean = INFINITY;
    double best_p99 = INFINITY;
    for (auto& n : names) {
      if (n == "predictive" || n == "oracle")
        continue;
      best_mean = std::min(best_mean,
                           policies[n]["latency_ms"]["mean"].get<double>());
      best_p99 = std::min(best_p99,
                          policies[n]["latency_ms"]["p99"].get<double>());
    }
    auto ratio = [](double a, double b) {
      return std::isfinite(b) && b > 0 ? fixed2(a / b) : std::string{"-"};
    };
    summary << "| " << name << " | "
            << ratio(p["latency_ms"]["mean"].get<double>(), best_mean) << " | "
            << ratio(p["latency_ms"]["p99"].get<double>(), best_p99) << " | ";
    if (policies.contains("hash-home"))
      summary << ratio(
        static_cast<double>(cold_with_prewarms(p)),
        static_cast<double>(cold_with_prewarms(policies["hash-home"])));
    else
      summary << "-";
    summary << " | ";
    if (policies.contains("oracle"))
      summary << ratio(
        p["after_first_minute"]["aux_latency_ms"]["mean"].get<double>(),
        policies["oracle"]["after_first_minute"]["aux_latency_ms"]["mean"]
          .get<double>());
    else
      summary << "-";
    summary << " |\n";
  }
  md << summary.str();
  return md.str();
}

} // namespace augur
