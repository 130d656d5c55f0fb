// Who may use the aggregator's HTTP API (docs/api.md, "Authentication"): bearer tokens with a
// role, from --api-tokens-file (and --admin-token-file, one admin token named "admin"), checked
// in front of the router. /healthz and /readyz are always open; every other GET needs a viewer
// or admin token unless --http-anonymous-reads; everything else needs an admin token.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleetscale/shared/http_server.h"
#include "fleetscale/shared/result.h"

namespace fleetscale::aggregator {

enum class ApiRole {
  kViewer,  // every GET (and HEAD)
  kAdmin,   // everything: drain, undrain, reload too
};

std::string_view apiRoleName(ApiRole role);

struct ApiToken {
  std::string token;  // the secret: compared in constant time, never logged
  std::string name;   // who holds it, for the audit log and errors
  ApiRole role = ApiRole::kViewer;
};

// --api-tokens-file's text: one `token,name,role` per line (a CSV like kube-apiserver's static
// token file), role `viewer` or `admin`; blank lines and lines starting with `#` are skipped,
// spaces around fields trimmed. An error names the first bad line (never its token): a line
// without exactly three fields, an empty or non-printable-ASCII token or one longer than
// kMaxTokenBytes, an empty name or one with control characters, an unknown role, a token that
// an earlier line holds. A text without any token is an error too (fail closed: a Secret that
// was mounted empty must not read as "nobody configured").
Result<std::vector<ApiToken>> parseApiTokens(std::string_view text);

// The tokens the flags name: --admin-token-file's as the admin "admin" (first), then
// --api-tokens-file's. An empty path means the flag is not set; a named file that cannot be read
// or parsed is an error naming the flag.
Result<std::vector<ApiToken>> readApiTokens(const std::string& apiTokensFile,
                                            const std::string& adminTokenFile);

// The token of an "Authorization: Bearer <token>" header; the scheme matches in any case
// ("bearer", "BEARER"). std::nullopt for another scheme or no token.
std::optional<std::string> bearerToken(std::string_view authorization);

// Why a request was refused, the `reason` label of fleetscale_http_requests_denied_total.
inline constexpr std::string_view kDeniedMissingToken = "missing_token";
inline constexpr std::string_view kDeniedUnknownToken = "unknown_token";
inline constexpr std::string_view kDeniedForbidden = "forbidden";

struct ApiAuthOptions {
  bool anonymousReads = false;  // --http-anonymous-reads: GETs need no token
  // Called on an I/O thread for each refused request, with its reason (above). May be empty.
  std::function<void(std::string_view reason)> onDenied;
};

// The authorization in front of the API's router. Thread-safe: the token set is replaced under a
// lock (SIGHUP, a rotated file) while requests are checked on the I/O threads.
class ApiAuth {
 public:
  explicit ApiAuth(ApiAuthOptions options = {});

  void setTokens(std::vector<ApiToken> tokens);
  std::size_t tokenCount() const;
  bool anonymousReads() const { return options_.anonymousReads; }

  // `inner` behind the rule: 401 with `WWW-Authenticate: Bearer realm="fleetscale"` without a
  // token where one is needed or with one that is unknown, 403 for a viewer on a mutating
  // request. Each mutating request that passes is logged at info with the token's name.
  HttpHandler wrap(HttpHandler inner) const;

 private:
  struct Holder {
    std::string name;
    ApiRole role;
  };
  // The holder of `given`, compared against every token in constant time.
  std::optional<Holder> find(const std::string& given) const;

  ApiAuthOptions options_;
  mutable std::mutex mutex_;
  std::vector<ApiToken> tokens_;
};

}  // namespace fleetscale::aggregator
