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

/// The same documents as Markdown, as the README shows them: a table per
/// scenario (mean and p99 latency, time in services, after the first
/// minute, cold starts with pre-warms), then predictive against the targets
/// (every baseline's mean and p99, hash-home's cold starts, the oracle's
/// time in services after the first minute).
std::string markdown_tables(const std::vector<nlohmann::json>& documents);

} // namespace augur
