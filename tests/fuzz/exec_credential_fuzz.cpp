// What an exec credential plugin prints (both API versions), and the same bytes as a kubeconfig,
// whose user may name an exec plugin and whose cluster may carry its extension config.
#include <cstdint>
#include <string>
#include <string_view>

#include "fleetscale/aggregator/kube/exec_credential.h"
#include "fleetscale/aggregator/kube/kubeconfig.h"

using namespace fleetscale::aggregator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto version : {kExecApiV1, kExecApiV1beta1}) {
    auto credential = parseExecCredential(text, version);
    if (credential.ok() && credential->token.empty() && credential->clientCertificatePem.empty()) {
      __builtin_trap();  // a credential always carries a token or a certificate
    }
    if (!credential.ok() && credential.error().message.find('\n') != std::string::npos) {
      __builtin_trap();  // errors are single lines
    }
  }
  // No base directory: file references stay relative and are not found, never read from here.
  auto credentials = parseKubeconfig(text, "", "");
  if (credentials.ok() && credentials->exec) {
    (void)execInfoJson(*credentials->exec, &credentials->execCluster);
  }
  return 0;
}
