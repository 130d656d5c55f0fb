// A throwaway certificate authority for loopback TLS: the simulated fleet's API servers and
// kubelets, `make demo`, and tests. Never for production certificates.
#pragma once

#include <string>
#include <vector>

#include "fleetscale/shared/result.h"

namespace fleetscale {

struct PemPair {
  std::string certificate;  // PEM
  std::string privateKey;   // PEM (unencrypted)
};

struct TestPki {
  PemPair ca;
  PemPair server;  // signed by ca; valid for the names and IPs it was issued for
  PemPair client;  // signed by ca; CN given, for mutual TLS
};

// Creates a CA (EC P-256, valid 10 years) and a server and a client certificate signed by it.
// `serverNames` become subjectAltNames (DNS names, or IP addresses when they parse as one).
Result<TestPki> makeTestPki(const std::vector<std::string>& serverNames = {"localhost",
                                                                           "127.0.0.1"},
                            const std::string& clientCommonName = "fleetscale-test-client");

// Issues another certificate from an existing CA (e.g. one per simulated cluster).
Result<PemPair> issueCertificate(const PemPair& ca, const std::string& commonName,
                                 const std::vector<std::string>& subjectAltNames, bool serverAuth);

// Writes <dir>/<name>.crt and <dir>/<name>.key (key mode 0600).
Status writePemPair(const PemPair& pair, const std::string& dir, const std::string& name);

}  // namespace fleetscale
