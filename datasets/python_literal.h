#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace avqa::data {

/// Parses a list of strings written as a Python or JSON literal, the form MUSIC-AVQA stores in
/// its `type` and `templ_values` fields: `["a", "b"]`, `['a', 'b']`, `[]`, mixed quotes and a
/// trailing comma allowed. Escapes: \\ \' \" \n \r \t \xHH \uXXXX \UXXXXXXXX (emitted as UTF-8).
/// Anything else (numbers, nesting, expressions) throws std::invalid_argument naming the
/// character position, so nothing is ever evaluated.
std::vector<std::string> parse_string_list(std::string_view text);

/// Appends the UTF-8 encoding of `code_point` to `out`; throws on surrogates and values past
/// U+10FFFF.
void append_utf8(std::string& out, char32_t code_point);

}  // namespace avqa::data
