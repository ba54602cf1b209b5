#pragma once

#include <string>
#include <string_view>

namespace augur {

/// True when `given` equals `expected`, in time that depends on neither
/// their contents nor their lengths (both are hashed with SHA-256 first, the
/// digests compared with OpenSSL's CRYPTO_memcmp): a caller learns nothing
/// from how long a wrong token took to refuse.
bool same_secret(std::string_view given, std::string_view expected);

} // namespace augur
