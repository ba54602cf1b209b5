#include "augur/runtime/node/secrets.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace augur {

secret_digest::secret_digest(std::string_view secret) {
  unsigned int n = 0;
  if (EVP_Digest(secret.data(), secret.size(), bytes_.data(), &n, EVP_sha256(),
                 nullptr)
        != 1
      || n != bytes_.size())
    throw std::runtime_error("SHA-256 failed");
}

bool secret_digest::operator==(const secret_digest& other) const noexcept {
  return CRYPTO_memcmp(bytes_.data(), other.bytes_.data(), bytes_.size()) == 0;
}

bool same_secret(std::string_view given, std::string_view expected) {
  return secret_digest{given} == secret_digest{expected};
}

} // namespace augur
