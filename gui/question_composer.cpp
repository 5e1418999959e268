#include "gui/question_composer.h"

#include <algorithm>
#include <cctype>

#include "datasets/synthetic/instrument_table.h"
#include "datasets/synthetic/question_templates.h"

namespace avqa::gui {

namespace {

// Where a placeholder starts at or after `from`: npos when there is none.
std::size_t next_placeholder(std::string_view text, std::size_t from, std::size_t& length) {
  for (std::size_t open = text.find('<', from); open != std::string_view::npos;
       open = text.find('<', open + 1)) {
    const std::size_t close = text.find('>', open);
    if (close == std::string_view::npos) return std::string_view::npos;
    const std::string_view inner = text.substr(open + 1, close - open - 1);
    if (!inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
          return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        })) {
      length = close - open + 1;
      return open;
    }
  }
  return std::string_view::npos;
}

}  // namespace

QuestionComposer::QuestionComposer() {
  for (const auto& t : synthetic::question_templates())
    templates_.push_back({t.type, std::string(t.text)});
  // <Object>: the 22 classes as the instrument table lists them; the others in the order of
  // their frequency in the real val/test annotations.
  std::vector<std::string> objects;
  const synthetic::InstrumentTable table =
      synthetic::InstrumentTable::builtin();  // outlives the loop
  for (const auto& spec : table.instruments())
    objects.push_back(spec.name);
  values_ = {{"<Object>", objects},
             {"<LR>", {"left", "right", "middle"}},
             {"<LRer>", {"leftest", "rightest"}},
             {"<LL>", {"loudest", "lowest"}},
             {"<FL>", {"first", "last"}},
             {"<TH>", {"first", "second", "third", "fourth", "fifth"}},
             {"<BA>", {"after", "before"}}};
}

const std::vector<std::string>& QuestionComposer::values_of(std::string_view placeholder) const {
  static const std::vector<std::string> none;
  for (const auto& [name, values] : values_)
    if (name == placeholder) return values;
  return none;
}

std::vector<Placeholder> QuestionComposer::placeholders(std::string_view text) const {
  std::vector<Placeholder> out;
  std::size_t length = 0;
  for (std::size_t at = next_placeholder(text, 0, length); at != std::string_view::npos;
       at = next_placeholder(text, at + length, length)) {
    const std::string name(text.substr(at, length));
    out.push_back({name, values_of(name)});
  }
  return out;
}

std::string QuestionComposer::fill(std::string_view text, const std::vector<std::string>& values) {
  std::string out;
  std::size_t from = 0, length = 0, k = 0;
  for (std::size_t at = next_placeholder(text, 0, length); at != std::string_view::npos;
       at = next_placeholder(text, at + length, length), ++k) {
    out.append(text.substr(from, at - from));
    out.append(k < values.size() && !values[k].empty() ? values[k]
                                                       : std::string(text.substr(at, length)));
    from = at + length;
  }
  out.append(text.substr(from));
  return out;
}

std::vector<std::string> QuestionComposer::completions() const {
  std::vector<std::string> out;
  for (const Template& t : templates_) {
    out.push_back(t.text);
    const auto slots = placeholders(t.text);
    if (slots.empty()) continue;
    // Two different instruments where a template compares two: "the violin ... the piano".
    std::vector<std::string> values;
    std::size_t objects = 0;
    for (const Placeholder& p : slots) {
      const std::size_t pick = p.name == "<Object>" ? objects++ : 0;
      values.push_back(p.values.empty() ? std::string() : p.values[pick % p.values.size()]);
    }
    out.push_back(fill(t.text, values));
  }
  return out;
}

std::vector<std::string> QuestionComposer::complete_last_word(std::string_view text,
                                                              const std::vector<std::string>& words,
                                                              std::size_t limit) {
  std::vector<std::string> out;
  const std::size_t space = text.find_last_of(' ');
  const std::string_view head = space == std::string_view::npos ? "" : text.substr(0, space + 1);
  const std::string_view typed = text.substr(head.size());
  if (typed.empty()) return out;
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  for (const std::string& w : words) {
    if (out.size() >= limit) break;
    if (w.size() <= typed.size() || w.front() == '<') continue;  // shorter, whole, or special
    if (std::equal(typed.begin(), typed.end(), w.begin(),
                   [&](char a, char b) { return lower(a) == lower(b); }))
      out.push_back(std::string(head) + w);
  }
  return out;
}

}  // namespace avqa::gui
