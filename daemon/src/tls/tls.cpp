#include "orch/tls/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>
#include <vector>

namespace orch::tls {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

[[noreturn]] void fail(std::string_view key, const std::string& problem) {
  ERR_clear_error();
  throw config::ConfigError("tls." + std::string(key) + ": " + problem);
}

std::string read_file(std::string_view key, const std::string& path) {
  const auto cannot_read = [&](int error) {
    fail(key, "cannot read " + path + ": " + std::generic_category().message(error));
  };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) cannot_read(errno);
  std::string text;
  std::array<char, 8192> buffer;
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    text.append(buffer.data(), n);
  }
  if (std::ferror(file.get())) cannot_read(errno);  // a directory fails here (EISDIR)
  return text;
}

Bio memory_bio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
}

// Every certificate of a PEM text, in order; stops at the first block that is not one.
std::vector<Cert> read_certs(const std::string& text) {
  std::vector<Cert> certs;
  const Bio bio = memory_bio(text);
  while (bio) {
    Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  ERR_clear_error();  // the read that ended the loop
  return certs;
}

// Never prompts for a passphrase: an encrypted key fails to load.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

ServerPem load_server_pem(const config::TlsConfig& tls) {
  ServerPem pem;
  pem.cert_chain = read_file("cert", tls.cert);
  const std::vector<Cert> chain = read_certs(pem.cert_chain);
  if (chain.empty()) fail("cert", tls.cert + " holds no PEM certificate");

  pem.key = read_file("key", tls.key);
  const Bio key_bio = memory_bio(pem.key);
  const Key key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &no_passphrase, nullptr)
                        : nullptr,
                &EVP_PKEY_free);
  if (!key) {
    fail("key", tls.key + " holds no PEM private key (an encrypted key is not supported)");
  }
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    fail("key", tls.key + " does not belong to the certificate in tls.cert (" + tls.cert + ")");
  }
  if (X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) < 0) {
    spdlog::warn("tls.cert: the certificate in {} has expired; clients will refuse it", tls.cert);
  }

  if (!tls.client_ca.empty()) {
    pem.client_ca = read_file("client_ca", tls.client_ca);
    if (read_certs(pem.client_ca).empty()) {
      fail("client_ca", tls.client_ca + " holds no PEM certificate");
    }
  }
  ERR_clear_error();
  return pem;
}

bool is_loopback_listen(std::string_view host_port) {
  const auto colon = host_port.rfind(':');
  std::string_view host = host_port.substr(0, colon);  // npos: all of it
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.size() == 9) {
    std::string lower(host);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "localhost") return true;
  }
  const std::string text(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;  // a zone (fe80::1%eth0), another name, or nothing
}

TokenPolicy token_policy(std::string_view listen, bool tls, bool allow_plaintext_tokens) {
  if (tls || is_loopback_listen(listen)) return TokenPolicy::kAccept;
  return allow_plaintext_tokens ? TokenPolicy::kAcceptInClear : TokenPolicy::kRefuse;
}

}  // namespace orch::tls
