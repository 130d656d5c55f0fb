#include "fleetscale/aggregator/api/api_auth.h"

#include <cctype>

#include "fleetscale/shared/batch_view.h"
#include "fleetscale/shared/logging.h"
#include "fleetscale/shared/text.h"
#include "fleetscale/shared/token.h"

namespace fleetscale::aggregator {
namespace {

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxTokensFileBytes = 4 * 1024 * 1024;

bool printableAscii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Splits on every comma (a CSV line without quoting: no field may hold one).
std::vector<std::string_view> csvFields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// The rule: /healthz and /readyz are open (probes); other reads need a viewer (nothing with
// anonymous reads, though a token sent must be known); everything else an admin.
enum class Needs { kNothing, kViewer, kAdmin };

bool isRead(const HttpRequest& request) {
  return request.method == "GET" || request.method == "HEAD";
}

bool isProbe(const HttpRequest& request) {
  return isRead(request) && (request.path == "/healthz" || request.path == "/readyz");
}

Needs needs(const HttpRequest& request, bool anonymousReads) {
  if (!isRead(request)) return Needs::kAdmin;
  return anonymousReads ? Needs::kNothing : Needs::kViewer;
}

HttpResponse unauthorized(const std::string& message, std::string_view error) {
  HttpResponse response = HttpResponse::jsonError(401, message);
  std::string challenge = "Bearer realm=\"fleetscale\"";
  if (!error.empty()) challenge += ", error=\"" + std::string(error) + "\"";
  response.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return response;
}

}  // namespace

std::string_view apiRoleName(ApiRole role) { return role == ApiRole::kAdmin ? "admin" : "viewer"; }

Result<std::vector<ApiToken>> parseApiTokens(std::string_view text) {
  std::vector<ApiToken> tokens;
  std::vector<std::size_t> lineOf;  // line number of each token, for duplicates
  std::size_t number = 0;
  for (const std::string_view raw : splitLines(text)) {
    ++number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(number) + ": ";
    const auto fields = csvFields(line);
    if (fields.size() != 3) {
      return Error{where + "expected token,name,role (3 fields), found " +
                   std::to_string(fields.size())};
    }
    const std::string_view token = fields[0], name = fields[1], role = fields[2];
    if (token.empty()) return Error{where + "the token is empty"};
    if (token.size() > kMaxTokenBytes) {
      return Error{where + "the token is longer than " + std::to_string(kMaxTokenBytes) + " bytes"};
    }
    if (!printableAscii(token)) {
      return Error{where + "the token holds a character that is not printable ASCII"};
    }
    if (name.empty()) return Error{where + "the name is empty"};
    if (name.size() > kMaxNameBytes || !isValidUtf8(name) || hasControlCharacters(name)) {
      return Error{where + "the name is not text of at most " + std::to_string(kMaxNameBytes) +
                   " bytes"};
    }
    ApiToken entry{std::string(token), std::string(name), ApiRole::kViewer};
    if (role == "admin") {
      entry.role = ApiRole::kAdmin;
    } else if (role != "viewer") {
      return Error{where + "role " + singleQuoted(toValidUtf8(escapeControl(role))) +
                   " is neither viewer nor admin"};
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i].token == entry.token) {
        return Error{where + "the same token as line " + std::to_string(lineOf[i])};
      }
    }
    tokens.push_back(std::move(entry));
    lineOf.push_back(number);
  }
  if (tokens.empty()) return Error{"holds no token (only comments or blank lines)"};
  return tokens;
}

Result<std::vector<ApiToken>> readApiTokens(const std::string& apiTokensFile,
                                            const std::string& adminTokenFile) {
  std::vector<ApiToken> tokens;
  if (!adminTokenFile.empty()) {
    auto admin = readTokenFile(adminTokenFile);
    if (!admin) return Error{"--admin-token-file: " + admin.error().message};
    tokens.push_back(ApiToken{std::move(*admin), "admin", ApiRole::kAdmin});
  }
  if (!apiTokensFile.empty()) {
    auto text = readFile(apiTokensFile, kMaxTokensFileBytes);
    if (!text) return Error{"--api-tokens-file: " + text.error().message};
    auto parsed = parseApiTokens(*text);
    if (!parsed)
      return Error{"--api-tokens-file: " + apiTokensFile + ": " + parsed.error().message};
    tokens.insert(tokens.end(), std::make_move_iterator(parsed->begin()),
                  std::make_move_iterator(parsed->end()));
  }
  return tokens;
}

std::optional<std::string> bearerToken(std::string_view authorization) {
  // RFC 7235: credentials = auth-scheme 1*SP token68, the scheme compared without case.
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view scheme = authorization.substr(0, space);
  constexpr std::string_view kBearer = "bearer";
  if (scheme.size() != kBearer.size()) return std::nullopt;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(scheme[i])) != kBearer[i]) return std::nullopt;
  }
  const std::string_view token = trim(authorization.substr(space + 1));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

ApiAuth::ApiAuth(ApiAuthOptions options) : options_(std::move(options)) {}

void ApiAuth::setTokens(std::vector<ApiToken> tokens) {
  std::lock_guard lock(mutex_);
  tokens_ = std::move(tokens);
}

std::size_t ApiAuth::tokenCount() const {
  std::lock_guard lock(mutex_);
  return tokens_.size();
}

std::optional<ApiAuth::Holder> ApiAuth::find(const std::string& given) const {
  std::lock_guard lock(mutex_);
  // Every token is compared, whichever matches: the time taken does not say which one did.
  std::optional<Holder> found;
  for (const ApiToken& token : tokens_) {
    if (tokensEqual(token.token, given) && !found) found = Holder{token.name, token.role};
  }
  return found;
}

HttpHandler ApiAuth::wrap(HttpHandler inner) const {
  return [this, inner = std::move(inner)](HttpRequest& request) {
    // Probes pass whatever they send.
    if (isProbe(request)) return inner(request);
    const Needs need = needs(request, options_.anonymousReads);
    const auto given = bearerToken(request.header("authorization"));
    auto deny = [this](std::string_view reason, HttpResponse response) {
      if (options_.onDenied) options_.onDenied(reason);
      return response;
    };
    if (!given) {
      if (need == Needs::kNothing) return inner(request);
      return deny(kDeniedMissingToken,
                  unauthorized("a bearer token is required: send 'Authorization: Bearer <token>' "
                               "with a viewer or admin token from the aggregator's "
                               "--api-tokens-file (ask its operator for one)",
                               ""));
    }
    // A token that was sent must be known, even on a read anonymous reads allow: a typo or a
    // revoked token shows at once, not on the first request that needs it.
    const auto holder = find(*given);
    if (!holder) {
      return deny(kDeniedUnknownToken, unauthorized("unknown bearer token", "invalid_token"));
    }
    if (need == Needs::kAdmin && holder->role != ApiRole::kAdmin) {
      HttpResponse response =
          HttpResponse::jsonError(403, "token " + singleQuoted(holder->name) + " has the role " +
                                           std::string(apiRoleName(holder->role)) + "; " +
                                           request.method + " " + request.path + " needs admin");
      response.headers.emplace_back("WWW-Authenticate",
                                    "Bearer realm=\"fleetscale\", error=\"insufficient_scope\"");
      return deny(kDeniedForbidden, std::move(response));
    }
    HttpResponse response = inner(request);
    if (need == Needs::kAdmin) {
      componentLogger("aggregator.api")
          ->info("{} {} by {} ({}): {}", request.method, request.path, singleQuoted(holder->name),
                 apiRoleName(holder->role), response.status);
    }
    return response;
  };
}

}  // namespace fleetscale::aggregator
