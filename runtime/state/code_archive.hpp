#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace augur {

/// An archive refused: `status` is the HTTP status that says why (400 a
/// damaged or unsafe archive, 413 one too large once unpacked).
class archive_error : public std::runtime_error {
public:
  archive_error(unsigned status, const std::string& what)
    : std::runtime_error(what), status_(status) {
    // nop
  }

  unsigned status() const noexcept {
    return status_;
  }

private:
  unsigned status_;
};

/// What unpacking may produce at most.
struct archive_limits {
  uint64_t max_unpacked_bytes = 256u << 20;
  uint64_t max_entries = 10000;
};

/// Checks every entry of a `.tar.gz` (or `.tar`, or `.zip`) archive held in
/// `bytes`, then unpacks it into `dir` (made anew). Refuses, before writing
/// anything: an entry whose path is absolute or climbs out with `..`, a
/// symbolic or hard link that points out of the directory, a device file,
/// FIFO or socket, more than the limits allow, and a damaged or truncated
/// archive. Ownership is not restored and set-id bits are dropped. Returns
/// the format (`tar.gz`, `tar` or `zip`). Throws `archive_error`.
std::string unpack_code(const std::string& bytes, const std::string& dir,
                        const archive_limits& limits);

/// A `.tar.gz` of the regular files, directories and symbolic links under
/// `dir` (paths relative to it). Throws `std::runtime_error`.
std::string pack_directory(const std::string& dir);

} // namespace augur
