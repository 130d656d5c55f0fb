#include "fleetscale/shared/token.h"

#include "fleetscale/shared/text.h"

namespace fleetscale {

bool tokensEqual(const std::string& expected, const std::string& given) {
  // Walk the full expected length whatever the input, folding every difference in.
  unsigned char difference = expected.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char other = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(expected[i]) ^ other;
  }
  return difference == 0;
}

Result<std::string> readTokenFile(const std::string& path) {
  if (path.empty()) return Error{"no token file named"};
  // Read with room for surrounding whitespace (a trailing newline, an indented file).
  auto text = readFile(path, 64 * 1024);
  if (!text) return text.error();
  const std::string_view token = trim(*text);
  if (token.empty()) return Error{path + " is empty: a token file must hold the token"};
  if (Status valid = checkToken(token); !valid) return Error{path + ": " + valid.message()};
  return std::string(token);
}

Status checkToken(std::string_view token) {
  if (token.empty()) return Error{"the token is empty"};
  if (token.size() > kMaxTokenBytes) {
    return Error{"the token is " + std::to_string(token.size()) +
                 " bytes, longer than the limit of " + std::to_string(kMaxTokenBytes)};
  }
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return Error{"the token holds a character that is not printable ASCII"};
    }
  }
  return {};
}

}  // namespace fleetscale
