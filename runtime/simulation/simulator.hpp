#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "augur/runtime/simulation/scenario.hpp"

namespace augur {

/// Runs a scenario in virtual time through the real actors (frontend,
/// instances, registry, probes, services), placed by `policy`, and returns
/// the report (see README: "augur simulate"). The same scenario and seed
/// give the same report, but for `wall_s` and the speed figures.
nlohmann::json simulate(const scenario& sc, placement_policy policy,
                        uint64_t seed);

/// The report without the fields that depend on the machine (wall time and
/// speed): what must be equal for equal inputs.
nlohmann::json deterministic_part(nlohmann::json report);

} // namespace augur
