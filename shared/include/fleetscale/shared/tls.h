// TLS contexts from PEM files, for the agent <-> aggregator stream (both ends).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "fleetscale/shared/result.h"

namespace fleetscale {

struct TlsServerFiles {
  std::string certFile;      // PEM certificate chain
  std::string keyFile;       // PEM private key
  std::string clientCaFile;  // when set, clients must present a certificate signed by this CA
};

// TLS 1.2 or later. Errors name the file that could not be used.
Result<std::shared_ptr<boost::asio::ssl::context>> makeTlsServerContext(
    const TlsServerFiles& files);

struct TlsClientFiles {
  std::string caFile;    // verify the server against this CA; "" = the system's CAs
  std::string certFile;  // client certificate for mutual TLS; "" = none
  std::string keyFile;
};

// Verifies the server's certificate (always); presents a client certificate when given.
Result<std::shared_ptr<boost::asio::ssl::context>> makeTlsClientContext(
    const TlsClientFiles& files);

// The subject CN of the peer's certificate once a handshake verified it; "" when the peer
// presented none, it did not verify, or it has no CN. Both servers use it: the HTTP API (admin
// clients) and the agent stream (a certificate per cluster).
std::string verifiedPeerCommonName(SSL* ssl);

}  // namespace fleetscale
