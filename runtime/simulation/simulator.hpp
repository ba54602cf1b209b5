#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "augur/runtime/simulation/scenario.hpp"

namespace augur {

/// Runs a scenario in virtual time through the real actors (frontend,
/// instances, registry, probes, services), placed by `policy`, and returns
/// the report (see README: "augur simulate"). The same scenario and seed
/// give the same report, but for `wall_s` and the speed figures. With
/// `progress`, a line there says how far the replay is (policy,
/// invocations replayed, rate, time left), rewritten in place about twice a
/// second: meant for a terminal.
nlohmann::json simulate(const scenario& sc, placement_policy policy,
                        uint64_t seed, std::ostream* progress = nullptr);

/// The report without the fields that depend on the machine (wall time and
/// speed): what must be equal for equal inputs.
nlohmann::json deterministic_part(nlohmann::json report);

} // namespace augur
