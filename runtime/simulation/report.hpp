#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace augur {

/// Prints simulation reports (one per policy) as a table, then their phases.
void print_reports(const std::vector<nlohmann::json>& reports,
                   std::ostream& out);

/// Draws an SVG bar chart: one panel per document (the JSON of
/// `augur simulate --policy all --json`), bars per policy for mean latency,
/// p99 latency and mean time in services.
std::string plot_svg(const std::vector<nlohmann::json>& documents);

} // namespace augur
