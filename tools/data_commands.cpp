// `avqa data ...`: statistics, vocabularies and validation of MUSIC-AVQA annotation files.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "datasets/annotation_stats.h"
#include "datasets/annotations.h"
#include "datasets/question_text.h"
#include "datasets/sentence_piece.h"
#include "datasets/vocabulary.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

constexpr int kExitInvalidData = 2;

struct StatsOptions {
  std::vector<std::string> files;
  std::string duplicates = "keep-all";
  std::size_t top = 5;
  bool json = false;
};

struct VocabOptions {
  std::vector<std::string> from;
  std::string out;
  std::string answers;
  std::string duplicates = "keep-all";
  std::size_t max_length = data::kQuestionMaxLen;
  bool unknown = false;
};

struct SpmTrainOptions {
  std::vector<std::string> from;
  std::string out;
  std::string duplicates = "keep-all";
  int vocab_size = 256;
  std::string model_type = "unigram";
};

struct CheckOptions {
  std::vector<std::string> files;
  std::string duplicates = "error";
  std::string vocab;
  std::size_t max_errors = 20;
};

const std::vector<std::string> kPolicies = {"error", "keep-first", "keep-last", "keep-all"};

std::vector<data::AnnotationSet> load_all(const std::vector<std::string>& files,
                                          const std::string& policy) {
  const data::LoadOptions options{data::parse_duplicate_policy(policy)};
  std::vector<data::AnnotationSet> sets;
  for (const std::string& file : files)
    sets.push_back(data::load_annotations(file, options));
  return sets;
}

void run_stats(const StatsOptions& options) {
  std::vector<data::AnnotationStats> stats;
  for (const data::AnnotationSet& set : load_all(options.files, options.duplicates)) {
    stats.push_back(data::compute_stats(set));
  }
  if (options.json) {
    std::cout << data::stats_to_json(stats) << "\n";
    return;
  }
  for (std::size_t i = 0; i < stats.size(); ++i) {
    if (i > 0) std::cout << "\n";
    std::cout << data::format_stats(stats[i], options.top);
  }
}

// The question corpus as the model reads it (placeholders filled, question mark dropped), one
// line per record, through the torch-free avqa-spm helper.
void run_spm_train(const SpmTrainOptions& options) {
  data::SentencePieceTrainOptions train;
  train.out = options.out;
  train.vocab_size = options.vocab_size;
  train.model_type = options.model_type;
  for (const data::AnnotationSet& set : load_all(options.from, options.duplicates)) {
    for (const data::AnnotationRecord& r : set.records)
      train.sentences.push_back(data::question_sentence(r.words));
  }
  data::train_sentence_piece(train);
  const data::SentencePieceModel model(options.out);
  std::cout << "wrote " << options.out << ": " << model.size() << " pieces (pad 0, unknown 1) from "
            << train.sentences.size() << " questions; " << options.out << ".vocab lists them\n";
  const std::string example = train.sentences.front();
  std::cout << "e.g. \"" << example << "\" ->";
  const auto pieces = model.pieces({example});
  for (const std::string& piece : pieces.front())
    std::cout << ' ' << piece;
  std::cout << "\nuse it with: avqa train --tokenizer " << options.out << " ...\n";
}

void run_vocab(const VocabOptions& options) {
  const auto sets = load_all(options.from, options.duplicates);
  const data::Vocabularies vocab =
      data::build_vocabularies(sets, {options.unknown, options.max_length}, options.answers);
  data::save_vocabularies(vocab, options.out);
  std::size_t longest = 0;
  for (const auto& set : sets) {
    for (const auto& r : set.records)
      longest = std::max(longest, r.words.size());
  }
  std::cout << "wrote " << options.out << ": " << vocab.words.size() << " words"
            << (vocab.words.has_unknown() ? " (with <unk>)" : "") << ", " << vocab.answers.size()
            << " answers"
            << (options.answers.empty() ? " (first appearance)" : " (from " + options.answers + ")")
            << "; longest question " << longest << " of " << vocab.words.max_length() << " words\n";
}

void run_check(const CheckOptions& options) {
  const data::LoadOptions load{data::parse_duplicate_policy(options.duplicates)};
  std::unique_ptr<data::Vocabularies> vocab;
  if (!options.vocab.empty())
    vocab = std::make_unique<data::Vocabularies>(data::load_vocabularies(options.vocab));
  std::size_t invalid_files = 0;
  for (const std::string& file : options.files) {
    auto errors = data::find_annotation_errors(file, load, options.max_errors);
    if (errors.empty()) {
      const data::AnnotationSet set = data::load_annotations(file, load);
      if (vocab) errors = data::vocabulary_errors(set, *vocab, options.vocab, options.max_errors);
      for (const auto& r : set.records) {
        // The original drops the last character assuming it is the question mark; say so when not.
        if (const std::string tail = data::dropped_non_question_mark(r.question_content);
            !tail.empty()) {
          std::cerr << "avqa: warning: " << file << ": record " << r.source_index
                    << ": field 'question_content': does not end in '?'; its last character '"
                    << tail << "' is dropped as the original does\n";
        }
      }
      if (errors.empty()) {
        std::cout << "ok " << file << ": " << set.records.size() << " records";
        if (!set.duplicates.empty()) {
          std::cout << " (" << set.duplicates.size() << " duplicate question_ids, policy "
                    << options.duplicates << ")";
        }
        std::cout << "\n";
        continue;
      }
    }
    ++invalid_files;
    for (const auto& e : errors)
      std::cerr << "avqa: error: " << e.what() << "\n";
    if (errors.size() >= options.max_errors) {
      std::cerr << "avqa: stopped after " << options.max_errors << " errors in " << file
                << " (--max-errors)\n";
    }
  }
  if (invalid_files > 0) {
    std::cerr << "avqa: " << invalid_files << " of " << options.files.size()
              << " file(s) invalid\n";
    throw ExitStatus(kExitInvalidData);
  }
}

}  // namespace

void add_data_commands(CLI::App& app) {
  CLI::App* data = app.add_subcommand(
      "data", "MUSIC-AVQA annotation files: statistics, vocabularies, validation");
  data->require_subcommand(1);

  auto stats = std::make_shared<StatsOptions>();
  CLI::App* stats_cmd = data->add_subcommand(
      "stats", "Records, videos, questions per type and group, answer distribution and duplicates");
  stats_cmd
      ->add_option("files", stats->files, "Annotation files (JSON arrays of MUSIC-AVQA records)")
      ->required();
  stats_cmd->add_option("--duplicates", stats->duplicates, "What to do with repeated question_ids")
      ->check(CLI::IsMember(kPolicies))
      ->capture_default_str();
  stats_cmd->add_option("--top", stats->top, "Answers listed per question type")
      ->capture_default_str();
  stats_cmd->add_flag("--json", stats->json, "Machine-readable output");
  stats_cmd->callback([stats] { run_stats(*stats); });

  auto vocab = std::make_shared<VocabOptions>();
  CLI::App* vocab_cmd = data->add_subcommand("vocab",
                                             "Build the question-word and answer vocabularies "
                                             "exactly as ST-AVQA does, and save them as JSON");
  vocab_cmd
      ->add_option("--from", vocab->from, "Annotation files, in the order their words are added")
      ->required();
  vocab_cmd->add_option("--out", vocab->out, "Vocabulary file to write (atomically)")->required();
  vocab_cmd->add_option(
      "--answers", vocab->answers,
      "Fixed answer list: QA-TIGER answer2idx.json or a JSON array (default: first appearance)");
  vocab_cmd->add_flag("--unk", vocab->unknown,
                      "Append <unk> and map unseen words to it instead of failing");
  vocab_cmd->add_option("--max-length", vocab->max_length, "Encoded question length (words)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  vocab_cmd->add_option("--duplicates", vocab->duplicates, "What to do with repeated question_ids")
      ->check(CLI::IsMember(kPolicies))
      ->capture_default_str();
  vocab_cmd->callback([vocab] { run_vocab(*vocab); });

  auto spm = std::make_shared<SpmTrainOptions>();
  CLI::App* spm_cmd = data->add_subcommand(
      "spm-train",
      "Train a SentencePiece tokenizer on the questions (for free-form wording; runs in the "
      "separate avqa-spm process, away from LibTorch)");
  spm_cmd->add_option("--from", spm->from, "Annotation files whose questions form the corpus")
      ->required();
  spm_cmd->add_option("--out", spm->out, "Model file to write (atomically)")->required();
  spm_cmd->add_option("--vocab-size", spm->vocab_size, "Pieces, at most")
      ->check(CLI::Range(3, 1000000))
      ->capture_default_str();
  spm_cmd->add_option("--model-type", spm->model_type, "SentencePiece algorithm")
      ->check(CLI::IsMember({"unigram", "bpe"}))
      ->capture_default_str();
  spm_cmd->add_option("--duplicates", spm->duplicates, "What to do with repeated question_ids")
      ->check(CLI::IsMember(kPolicies))
      ->capture_default_str();
  spm_cmd->callback([spm] { run_spm_train(*spm); });

  auto check = std::make_shared<CheckOptions>();
  CLI::App* check_cmd = data->add_subcommand(
      "check", "Validate annotation files; exit 0 when all are valid, 2 with the errors otherwise");
  check_cmd->add_option("files", check->files, "Annotation files to validate")->required();
  check_cmd
      ->add_option("--duplicates", check->duplicates,
                   "Repeated question_ids are an error unless allowed")
      ->check(CLI::IsMember(kPolicies))
      ->capture_default_str();
  check_cmd->add_option("--vocab", check->vocab,
                        "Also require every word and answer to be in this vocabulary file");
  check_cmd->add_option("--max-errors", check->max_errors, "Errors listed per file")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  check_cmd->callback([check] { run_check(*check); });
}

}  // namespace avqa::tools
