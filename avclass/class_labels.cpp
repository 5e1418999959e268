#include "avclass/class_labels.h"

#include <algorithm>
#include <sstream>

#include "core/atomic_file.h"
#include "core/input_error.h"

namespace avqa::avclass {
namespace {

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, separator)) {
    const auto first = cell.find_first_not_of(" \t\r\"");
    const auto last = cell.find_last_not_of(" \t\r\"");
    out.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  if (!line.empty() && line.back() == separator) out.emplace_back();
  return out;
}

bool is_index(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::vector<LabelledVideo> load_labelled_videos(const std::filesystem::path& file,
                                                const LabelFileOptions& options) {
  const std::string text = core::read_text_file(file);
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }
  const auto first_line = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find_first_not_of(" \t") != std::string::npos;
  });
  if (first_line == lines.end())
    throw core::InputError({file.string(), std::nullopt, ""}, "holds no labelled videos");
  const std::size_t cut = first_line->find_first_of(",&\t");
  if (cut == std::string::npos)
    throw core::InputError({file.string(), std::size_t{0}, ""},
                           "needs an id and a label separated by ',', '&' or a tab");
  const char separator = (*first_line)[cut];

  // A header names the columns: the first line is one when it holds a known column name or a
  // name the options give; otherwise columns are indices (default 0 and 1).
  const auto head = split(*first_line, separator);
  const auto find_name = [&](const std::vector<std::string>& names) -> std::optional<std::size_t> {
    for (const auto& n : names) {
      const auto it = std::find(head.begin(), head.end(), n);
      if (it != head.end()) return static_cast<std::size_t>(it - head.begin());
    }
    return std::nullopt;
  };
  const std::vector<std::string> id_names =
      options.id_column.empty() || is_index(options.id_column)
          ? std::vector<std::string>{"video_id", "youtube_id", "VideoID", "id", "name", "file"}
          : std::vector<std::string>{options.id_column};
  const std::vector<std::string> label_names =
      options.label_column.empty() || is_index(options.label_column)
          ? std::vector<std::string>{"label", "class", "Category", "category"}
          : std::vector<std::string>{options.label_column};
  std::optional<std::size_t> id = find_name(id_names);
  std::optional<std::size_t> label = find_name(label_names);
  const bool named = (!options.id_column.empty() && !is_index(options.id_column)) ||
                     (!options.label_column.empty() && !is_index(options.label_column));
  const bool header = id.has_value() || label.has_value() || named;
  if (is_index(options.id_column)) id = std::stoul(options.id_column);
  if (is_index(options.label_column)) label = std::stoul(options.label_column);
  if (!header) {
    id = id.value_or(0);
    label = label.value_or(1);
  }
  if (!id)
    throw core::InputError(
        {file.string(), std::size_t{0}, options.id_column.empty() ? "video_id" : options.id_column},
        "the header names no such id column (see --id-column)");
  if (!label)
    throw core::InputError({file.string(), std::size_t{0},
                            options.label_column.empty() ? "label" : options.label_column},
                           "the header names no such label column (see --label-column)");

  std::vector<LabelledVideo> out;
  const auto start = static_cast<std::size_t>(first_line - lines.begin()) + (header ? 1 : 0);
  for (std::size_t r = start; r < lines.size(); ++r) {
    if (lines[r].find_first_not_of(" \t") == std::string::npos) continue;
    const auto cells = split(lines[r], separator);
    const auto need = std::max(*id, *label);
    if (cells.size() <= need)
      throw core::InputError({file.string(), r, "column " + std::to_string(need)},
                             "the line has " + std::to_string(cells.size()) + " columns");
    LabelledVideo v{cells[*id], cells[*label]};
    // A path or a file name as the id: the cache names videos by file name without extension.
    v.video_id = std::filesystem::path(v.video_id).stem().string();
    if (v.video_id.empty()) throw core::InputError({file.string(), r, "video_id"}, "is empty");
    if (v.label.empty()) throw core::InputError({file.string(), r, "label"}, "is empty");
    out.push_back(std::move(v));
  }
  if (out.empty())
    throw core::InputError({file.string(), std::nullopt, ""}, "holds no labelled videos");
  return out;
}

std::vector<std::string> class_names(const std::vector<std::vector<LabelledVideo>>& sets) {
  std::vector<std::string> names;
  for (const auto& set : sets) {
    for (const auto& v : set) {
      if (std::find(names.begin(), names.end(), v.label) == names.end()) names.push_back(v.label);
    }
  }
  return names;
}

}  // namespace avqa::avclass
