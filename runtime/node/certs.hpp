#pragma once

#include <string>
#include <vector>

namespace augur {

/// What `augur certs` makes for a cluster: its own certificate authority,
/// and a certificate and key per node signed by it. Nodes present their
/// certificate and accept only peers whose certificate chains to the
/// authority: the authority is the cluster's identity (CAF's TLS checks no
/// host name).
struct cluster_certs {
  std::string ca_cert;
  std::string ca_key;
  /// Per node: its certificate and key files.
  std::vector<std::pair<std::string, std::string>> nodes;
};

/// Makes (or reuses, when `dir/ca.pem` and `dir/ca.key` both exist and
/// match; one without the other is an error, never a new authority) the
/// authority in `dir`, and `dir/NAME.pem` and `dir/NAME.key` for every name
/// in `nodes` (replacing what was there). EC P-256 keys, SHA-256
/// signatures, valid for `days`; every file is written 0600. Uses OpenSSL's
/// library, no shell. Throws `std::runtime_error` saying what failed.
cluster_certs make_cluster_certs(const std::string& dir,
                                 const std::vector<std::string>& nodes,
                                 int days = 825);

} // namespace augur
