#include "fleetscale/aggregator/kube/exec_credential.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fleetscale/shared/text.h"

namespace fleetscale::aggregator {
namespace {

using nlohmann::json;

constexpr std::string_view kExecApiV1alpha1 = "client.authentication.k8s.io/v1alpha1";
constexpr std::string_view kKind = "ExecCredential";

// Something a plugin or kubeconfig wrote, quoted for an error message: one line, and short enough
// that a misplaced secret would not be printed whole.
std::string shown(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = escapeControl(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) out += "...";
  return singleQuoted(out);
}

// --- YAML to JSON, as sigs.k8s.io/yaml's YAMLToJSON (go-yaml v2 scalar resolution) ----------

// Aliases let a few bytes of YAML name an exponential number of nodes; go-yaml refuses excessive
// aliasing too.
constexpr std::size_t kMaxYamlNodes = 100'000;
constexpr int kMaxYamlDepth = 256;

bool isOneOf(const std::string& text, std::initializer_list<std::string_view> words) {
  for (const auto word : words) {
    if (text == word) return true;
  }
  return false;
}

// go-yaml v2's float syntax; integers are the digits-only subset of it.
bool looksLikeYamlFloat(std::string_view text) {
  std::size_t pos = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
  const auto isDigit = [&](std::size_t i) {
    return i < text.size() && text[i] >= '0' && text[i] <= '9';
  };
  const std::size_t mantissaStart = pos;
  while (isDigit(pos)) ++pos;
  const bool integerDigits = pos > mantissaStart;
  bool fractionDigits = false;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t fractionStart = pos;
    while (isDigit(pos)) ++pos;
    fractionDigits = pos > fractionStart;
  }
  if (!integerDigits && !fractionDigits) return false;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (!isDigit(pos)) return false;
    while (isDigit(pos)) ++pos;
  }
  return pos == text.size();
}

json resolvePlainScalar(const std::string& text) {
  if (isOneOf(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    return true;
  }
  if (isOneOf(text, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return false;
  }
  if (isOneOf(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (!looksLikeYamlFloat(text)) return text;
  const std::string_view digits =
      !text.empty() && text.front() == '+' ? std::string_view(text).substr(1) : text;
  const char* end = digits.data() + digits.size();
  if (std::int64_t integer = 0; std::from_chars(digits.data(), end, integer).ptr == end) {
    return integer;
  }
  if (std::uint64_t unsignedInteger = 0;
      std::from_chars(digits.data(), end, unsignedInteger).ptr == end) {
    return unsignedInteger;
  }
  const double value = std::strtod(text.c_str(), nullptr);
  // JSON has no infinity; go-yaml's YAMLToJSON fails on it, we keep the text.
  if (!std::isfinite(value)) return text;
  return value;
}

Result<json> yamlToJson(const YAML::Node& node, int depth, std::size_t& budget) {
  if (depth > kMaxYamlDepth) return Error{"nested more than 256 levels deep"};
  if (budget == 0) return Error{"more than 100000 values (aliases expanding?)"};
  --budget;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!" marks a quoted scalar; quoted and !!str values stay strings.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return json(node.Scalar());
      return resolvePlainScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) {
        auto value = yamlToJson(item, depth + 1, budget);
        if (!value) return value;
        array.push_back(std::move(*value));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) return Error{"a mapping key is not a string"};
        auto value = yamlToJson(entry.second, depth + 1, budget);
        if (!value) return value;
        object[entry.first.Scalar()] = std::move(*value);
      }
      return object;
    }
  }
  return json(nullptr);
}

Result<json> yamlToJson(const YAML::Node& node) {
  std::size_t budget = kMaxYamlNodes;
  try {
    return yamlToJson(node, 0, budget);
  } catch (const YAML::Exception&) {
    return Error{"unreadable YAML"};
  }
}

// --- JSON out, as Go's encoding/json writes it ------------------------------------------------

// Go escapes <, > and & (HTML-safe), U+2028/U+2029, and replaces each byte that is not UTF-8
// with U+FFFD.
void appendGoJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++p;
      continue;
    }
    std::uint32_t codePoint = 0;
    const std::size_t length = utf8SequenceLength(p, end, &codePoint);
    if (length == 0) {
      out += "\\ufffd";
      ++p;
      continue;
    }
    if (codePoint == 0x2028 || codePoint == 0x2029) {
      out += codePoint == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(reinterpret_cast<const char*>(p), length);
    }
    p += length;
  }
  out += '"';
}

void appendGoJson(std::string& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {  // sorted, as Go sorts map keys
        if (!first) out += ',';
        first = false;
        appendGoJsonString(out, it.key());
        out += ':';
        appendGoJson(out, it.value());
      }
      out += '}';
      return;
    }
    case json::value_t::array: {
      out += '[';
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out += ',';
        appendGoJson(out, value[i]);
      }
      out += ']';
      return;
    }
    case json::value_t::string:
      appendGoJsonString(out, value.get_ref<const std::string&>());
      return;
    case json::value_t::number_float: {
      // Go writes whole floats without a fraction ("1", not "1.0").
      const double number = value.get<double>();
      if (std::trunc(number) == number && std::fabs(number) < 1e21) {
        std::array<char, 32> buffer{};
        std::snprintf(buffer.data(), buffer.size(), "%.0f", number);
        out += buffer.data();
      } else {
        out += value.dump();
      }
      return;
    }
    default:
      out += value.dump();  // null, booleans, integers
  }
}

// Go's zero time.Time, 0001-01-01T00:00:00Z, which client-go's expiry check reads as "none".
constexpr std::int64_t kGoZeroTimeUnixSeconds = -62'135'596'800;

std::optional<WallTime> expiryFrom(UnixTimestamp time) {
  if (time.seconds == kGoZeroTimeUnixSeconds && time.nanos == 0) return std::nullopt;
  constexpr std::int64_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(WallTime::duration::max()).count() - 1;
  if (time.seconds > kLimit) return WallTime::max();
  if (time.seconds < -kLimit) return WallTime::min();
  return WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::seconds(time.seconds) + std::chrono::nanoseconds(time.nanos)));
}

// --- Reading the ExecCredential -------------------------------------------------------------

// A string field as Go decodes one: absent and null are "", anything but a string is an error.
Result<std::string> stringField(const json& object, const char* key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Error{"plugin output: " + path + key + " is not a string"};
  return it->get<std::string>();
}

// client-go decodes the whole object into its Go type before looking at it, so a mistyped
// field anywhere in it fails, not only in status.
Status checkSpec(const json& credential) {
  const auto spec = credential.find("spec");
  if (spec == credential.end() || spec->is_null()) return Status::success();
  if (!spec->is_object()) return Error{"plugin output: spec is not an object"};
  if (const auto interactive = spec->find("interactive");
      interactive != spec->end() && !interactive->is_null() && !interactive->is_boolean()) {
    return Error{"plugin output: spec.interactive is not a boolean"};
  }
  if (const auto cluster = spec->find("cluster");
      cluster != spec->end() && !cluster->is_null() && !cluster->is_object()) {
    return Error{"plugin output: spec.cluster is not an object"};
  }
  return Status::success();
}

Result<json> parseOutputDocument(std::string_view output) {
  std::size_t start = 0;
  while (start < output.size() &&
         (output[start] == ' ' || (output[start] >= '\t' && output[start] <= '\r'))) {
    ++start;
  }
  // apimachinery's JSON serializer claims the bytes when they start with '{' and then does not
  // let the YAML one try; anything else is read as YAML.
  if (start < output.size() && output[start] == '{') {
    try {
      return json::parse(output.begin(), output.end());
    } catch (const json::parse_error& e) {
      // e.what() quotes the bytes it stopped at, which may be part of the token.
      return Error{"plugin output is not valid JSON (at byte " + std::to_string(e.byte) + ")"};
    }
  }
  YAML::Node document;
  try {
    document = YAML::Load(std::string(output));
  } catch (const YAML::Exception& e) {
    return Error{"plugin output is neither JSON nor YAML (line " + std::to_string(e.mark.line + 1) +
                 ")"};
  }
  auto converted = yamlToJson(document);
  if (!converted) return Error{"plugin output: " + converted.error().message};
  return converted;
}

}  // namespace

Result<ExecCredential> parseExecCredential(std::string_view output, std::string_view apiVersion) {
  if (apiVersion != kExecApiV1 && apiVersion != kExecApiV1beta1) {
    return Error{"exec plugin: unsupported apiVersion " + shown(apiVersion)};
  }
  if (output.size() > kMaxExecCredentialBytes) {
    return Error{"plugin output is " + std::to_string(output.size()) +
                 " bytes, more than an ExecCredential can be (1 MiB)"};
  }
  auto document = parseOutputDocument(output);
  if (!document) return document.error();
  const json& credential = *document;
  if (!credential.is_object()) return Error{"plugin output is not an ExecCredential object"};

  auto returnedVersion = stringField(credential, "apiVersion", "");
  if (!returnedVersion) return returnedVersion.error();
  auto kind = stringField(credential, "kind", "");
  if (!kind) return kind.error();
  if (returnedVersion->empty()) {
    return Error{"plugin output has no apiVersion (the kubeconfig asks for " +
                 std::string(apiVersion) + ")"};
  }
  // client-go fills in a missing kind from the type it decodes into.
  if (!kind->empty() && *kind != kKind) {
    return Error{"plugin returned kind " + shown(*kind) + ", not ExecCredential"};
  }
  if (*returnedVersion != apiVersion) {
    return Error{"exec plugin is configured to use API version " + std::string(apiVersion) +
                 ", plugin returned version " + shown(*returnedVersion)};
  }
  if (auto spec = checkSpec(credential); !spec) return Error{spec.message()};

  const auto status = credential.find("status");
  if (status == credential.end() || status->is_null()) {
    return Error{"exec plugin didn't return a status field"};
  }
  if (!status->is_object()) return Error{"plugin output: status is not an object"};
  ExecCredential result;
  for (auto [field, target] : {std::pair{"token", &result.token},
                               std::pair{"clientCertificateData", &result.clientCertificatePem},
                               std::pair{"clientKeyData", &result.clientKeyPem}}) {
    auto value = stringField(*status, field, "status.");
    if (!value) return value.error();
    *target = std::move(*value);
  }
  if (const auto expiry = status->find("expirationTimestamp");
      expiry != status->end() && !expiry->is_null()) {
    if (!expiry->is_string()) {
      return Error{"plugin output: status.expirationTimestamp is not a string"};
    }
    const auto& text = expiry->get_ref<const std::string&>();
    const auto time = parseRfc3339Timestamp(text, Rfc3339Rules::kGo);
    if (!time) {
      return Error{"plugin output: status.expirationTimestamp " + shown(text) +
                   " is not an RFC 3339 time (2006-01-02T15:04:05Z)"};
    }
    result.expiresAt = expiryFrom(*time);
  }

  if (result.token.empty() && result.clientCertificatePem.empty() && result.clientKeyPem.empty()) {
    return Error{"exec plugin didn't return a token or cert/key pair"};
  }
  if (result.clientCertificatePem.empty() != result.clientKeyPem.empty()) {
    return Error{"exec plugin returned only certificate or key, not both"};
  }
  // Only the shape: the TLS layer parses the pair, as tls.X509KeyPair does for client-go, but a
  // plugin that prints something else entirely deserves an error that says which field.
  if (!result.clientCertificatePem.empty()) {
    if (result.clientCertificatePem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Error{"plugin output: status.clientCertificateData holds no PEM certificate"};
    }
    const auto begin = result.clientKeyPem.find("-----BEGIN ");
    if (begin == std::string::npos ||
        result.clientKeyPem.find("PRIVATE KEY-----", begin) == std::string::npos) {
      return Error{"plugin output: status.clientKeyData holds no PEM private key"};
    }
  }
  return result;
}

// --- The kubeconfig's exec settings ---------------------------------------------------------

namespace {

// A string setting as clientcmd reads one: absent or null is "", a mapping or list an error.
Result<std::string> stringSetting(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  if (!value || value.IsNull()) return std::string();
  if (!value.IsScalar()) return Error{std::string("exec.") + key + ": must be a string"};
  return value.Scalar();
}

// Format characters (Unicode Cf) and private-use code points; with the C0/C1 controls these are
// what clientcmd's cleanANSIEscapeCodes rewrites (it allows letters, marks, numbers,
// punctuation, symbols, separators and \t..\r). Unassigned code points pass here.
bool isFormatOrPrivateUse(std::uint32_t c) {
  return c == 0xAD || (c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F ||
         c == 0x180E || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0xFEFF ||
         (c >= 0xFFF9 && c <= 0xFFFB) || (c >= 0xE000 && c <= 0xF8FF) || c == 0xE0001 ||
         (c >= 0xE0020 && c <= 0xE007F) || c >= 0xF0000;
}

std::string cleanAnsiEscapeCodes(std::string_view text) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    std::uint32_t c = 0;
    std::size_t length = utf8SequenceLength(p, end, &c);
    if (length == 0) {  // Go reads a stray byte as U+FFFD, a symbol it keeps
      out += "\xEF\xBF\xBD";
      ++p;
      continue;
    }
    const bool control = c < 0x20 || (c >= 0x7F && c <= 0x9F);
    const bool spacing = c >= 0x09 && c <= 0x0D;
    if ((control && !spacing) || isFormatOrPrivateUse(c)) {
      std::array<char, 16> code{};
      std::snprintf(code.data(), code.size(), "U+%04X", static_cast<unsigned>(c));
      out += code.data();
    } else {
      out.append(reinterpret_cast<const char*>(p), length);
    }
    p += length;
  }
  return out;
}

Result<ExecConfig> parseExecConfigNode(const YAML::Node& exec) {
  if (!exec.IsMap()) return Error{"exec: must be a mapping"};
  ExecConfig config;
  for (auto [key, target] :
       {std::pair{"apiVersion", &config.apiVersion}, std::pair{"command", &config.command},
        std::pair{"installHint", &config.installHint},
        std::pair{"interactiveMode", &config.interactiveMode}}) {
    auto value = stringSetting(exec, key);
    if (!value) return value.error();
    *target = std::move(*value);
  }
  if (config.apiVersion.empty()) {
    return Error{"exec.apiVersion: required (" + std::string(kExecApiV1) + " or " +
                 std::string(kExecApiV1beta1) + ")"};
  }
  if (config.apiVersion == kExecApiV1alpha1) {
    return Error{"exec.apiVersion: " + std::string(kExecApiV1alpha1) +
                 " was removed in Kubernetes 1.24; use " + std::string(kExecApiV1) + " or " +
                 std::string(kExecApiV1beta1)};
  }
  if (config.apiVersion != kExecApiV1 && config.apiVersion != kExecApiV1beta1) {
    return Error{"exec.apiVersion: " + shown(config.apiVersion) + " is not " +
                 std::string(kExecApiV1) + " or " + std::string(kExecApiV1beta1)};
  }
  if (config.command.empty()) return Error{"exec.command: required"};

  if (const YAML::Node args = exec["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) return Error{"exec.args: must be a list of strings"};
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        return Error{"exec.args[" + std::to_string(i) + "]: must be a string"};
      }
      config.args.push_back(args[i].Scalar());
    }
  }
  if (const YAML::Node env = exec["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) return Error{"exec.env: must be a list of {name, value}"};
    for (std::size_t i = 0; i < env.size(); ++i) {
      const std::string path = "exec.env[" + std::to_string(i) + "]";
      const YAML::Node variable = env[i];
      if (!variable.IsMap()) return Error{path + ": must be a mapping with name and value"};
      const YAML::Node name = variable["name"];
      const YAML::Node value = variable["value"];
      if ((name && !name.IsNull() && !name.IsScalar()) ||
          (value && !value.IsNull() && !value.IsScalar())) {
        return Error{path + ": name and value must be strings"};
      }
      const std::string nameText = name && name.IsScalar() ? name.Scalar() : "";
      if (nameText.empty()) return Error{path + ".name: required"};
      config.env.emplace_back(nameText, value && value.IsScalar() ? value.Scalar() : "");
    }
  }
  config.installHint = cleanAnsiEscapeCodes(config.installHint);

  if (const YAML::Node provide = exec["provideClusterInfo"]; provide && !provide.IsNull()) {
    bool value = false;
    if (!provide.IsScalar() || !YAML::convert<bool>::decode(provide, value)) {
      return Error{"exec.provideClusterInfo: must be true or false"};
    }
    config.provideClusterInfo = value;
  }

  if (config.interactiveMode.empty()) {
    // clientcmd's defaulting, kept for v1beta1's sake; v1 asks plugins to say.
    if (config.apiVersion == kExecApiV1beta1) {
      config.interactiveMode = "IfAvailable";
    } else {
      return Error{"exec.interactiveMode: required for " + std::string(kExecApiV1) +
                   " (Never or IfAvailable)"};
    }
  }
  if (config.interactiveMode == "Always") {
    return Error{
        "exec.interactiveMode: Always needs a terminal, and the aggregator runs plugins without "
        "one (use Never or IfAvailable)"};
  }
  if (config.interactiveMode != "Never" && config.interactiveMode != "IfAvailable") {
    return Error{"exec.interactiveMode: " + shown(config.interactiveMode) +
                 " is not Never, IfAvailable or Always"};
  }
  return config;
}

}  // namespace

Result<ExecConfig> parseExecConfig(const YAML::Node& exec) {
  try {
    return parseExecConfigNode(exec);
  } catch (const YAML::Exception& e) {
    return Error{"exec: " + e.msg};
  }
}

Result<std::string> extensionJson(const YAML::Node& extension) {
  auto value = yamlToJson(extension);
  if (!value) return value.error();
  std::string out;
  appendGoJson(out, *value);
  return out;
}

std::string execInfoJson(const ExecConfig& config, const ExecClusterInfo* cluster) {
  std::string out = R"({"kind":"ExecCredential","apiVersion":)";
  appendGoJsonString(out, config.apiVersion);
  out += R"(,"spec":{)";
  if (config.provideClusterInfo && cluster != nullptr) {
    // Field order and omitempty as in client.authentication.k8s.io/v1 Cluster.
    out += R"("cluster":{"server":)";
    appendGoJsonString(out, cluster->server);
    if (!cluster->tlsServerName.empty()) {
      out += R"(,"tls-server-name":)";
      appendGoJsonString(out, cluster->tlsServerName);
    }
    if (cluster->insecureSkipTlsVerify) out += R"(,"insecure-skip-tls-verify":true)";
    if (!cluster->certificateAuthorityPem.empty()) {
      out += R"(,"certificate-authority-data":)";
      appendGoJsonString(out, encodeBase64(cluster->certificateAuthorityPem));
    }
    if (!cluster->proxyUrl.empty()) {
      out += R"(,"proxy-url":)";
      appendGoJsonString(out, cluster->proxyUrl);
    }
    if (cluster->disableCompression) out += R"(,"disable-compression":true)";
    // A RawExtension is a struct, which omitempty never omits: an absent config is null.
    out += R"(,"config":)";
    out += cluster->configJson.empty() ? "null" : cluster->configJson;
    out += "},";
  }
  out += "\"interactive\":false}}\n";  // json.Encoder ends every value with a newline
  return out;
}

}  // namespace fleetscale::aggregator
