#include "datasets/sentence_piece.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/child_process.h"
#include "core/input_error.h"
#include "datasets/annotations.h"

namespace avqa::data {
namespace {

namespace fs = std::filesystem;

// A folder of its own for the files exchanged with one helper run.
class ExchangeFolder {
 public:
  ExchangeFolder() {
    std::string pattern = (fs::temp_directory_path() / "avqa-spm-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot create a temporary folder");
    path_ = pattern;
  }
  ~ExchangeFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ExchangeFolder(const ExchangeFolder&) = delete;
  ExchangeFolder& operator=(const ExchangeFolder&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// One sentence per line: line breaks inside a question would shift every later question.
std::string as_lines(const std::vector<std::string>& sentences) {
  std::string text;
  for (std::string s : sentences) {
    for (char& c : s) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    text += s;
    text += '\n';
  }
  return text;
}

std::string run_helper(std::vector<std::string> args) {
  args.insert(args.begin(), sentence_piece_helper().string());
  const core::ProcessResult result = core::run_process(args);
  if (result.exit_code != 0) {
    // SentencePiece logs a lot; its last lines say what went wrong.
    std::string tail = result.standard_error;
    if (tail.size() > 2000) tail = "..." + tail.substr(tail.size() - 2000);
    throw std::runtime_error(args[0] + " " + args[1] + " failed (exit " +
                             std::to_string(result.exit_code) + "): " + tail);
  }
  return result.standard_output;
}

std::vector<std::vector<std::string>> read_lines_of_words(const fs::path& file,
                                                          std::size_t expected) {
  std::istringstream in(read_text_file(file));
  std::vector<std::vector<std::string>> lines;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> items;
    for (std::string w; words >> w;)
      items.push_back(w);
    lines.push_back(std::move(items));
  }
  if (lines.size() != expected) {
    throw std::runtime_error("avqa-spm encoded " + std::to_string(lines.size()) + " of " +
                             std::to_string(expected) + " sentences");
  }
  return lines;
}

}  // namespace

fs::path sentence_piece_helper() {
  if (const char* set = std::getenv("AVQA_SPM"); set != nullptr && *set != '\0') return set;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (const fs::path& candidate :
         {self.parent_path() / "avqa-spm", self.parent_path() / "spm" / "avqa-spm"}) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "avqa-spm";
}

void train_sentence_piece(const SentencePieceTrainOptions& o) {
  if (o.sentences.empty()) throw std::invalid_argument("no sentences to train SentencePiece on");
  if (o.vocab_size < 3)
    throw std::invalid_argument("--vocab-size must be at least 3 (pad, unknown and one piece)");
  ExchangeFolder folder;
  core::write_file_atomically(folder / "corpus.txt", as_lines(o.sentences));
  if (!o.out.parent_path().empty()) fs::create_directories(o.out.parent_path());
  run_helper({"train", "--input", (folder / "corpus.txt").string(), "--out", o.out.string(),
              "--vocab-size", std::to_string(o.vocab_size), "--model-type", o.model_type});
}

SentencePieceModel::SentencePieceModel(fs::path model) : path_(std::move(model)) {
  if (!fs::is_regular_file(path_))
    throw core::InputError({path_.string(), std::nullopt, ""}, "no such SentencePiece model");
  std::string output;
  try {
    output = run_helper({"info", "--model", path_.string()});
  } catch (const std::runtime_error& e) {
    throw core::InputError({path_.string(), std::nullopt, ""}, e.what());
  }
  const auto info = nlohmann::json::parse(output);
  size_ = info.at("pieces").get<std::int64_t>();
  if (info.at("pad_id").get<int>() != 0) {
    throw core::InputError(
        {path_.string(), std::nullopt, "pad_id"},
        "must be 0 (the padding of question tensors); train it with avqa data spm-train");
  }
}

std::vector<std::vector<std::int64_t>> SentencePieceModel::encode(
    const std::vector<std::string>& sentences) const {
  ExchangeFolder folder;
  core::write_file_atomically(folder / "in.txt", as_lines(sentences));
  run_helper({"encode", "--model", path_.string(), "--input", (folder / "in.txt").string(),
              "--output", (folder / "out.txt").string()});
  std::vector<std::vector<std::int64_t>> ids;
  for (const auto& line : read_lines_of_words(folder / "out.txt", sentences.size())) {
    std::vector<std::int64_t> row;
    for (const std::string& id : line)
      row.push_back(std::stoll(id));
    ids.push_back(std::move(row));
  }
  return ids;
}

std::vector<std::vector<std::string>> SentencePieceModel::pieces(
    const std::vector<std::string>& sentences) const {
  ExchangeFolder folder;
  core::write_file_atomically(folder / "in.txt", as_lines(sentences));
  run_helper({"encode", "--model", path_.string(), "--input", (folder / "in.txt").string(),
              "--output", (folder / "out.txt").string(), "--pieces"});
  return read_lines_of_words(folder / "out.txt", sentences.size());
}

}  // namespace avqa::data
