#include "augur/runtime/node/secrets.hpp"

#include <array>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace augur {

namespace {

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view x) {
  digest d{};
  unsigned int n = 0;
  if (EVP_Digest(x.data(), x.size(), d.data(), &n, EVP_sha256(), nullptr) != 1
      || n != d.size())
    throw std::runtime_error("SHA-256 failed");
  return d;
}

} // namespace

bool same_secret(std::string_view given, std::string_view expected) {
  auto a = sha256(given);
  auto b = sha256(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace augur
