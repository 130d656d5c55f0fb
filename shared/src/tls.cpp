#include "fleetscale/shared/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace fleetscale {
namespace asio = boost::asio;

namespace {

constexpr auto kOptions = asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use;

Status loadIdentity(asio::ssl::context& context, const std::string& certFile,
                    const std::string& keyFile) {
  boost::system::error_code ec;
  context.use_certificate_chain_file(certFile, ec);
  if (ec) return Error{"certificate " + certFile + ": " + ec.message()};
  context.use_private_key_file(keyFile, asio::ssl::context::pem, ec);
  if (ec) return Error{"private key " + keyFile + ": " + ec.message()};
  return {};
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> makeTlsServerContext(const TlsServerFiles& files) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(kOptions);
  if (Status status = loadIdentity(*context, files.certFile, files.keyFile); !status) {
    return Error{status.message()};
  }
  if (!files.clientCaFile.empty()) {
    boost::system::error_code ec;
    context->load_verify_file(files.clientCaFile, ec);
    if (ec) return Error{"client CA " + files.clientCaFile + ": " + ec.message()};
    context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

Result<std::shared_ptr<asio::ssl::context>> makeTlsClientContext(const TlsClientFiles& files) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  context->set_options(kOptions);
  boost::system::error_code ec;
  if (files.caFile.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) return Error{"system CA store: " + ec.message()};
  } else {
    context->load_verify_file(files.caFile, ec);
    if (ec) return Error{"CA " + files.caFile + ": " + ec.message()};
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  if (!files.certFile.empty() || !files.keyFile.empty()) {
    if (Status status = loadIdentity(*context, files.certFile, files.keyFile); !status) {
      return Error{status.message()};
    }
  }
  return context;
}

std::string verifiedPeerCommonName(SSL* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return "";
  std::string name;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    char buffer[256] = {};
    const int length = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
                                                 buffer, sizeof(buffer));
    if (length > 0) name.assign(buffer, static_cast<std::size_t>(length));
  }
  X509_free(peer);
  return name;
}

}  // namespace fleetscale
