#include "datasets/question_text.h"

#include <stdexcept>

namespace avqa::data {
namespace {

bool is_trailing_space(char c) {
  // Python's str.rstrip() without arguments; no MUSIC-AVQA question ends in non-ASCII space.
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view rstrip(std::string_view text) {
  while (!text.empty() && is_trailing_space(text.back()))
    text.remove_suffix(1);
  return text;
}

// Python's str.split(' '): consecutive spaces give empty words, as in the original.
std::vector<std::string> split_on_spaces(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (true) {
    const std::size_t space = text.find(' ', start);
    words.emplace_back(text.substr(start, space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return words;
}

void check_placeholder_count(std::size_t placeholders, std::size_t values) {
  if (placeholders != values) {
    throw std::invalid_argument("question has " + std::to_string(placeholders) +
                                " placeholder(s) but templ_values has " + std::to_string(values) +
                                " value(s)");
  }
}

}  // namespace

std::string dropped_non_question_mark(std::string_view question_content) {
  const auto last = question_content.find_last_not_of(" \t\r\n");
  const std::string_view content =
      last == std::string_view::npos ? std::string_view() : question_content.substr(0, last + 1);
  const std::string tail(content.substr(drop_last_code_point(content).size()));
  return tail == "?" || tail == "\xEF\xBC\x9F" ? std::string() : tail;
}

std::string drop_last_code_point(std::string_view utf8) {
  if (utf8.empty()) return {};
  std::size_t end = utf8.size() - 1;
  // Step back over UTF-8 continuation bytes (10xxxxxx) to the lead byte.
  while (end > 0 && (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80)
    --end;
  return std::string(utf8.substr(0, end));
}

std::size_t count_placeholders(std::string_view question_content) {
  std::size_t count = 0;
  for (const std::string& word : split_on_spaces(rstrip(question_content))) {
    if (word.find('<') != std::string::npos) ++count;
  }
  return count;
}

std::vector<std::string> question_words(std::string_view question_content,
                                        const std::vector<std::string>& templ_values) {
  const std::string_view text = rstrip(question_content);
  if (text.empty()) throw std::invalid_argument("question is empty");
  std::vector<std::string> words = split_on_spaces(text);
  words.back() = drop_last_code_point(words.back());

  std::size_t placeholders = 0;
  for (const std::string& word : words)
    placeholders += word.find('<') != std::string::npos;
  check_placeholder_count(placeholders, templ_values.size());
  std::size_t next_value = 0;
  for (std::string& word : words) {
    if (word.find('<') != std::string::npos) word = templ_values[next_value++];
  }
  return words;
}

std::string filled_question(std::string_view question_content,
                            const std::vector<std::string>& templ_values) {
  std::string out;
  std::size_t next_value = 0;
  std::size_t pos = 0;
  const std::string_view text = rstrip(question_content);
  while (pos < text.size()) {
    const std::size_t open = text.find('<', pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find('>', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    if (next_value < templ_values.size()) out += templ_values[next_value];
    ++next_value;
    pos = close + 1;
  }
  out.append(text.substr(std::min(pos, text.size())));
  check_placeholder_count(next_value, templ_values.size());
  return out;
}

std::string question_sentence(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) {
    if (!text.empty()) text += ' ';
    text += w;
  }
  return text;
}

}  // namespace avqa::data
