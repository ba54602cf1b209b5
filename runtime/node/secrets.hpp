#pragma once

#include <array>
#include <string_view>

namespace augur {

/// A secret as it is compared: its SHA-256 digest. Comparing digests of
/// equal length in constant time tells a caller nothing from how long a
/// wrong secret took to refuse, neither its contents nor its length.
class secret_digest {
public:
  secret_digest() = default;

  explicit secret_digest(std::string_view secret);

  /// Constant time (OpenSSL's CRYPTO_memcmp).
  bool operator==(const secret_digest& other) const noexcept;

private:
  std::array<unsigned char, 32> bytes_{};
};

/// True when `given` equals `expected`, compared as digests.
bool same_secret(std::string_view given, std::string_view expected);

} // namespace augur
