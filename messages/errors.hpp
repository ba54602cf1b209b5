#pragma once

// augur's errors: what one actor answers another when a request cannot be
// served, as values (`caf::error` in augur's category), never as exceptions
// thrown out of a handler. Failures of an invocation itself travel in its
// `invoke_result` (`outcome` and `error`), so callers always get an answer.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace augur {

/// The category of augur's errors in `caf::error`.
constexpr caf::atom_value error_category = caf::atom("augur");

/// augur's error codes (0 is no error, as in CAF).
enum class ec : uint8_t {
  /// A node presented another cluster's secret at the gate.
  wrong_secret = 1,
  /// A request named a task that is not defined.
  unknown_task,
  /// A request named an instance that is not (or no longer) there.
  unknown_instance,
  /// A worker node could not install a deployed task (its code).
  not_installed,
};

/// The code's name (`wrong_secret`, ...).
const char* to_string(ec x);

/// An error of augur's category, with a sentence of context.
caf::error make_error(ec x, std::string context = "");

} // namespace augur
