#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/input_error.h"
#include "datasets/annotations.h"

namespace avqa::data {

/// Longest question ST-AVQA encodes; shorter ones are right-padded (dataloader_avst.py).
inline constexpr std::size_t kQuestionMaxLen = 14;
/// Word id 0: the pad token the original vocabulary starts with.
inline constexpr const char* kPadToken = "<pad>";
/// Optional out-of-vocabulary token, appended after every real word so ids of the original
/// 93-word vocabulary (and checkpoints trained on it) stay valid.
inline constexpr const char* kUnknownToken = "<unk>";
/// The answer classes of MUSIC-AVQA.
inline constexpr std::size_t kNumAnswers = 42;

struct WordVocabularyOptions {
  bool with_unknown = false;                 ///< add `<unk>` and map unseen words to it
  std::size_t max_length = kQuestionMaxLen;  ///< encoded length; longer questions are refused
};

/// The 22 instrument classes of MUSIC-AVQA, alphabetical: the answers to "which instrument"
/// questions and the labels of everything that classifies instruments.
const std::vector<std::string>& music_avqa_instruments();

/// The 42 MUSIC-AVQA answers in the original's index order (first appearance in the training
/// file, as QA-TIGER's answer2idx.json records it).
const std::vector<std::string>& music_avqa_answers();

/// The question vocabulary of ST-AVQA: `<pad>` = 0, then words in order of first appearance,
/// case-sensitive.
class WordVocabulary {
 public:
  using Options = WordVocabularyOptions;

  WordVocabulary() : WordVocabulary(Options{}) {}
  explicit WordVocabulary(Options options);

  /// The original rule: every record's words, in file order, files in the order given.
  static WordVocabulary build(const std::vector<AnnotationSet>& sets, Options options = {});
  /// Rebuilds from a stored word list (index order). Throws std::invalid_argument when the
  /// list does not start with `<pad>`, repeats a word, or places `<unk>` inconsistently.
  static WordVocabulary from_words(const std::vector<std::string>& words, std::size_t max_length);

  /// Appends `word` when unseen; returns its id.
  std::int64_t add(const std::string& word);

  std::size_t size() const { return words_.size(); }
  std::size_t max_length() const { return options_.max_length; }
  bool has_unknown() const { return unknown_id_ >= 0; }
  bool contains(const std::string& word) const { return ids_.count(word) != 0; }
  const std::vector<std::string>& words() const { return words_; }
  const std::string& word(std::int64_t id) const;
  /// Throws std::invalid_argument for an unknown word when there is no `<unk>`.
  std::int64_t id(const std::string& word) const;

  /// [max_length] ids, right-padded with 0. Throws std::invalid_argument listing every unknown
  /// word (when the vocabulary has no `<unk>`) or naming the length when the question is longer
  /// than max_length.
  std::vector<std::int64_t> encode(const std::vector<std::string>& words) const;

  /// Words in `words` that this vocabulary lacks, each once, in order of appearance.
  std::vector<std::string> unknown_words(const std::vector<std::string>& words) const;

 private:
  Options options_;
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int64_t> ids_;
  std::int64_t unknown_id_ = -1;
};

/// The answer classes: a fixed list (QA-TIGER's answer2idx.json holds the original train order)
/// or first appearance in the given files.
class AnswerVocabulary {
 public:
  AnswerVocabulary() = default;
  /// Throws std::invalid_argument on an empty answer or a repeated one.
  explicit AnswerVocabulary(std::vector<std::string> answers);

  static AnswerVocabulary build(const std::vector<AnnotationSet>& sets);
  /// Reads `{"ans2ix": {"two": 0, ...}}` (QA-TIGER) or a plain JSON array of answers. Throws
  /// core::InputError naming the file and the offending key.
  static AnswerVocabulary load(const std::filesystem::path& path);

  std::size_t size() const { return answers_.size(); }
  const std::vector<std::string>& answers() const { return answers_; }
  bool contains(const std::string& answer) const { return ids_.count(answer) != 0; }
  /// Throws std::invalid_argument naming the answer and the vocabulary size when unknown.
  std::int64_t index(const std::string& answer) const;
  const std::string& answer(std::int64_t index) const;

 private:
  std::vector<std::string> answers_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

/// Encodes every record of `set`; errors name the file, record and field (`question_content`
/// for unknown words or length, `anser` for an unknown answer).
std::vector<std::vector<std::int64_t>> encode_questions(const AnnotationSet& set,
                                                        const WordVocabulary& words);
std::vector<std::int64_t> encode_answers(const AnnotationSet& set, const AnswerVocabulary& answers);

/// Questions read as SentencePiece pieces (`avqa data spm-train`) instead of whole words, for
/// free-form wording: a word no training question used still encodes.
struct QuestionPieces {
  std::filesystem::path model;  ///< the SentencePiece model (run through avqa-spm)
  std::int64_t size = 0;        ///< pieces: the rows of the question embedding
  std::size_t max_length = 32;  ///< encoded length, right-padded with 0
};

/// A vocabulary file: question words (or pieces), answers, and where they came from.
struct Vocabularies {
  WordVocabulary words;
  AnswerVocabulary answers;
  std::vector<std::string> built_from;   ///< annotation files, for the record
  std::optional<QuestionPieces> pieces;  ///< set: questions are encoded with these, not `words`
};

/// Rows of the question embedding: the piece count when there are pieces, else the words.
std::int64_t question_vocabulary_size(const Vocabularies& vocab);

/// Every record of `set` with the pieces when present, else the words; errors name the file,
/// record and field as above.
std::vector<std::vector<std::int64_t>> encode_questions(const AnnotationSet& set,
                                                        const Vocabularies& vocab);

/// One question's words (`question_words`) -> [max_length] ids. Throws std::invalid_argument
/// naming unknown words (word vocabulary without `<unk>`) or the length.
std::vector<std::int64_t> encode_question(const std::vector<std::string>& words,
                                          const Vocabularies& vocab);

/// Written atomically as JSON: {"format": "avqa-vocabulary", "version": 1, "words": [...],
/// "answers": [...], "max_question_length": 14, "unknown_token": "<unk>"|null, "built_from":
/// [...], "pieces": {"model": "tokenizer.model", "size": N, "max_length": 32} (optional; the
/// model path relative to the vocabulary file's folder when it lies there)}.
void save_vocabularies(const Vocabularies& vocab, const std::filesystem::path& path);
Vocabularies load_vocabularies(const std::filesystem::path& path);

/// `avqa data vocab`: words of `sets` (files in order, first appearance) and their answers (first
/// appearance, or the list in `answers_file`). Throws core::InputError naming the file, record
/// and field of a question longer than `words.max_length` or an answer outside `answers_file`.
Vocabularies build_vocabularies(const std::vector<AnnotationSet>& sets,
                                WordVocabularyOptions words,
                                const std::filesystem::path& answers_file = {});

/// Every record of `set` that `vocab` cannot encode, up to `max_errors`: unknown words (without
/// `<unk>`), questions over the maximum length, answers it lacks; each names the file, record
/// and field. `vocab_name` says which vocabulary in the messages.
std::vector<core::InputError> vocabulary_errors(const AnnotationSet& set,
                                                const Vocabularies& vocab,
                                                const std::string& vocab_name,
                                                std::size_t max_errors);

}  // namespace avqa::data
