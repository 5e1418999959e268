#include "datasets/python_literal.h"

#include <stdexcept>

namespace avqa::data {
namespace {

class ListParser {
 public:
  explicit ListParser(std::string_view text) : text_(text) {}

  std::vector<std::string> parse() {
    skip_space();
    expect('[');
    std::vector<std::string> items;
    skip_space();
    if (peek() == ']') {
      ++pos_;
    } else {
      while (true) {
        items.push_back(parse_string());
        skip_space();
        const char c = next("',' or ']'");
        if (c == ']') break;
        if (c != ',') fail(pos_ - 1, std::string("expected ',' or ']' but found '") + c + "'");
        skip_space();
        if (peek() == ']') {  // Python allows a trailing comma
          ++pos_;
          break;
        }
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail(pos_, "unexpected text after the closing ']'");
    return items;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw std::invalid_argument("not a list of strings at character " + std::to_string(at + 1) +
                                " of " + quoted() + ": " + what);
  }

  std::string quoted() const {
    constexpr std::size_t kShown = 60;
    std::string shown(text_.substr(0, kShown));
    if (text_.size() > kShown) shown += "...";
    return "'" + shown + "'";
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  char next(const char* expected) {
    if (pos_ >= text_.size())
      fail(pos_, std::string("text ends where ") + expected + " was expected");
    return text_[pos_++];
  }

  void expect(char c) {
    const char got = next(std::string(1, c).c_str());
    if (got != c) fail(pos_ - 1, std::string("expected '") + c + "' but found '" + got + "'");
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::uint32_t hex_digits(int count) {
    std::uint32_t value = 0;
    for (int i = 0; i < count; ++i) {
      const char c = next("a hex digit");
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        fail(pos_ - 1, std::string("expected a hex digit but found '") + c + "'");
      }
    }
    return value;
  }

  std::string parse_string() {
    const std::size_t start = pos_;
    const char quote = next("a quoted string");
    if (quote != '"' && quote != '\'') {
      fail(start, std::string("expected a quoted string but found '") + quote + "'");
    }
    std::string out;
    while (true) {
      const char c = next("the closing quote");
      if (c == quote) return out;
      if (c == '\n') fail(pos_ - 1, "line break inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      const std::size_t escape_at = pos_ - 1;
      const char e = next("an escape character");
      switch (e) {
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '/':
          out += '/';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'x':
          append_checked(out, hex_digits(2), escape_at);
          break;
        case 'u':
          append_checked(out, hex_digits(4), escape_at);
          break;
        case 'U':
          append_checked(out, hex_digits(8), escape_at);
          break;
        default:
          fail(escape_at, std::string("unsupported escape '\\") + e + "'");
      }
    }
  }

  void append_checked(std::string& out, std::uint32_t code_point, std::size_t at) {
    try {
      append_utf8(out, static_cast<char32_t>(code_point));
    } catch (const std::invalid_argument& e) {
      fail(at, e.what());
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

void append_utf8(std::string& out, char32_t code_point) {
  const auto cp = static_cast<std::uint32_t>(code_point);
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    throw std::invalid_argument("code point " + std::to_string(cp) + " is not a Unicode scalar");
  }
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::string> parse_string_list(std::string_view text) {
  return ListParser(text).parse();
}

}  // namespace avqa::data
