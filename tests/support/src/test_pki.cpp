#include "fleetscale/testing/test_pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>

namespace fleetscale {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

KeyPtr newKey() { return KeyPtr(EVP_EC_gen("P-256")); }

std::string toPem(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert));
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string toPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

bool addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return false;
  const bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

bool looksLikeIp(const std::string& name) {
  return !name.empty() && (name.find(':') != std::string::npos ||
                           name.find_first_not_of("0123456789.") == std::string::npos);
}

// Builds and signs a certificate for `key`. `issuer`/`issuerKey` null = self-signed CA.
Result<CertPtr> makeCertificate(EVP_PKEY* key, const std::string& commonName, X509* issuer,
                                EVP_PKEY* issuerKey, const std::vector<std::string>& altNames,
                                bool isCa, bool serverAuth) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* number = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert.get()));
  BN_free(number);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fleetscale test PKI"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (isCa) {
    ok = addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         addExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    ok = addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         addExtension(cert.get(), signer, NID_key_usage,
                      "critical,digitalSignature,keyEncipherment") &&
         addExtension(cert.get(), signer, NID_ext_key_usage,
                      serverAuth ? "serverAuth" : "clientAuth") &&
         addExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
    if (ok && !altNames.empty()) {
      std::string sans;
      for (const auto& alt : altNames) {
        if (!sans.empty()) sans += ",";
        sans += (looksLikeIp(alt) ? "IP:" : "DNS:") + alt;
      }
      ok = addExtension(cert.get(), signer, NID_subject_alt_name, sans);
    }
  }
  if (!ok) return Error{"cannot add certificate extensions for " + commonName};
  if (X509_sign(cert.get(), issuerKey != nullptr ? issuerKey : key, EVP_sha256()) == 0) {
    return Error{"cannot sign certificate for " + commonName};
  }
  return cert;
}

Result<std::pair<CertPtr, KeyPtr>> loadPair(const PemPair& pair) {
  BioPtr certBio(
      BIO_new_mem_buf(pair.certificate.data(), static_cast<int>(pair.certificate.size())));
  BioPtr keyBio(BIO_new_mem_buf(pair.privateKey.data(), static_cast<int>(pair.privateKey.size())));
  CertPtr cert(PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr));
  KeyPtr key(PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr));
  if (!cert || !key) return Error{"CA certificate or key is not valid PEM"};
  return std::make_pair(std::move(cert), std::move(key));
}

}  // namespace

Result<PemPair> issueCertificate(const PemPair& ca, const std::string& commonName,
                                 const std::vector<std::string>& subjectAltNames, bool serverAuth) {
  auto loaded = loadPair(ca);
  if (!loaded) return loaded.error();
  KeyPtr key = newKey();
  if (!key) return Error{"cannot generate an EC key"};
  auto cert = makeCertificate(key.get(), commonName, loaded->first.get(), loaded->second.get(),
                              subjectAltNames, false, serverAuth);
  if (!cert) return cert.error();
  return PemPair{toPem(cert->get()), toPem(key.get())};
}

Result<TestPki> makeTestPki(const std::vector<std::string>& serverNames,
                            const std::string& clientCommonName) {
  KeyPtr caKey = newKey();
  if (!caKey) return Error{"cannot generate an EC key"};
  auto caCert =
      makeCertificate(caKey.get(), "fleetscale test CA", nullptr, nullptr, {}, true, false);
  if (!caCert) return caCert.error();
  TestPki pki;
  pki.ca = PemPair{toPem(caCert->get()), toPem(caKey.get())};
  auto server = issueCertificate(pki.ca, serverNames.empty() ? "localhost" : serverNames.front(),
                                 serverNames, true);
  if (!server) return server.error();
  auto client = issueCertificate(pki.ca, clientCommonName, {}, false);
  if (!client) return client.error();
  pki.server = std::move(*server);
  pki.client = std::move(*client);
  return pki;
}

Status writePemPair(const PemPair& pair, const std::string& dir, const std::string& name) {
  const std::string certPath = dir + "/" + name + ".crt";
  const std::string keyPath = dir + "/" + name + ".key";
  {
    std::ofstream cert(certPath, std::ios::trunc);
    cert << pair.certificate;
    if (!cert) return Error{"cannot write " + certPath};
  }
  {
    std::ofstream key(keyPath, std::ios::trunc);
    key << pair.privateKey;
    if (!key) return Error{"cannot write " + keyPath};
  }
  ::chmod(keyPath.c_str(), 0600);
  return {};
}

}  // namespace fleetscale
