#include "fleetscale/sim/label_selector.h"

#include <algorithm>
#include <optional>

namespace fleetscale::sim {
namespace {

using nlohmann::json;

enum class TokenKind {
  kIdentifier,
  kNot,          // !
  kEquals,       // = or ==
  kNotEquals,    // !=
  kOpen,         // (
  kClose,        // )
  kComma,        // ,
  kGreaterLess,  // > or <
  kEnd,
};

struct Token {
  TokenKind kind;
  std::string text;
};

bool isSpecial(char c) {
  return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// labels.Lexer: identifiers run until a space or a special character.
std::vector<Token> tokens(std::string_view text) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (isSpace(c)) {
      ++i;
    } else if (c == '!' && text.substr(i, 2) == "!=") {
      out.push_back({TokenKind::kNotEquals, "!="});
      i += 2;
    } else if (c == '=') {
      const bool doubled = text.substr(i, 2) == "==";
      out.push_back({TokenKind::kEquals, doubled ? "==" : "="});
      i += doubled ? 2 : 1;
    } else if (isSpecial(c)) {
      const TokenKind kind = c == '!'   ? TokenKind::kNot
                             : c == '(' ? TokenKind::kOpen
                             : c == ')' ? TokenKind::kClose
                             : c == ',' ? TokenKind::kComma
                                        : TokenKind::kGreaterLess;
      out.push_back({kind, std::string(1, c)});
      ++i;
    } else {
      std::size_t end = i;
      while (end < text.size() && !isSpace(text[end]) && !isSpecial(text[end])) ++end;
      out.push_back({TokenKind::kIdentifier, std::string(text.substr(i, end - i))});
      i = end;
    }
  }
  out.push_back({TokenKind::kEnd, ""});
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<std::vector<LabelSelector::Requirement>> requirements() {
    std::vector<LabelSelector::Requirement> out;
    if (peek().kind == TokenKind::kEnd) return out;
    while (true) {
      auto requirement = this->requirement();
      if (!requirement) return requirement.error();
      out.push_back(std::move(*requirement));
      const Token& next = take();
      if (next.kind == TokenKind::kEnd) return out;
      if (next.kind != TokenKind::kComma) return unexpected(next, "',' or end of selector");
    }
  }

 private:
  using Operator = LabelSelector::Operator;

  const Token& peek() const { return tokens_[position_]; }
  const Token& take() {
    const Token& token = tokens_[position_];
    if (token.kind != TokenKind::kEnd) ++position_;
    return token;
  }

  static Error unexpected(const Token& token, const std::string& expected) {
    const std::string found = token.kind == TokenKind::kEnd ? "end of selector" : token.text;
    return Error{"unable to parse requirement: found '" + found + "', expected: " + expected};
  }

  Result<LabelSelector::Requirement> requirement() {
    LabelSelector::Requirement out;
    const bool negated = peek().kind == TokenKind::kNot;
    if (negated) take();
    const Token& key = take();
    if (key.kind != TokenKind::kIdentifier) return unexpected(key, "identifier");
    out.key = key.text;
    const TokenKind after = peek().kind;
    if (negated || after == TokenKind::kComma || after == TokenKind::kEnd) {
      if (negated && after != TokenKind::kComma && after != TokenKind::kEnd) {
        return unexpected(peek(), "',' or end of selector");
      }
      out.op = negated ? Operator::kDoesNotExist : Operator::kExists;
      return out;
    }
    const Token& op = take();
    if (op.kind == TokenKind::kEquals || op.kind == TokenKind::kNotEquals) {
      out.op = op.kind == TokenKind::kEquals ? Operator::kEquals : Operator::kNotEquals;
      // "k=" is the empty value.
      if (peek().kind == TokenKind::kIdentifier) {
        out.values.push_back(take().text);
      } else if (peek().kind != TokenKind::kComma && peek().kind != TokenKind::kEnd) {
        return unexpected(peek(), "identifier");
      } else {
        out.values.emplace_back();
      }
      return out;
    }
    if (op.kind == TokenKind::kIdentifier && (op.text == "in" || op.text == "notin")) {
      out.op = op.text == "in" ? Operator::kIn : Operator::kNotIn;
      auto values = setValues();
      if (!values) return values.error();
      out.values = std::move(*values);
      return out;
    }
    if (op.kind == TokenKind::kGreaterLess) {
      return Error{
          "unable to parse requirement: the numeric operators '>' and '<' are not "
          "supported by the simulator"};
    }
    return unexpected(op, "in, notin, =, ==, !=");
  }

  // "(a, b)". A value left out is the empty value, as labels.Parse reads it: "()", "(,a)",
  // "(a,)" and "(a,,b)" all hold "".
  Result<std::vector<std::string>> setValues() {
    const Token& open = take();
    if (open.kind != TokenKind::kOpen) return unexpected(open, "'('");
    std::vector<std::string> values;
    while (true) {
      const TokenKind kind = peek().kind;
      if (kind != TokenKind::kIdentifier && kind != TokenKind::kComma &&
          kind != TokenKind::kClose) {
        return unexpected(take(), "',', ')' or identifier");
      }
      values.push_back(kind == TokenKind::kIdentifier ? take().text : std::string());
      const Token& next = take();
      if (next.kind == TokenKind::kClose) break;
      if (next.kind != TokenKind::kComma) return unexpected(next, "',' or ')'");
    }
    std::ranges::sort(values);
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
  }

  std::vector<Token> tokens_;
  std::size_t position_ = 0;
};

std::optional<std::string> labelOf(const json& labels, const std::string& key) {
  if (!labels.is_object()) return std::nullopt;
  const auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool satisfied(const LabelSelector::Requirement& requirement, const json& labels) {
  using Operator = LabelSelector::Operator;
  const auto value = labelOf(labels, requirement.key);
  const bool listed =
      value && std::ranges::find(requirement.values, *value) != requirement.values.end();
  switch (requirement.op) {
    case Operator::kEquals:
    case Operator::kIn:
      return listed;
    case Operator::kNotEquals:
    case Operator::kNotIn:
      return !listed;
    case Operator::kExists:
      return value.has_value();
    case Operator::kDoesNotExist:
      return !value.has_value();
  }
  return false;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  auto requirements = Parser(tokens(text)).requirements();
  if (!requirements) return requirements.error();
  LabelSelector selector;
  selector.requirements_ = std::move(*requirements);
  return selector;
}

bool LabelSelector::matches(const json& labels) const {
  return std::ranges::all_of(requirements_,
                             [&](const Requirement& r) { return satisfied(r, labels); });
}

}  // namespace fleetscale::sim
