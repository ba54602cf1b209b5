#pragma once

#include <chrono>

#include <caf/actor_clock.hpp>
#include <caf/local_actor.hpp>
#include <caf/timespan.hpp>

namespace augur {

/// Milliseconds on the actor's clock: real time normally, virtual time under
/// CAF's test coordinator. Actors read time only through this.
inline double now_ms(const caf::local_actor* self) {
  using ms = std::chrono::duration<double, std::milli>;
  return std::chrono::duration_cast<ms>(self->clock().now().time_since_epoch())
    .count();
}

/// Converts milliseconds to CAF's timespan (nanoseconds), rounding.
inline caf::timespan to_timespan(double ms) {
  return caf::timespan{static_cast<caf::timespan::rep>(ms * 1e6 + 0.5)};
}

} // namespace augur
