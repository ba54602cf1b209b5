#include "augur/runtime/node/certs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace augur {

namespace {

template <class T, void (*F)(T*)>
struct deleter {
  void operator()(T* x) const {
    F(x);
  }
};

using key_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using cert_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const std::string& what) {
  auto code = ERR_get_error();
  std::string detail;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    detail = std::string{": "} + buf;
  }
  throw std::runtime_error(what + detail);
}

key_ptr new_key() {
  key_ptr k{EVP_EC_gen("P-256")};
  if (!k)
    fail("cannot make an EC P-256 key");
  return k;
}

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  auto ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr)
    fail(std::string{"cannot add the extension "} + value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `cn` and `key`, signed by `issuer` with `issuer_key`
/// (self-signed when `issuer` is null: the authority).
cert_ptr new_cert(const std::string& cn, EVP_PKEY* key, X509* issuer,
                  EVP_PKEY* issuer_key, int days) {
  cert_ptr x{X509_new()};
  if (!x)
    fail("cannot make a certificate");
  X509_set_version(x.get(), 2);
  // A random 127-bit serial, as RFC 5280 wants them unique.
  std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>> serial{BN_new()};
  if (!serial
      || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1
      || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get()))
           == nullptr)
    fail("cannot make a serial number");
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(x.get(), key);
  auto name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("augur"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  auto self_signed = issuer == nullptr;
  X509_set_issuer_name(x.get(),
                       self_signed ? name : X509_get_subject_name(issuer));
  auto signer = self_signed ? x.get() : issuer;
  add_ext(x.get(), signer, NID_subject_key_identifier, "hash");
  if (self_signed) {
    add_ext(x.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), signer, NID_authority_key_identifier, "keyid:always");
    add_ext(x.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_ext(x.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  if (X509_sign(x.get(), self_signed ? key : issuer_key, EVP_sha256()) == 0)
    fail("cannot sign the certificate of " + cn);
  return x;
}

std::string pem_of(EVP_PKEY* key) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  if (!b
      || PEM_write_bio_PrivateKey(b.get(), key, nullptr, nullptr, 0, nullptr,
                                  nullptr)
           != 1)
    fail("cannot write a key");
  char* data = nullptr;
  auto n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pem_of(X509* x) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  if (!b || PEM_write_bio_X509(b.get(), x) != 1)
    fail("cannot write a certificate");
  char* data = nullptr;
  auto n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

/// Writes `text` to `path`, readable and writable by its owner only.
void write_private(const std::string& path, const std::string& text) {
  // Never through a link someone left in the directory.
  auto fd = ::open(path.c_str(),
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path + ": "
                             + std::strerror(errno));
  // An existing file keeps its mode on open: set it.
  auto ok = ::fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (ok && done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    if (ok)
      done += static_cast<size_t>(n);
  }
  auto err = errno;
  ::close(fd);
  if (!ok)
    throw std::runtime_error("cannot write " + path + ": "
                             + std::strerror(err));
}

template <class T, class Read>
T read_pem(const std::string& path, Read read) {
  std::unique_ptr<FILE, int (*)(FILE*)> f{std::fopen(path.c_str(), "r"),
                                          &std::fclose};
  if (!f)
    throw std::runtime_error("cannot read " + path + ": "
                             + std::strerror(errno));
  T x{read(f.get())};
  if (!x)
    fail("cannot read " + path);
  return x;
}

} // namespace

cluster_certs make_cluster_certs(const std::string& dir,
                                 const std::vector<std::string>& nodes,
                                 int days) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  cluster_certs out;
  out.ca_cert = (fs::path{dir} / "ca.pem").string();
  out.ca_key = (fs::path{dir} / "ca.key").string();
  key_ptr ca_key;
  cert_ptr ca;
  auto has_cert = fs::exists(out.ca_cert);
  auto has_key = fs::exists(out.ca_key);
  if (has_cert != has_key)
    throw std::runtime_error(
      (has_cert ? out.ca_key : out.ca_cert)
      + " is missing while its pair is there: refusing to replace the "
        "cluster's authority (move both away to make a new one)");
  if (has_cert) {
    ca_key = read_pem<key_ptr>(out.ca_key, [](FILE* f) {
      return PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    });
    ca = read_pem<cert_ptr>(out.ca_cert, [](FILE* f) {
      return PEM_read_X509(f, nullptr, nullptr, nullptr);
    });
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1)
      fail(out.ca_key + " is not the key of " + out.ca_cert);
  } else {
    ca_key = new_key();
    ca = new_cert("augur cluster authority", ca_key.get(), nullptr, nullptr,
                  days);
    write_private(out.ca_key, pem_of(ca_key.get()));
    write_private(out.ca_cert, pem_of(ca.get()));
  }
  for (auto& name : nodes) {
    if (name.empty() || name.find('/') != std::string::npos || name == "ca")
      throw std::runtime_error("'" + name + "' cannot name a node's files");
    auto key = new_key();
    auto cert = new_cert(name, key.get(), ca.get(), ca_key.get(), days);
    auto cert_file = (fs::path{dir} / (name + ".pem")).string();
    auto key_file = (fs::path{dir} / (name + ".key")).string();
    write_private(key_file, pem_of(key.get()));
    write_private(cert_file, pem_of(cert.get()));
    out.nodes.emplace_back(cert_file, key_file);
  }
  return out;
}

} // namespace augur
