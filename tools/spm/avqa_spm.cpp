// avqa-spm: the SentencePiece side of `avqa data spm-train` and of runs that tokenize questions
// with a SentencePiece model. Called by avqa (datasets/sentence_piece.h) with files, never by
// hand in normal use; torch-free by construction (see CMakeLists.txt).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/atomic_file.h"
#include "core/input_error.h"

namespace avqa::tools::spm {
namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::string input;
  std::string out;
  int vocab_size = 256;
  std::string model_type = "unigram";
};

struct EncodeArgs {
  std::string model;
  std::string input;
  std::string output;
  bool pieces = false;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::InputError({path.string(), std::nullopt, ""}, "cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<sentencepiece::SentencePieceProcessor> load(const std::string& model) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (const auto status = processor->Load(model); !status.ok())
    throw core::InputError({model, std::nullopt, ""},
                           "not a SentencePiece model: " + status.ToString());
  return processor;
}

// Ids fit ST-AVQA's padded question tensors: pad = 0 (what the network's padding uses), unknown
// = 1, no sentence markers (the LSTM reads the question as it is).
void train(const TrainArgs& a) {
  const fs::path out(a.out);
  const fs::path prefix =
      out.parent_path() / (".tmp-" + out.filename().string() + "-" + std::to_string(::getpid()));
  const std::unordered_map<std::string, std::string> kwargs = {
      {"input", a.input},
      {"model_prefix", prefix.string()},
      {"vocab_size", std::to_string(a.vocab_size)},
      {"model_type", a.model_type},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
      {"character_coverage", "1.0"},
      {"hard_vocab_limit", "false"},  // a small question corpus may offer fewer pieces
  };
  if (const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs); !status.ok()) {
    fs::remove(prefix.string() + ".model");
    fs::remove(prefix.string() + ".vocab");
    throw std::runtime_error("SentencePiece training on " + a.input +
                             " failed: " + status.ToString());
  }
  // The model file is what runs reference: it appears whole or not at all.
  fs::rename(prefix.string() + ".vocab", out.string() + ".vocab");
  fs::rename(prefix.string() + ".model", out);
  const auto processor = load(a.out);
  std::cout << "{\"pieces\": " << processor->GetPieceSize() << "}\n";
}

// One line of ids (or pieces) per input line, in order.
void encode(const EncodeArgs& a) {
  const auto processor = load(a.model);
  std::istringstream lines(slurp(a.input));
  std::ostringstream out;
  std::string line;
  std::size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::vector<std::string> pieces;
    std::vector<int> ids;
    const auto status = a.pieces ? processor->Encode(line, &pieces) : processor->Encode(line, &ids);
    if (!status.ok())
      throw core::InputError({a.input, number - 1, ""}, "cannot encode: " + status.ToString());
    const char* separator = "";
    if (a.pieces) {
      for (const auto& p : pieces)
        out << std::exchange(separator, " ") << p;
    } else {
      for (const int id : ids)
        out << std::exchange(separator, " ") << id;
    }
    out << '\n';
  }
  core::write_file_atomically(a.output, out.str());
}

int run(int argc, char** argv) {
  CLI::App app{"SentencePiece for avqa, in a torch-free process (see avqa data spm-train)"};
  app.require_subcommand(1);
  TrainArgs t;
  auto* train_cmd =
      app.add_subcommand("train", "Train a model on a text file, one sentence a line");
  train_cmd->add_option("--input", t.input, "Sentences, one per line")->required();
  train_cmd->add_option("--out", t.out, "Model file (a .vocab file is written beside it)")
      ->required();
  train_cmd->add_option("--vocab-size", t.vocab_size, "Pieces, at most")->capture_default_str();
  train_cmd->add_option("--model-type", t.model_type, "unigram or bpe")
      ->check(CLI::IsMember({"unigram", "bpe", "word", "char"}))
      ->capture_default_str();
  EncodeArgs e;
  auto* encode_cmd = app.add_subcommand("encode", "Encode a text file, one sentence a line");
  encode_cmd->add_option("--model", e.model, "Model file")->required();
  encode_cmd->add_option("--input", e.input, "Sentences, one per line")->required();
  encode_cmd->add_option("--output", e.output, "Ids, one line per sentence")->required();
  encode_cmd->add_flag("--pieces", e.pieces, "Write the pieces instead of their ids");
  std::string info_model;
  auto* info_cmd = app.add_subcommand("info", "Print the model's piece count and special ids");
  info_cmd->add_option("--model", info_model, "Model file")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*train_cmd) train(t);
    if (*encode_cmd) encode(e);
    if (*info_cmd) {
      const auto processor = load(info_model);
      std::cout << "{\"pieces\": " << processor->GetPieceSize()
                << ", \"pad_id\": " << processor->pad_id()
                << ", \"unk_id\": " << processor->unk_id() << "}\n";
    }
  } catch (const std::exception& error) {
    std::cerr << "avqa-spm: " << error.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace avqa::tools::spm

int main(int argc, char** argv) {
  return avqa::tools::spm::run(argc, argv);
}
