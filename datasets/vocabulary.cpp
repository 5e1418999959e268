#include "datasets/vocabulary.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "datasets/question_text.h"
#include "datasets/sentence_piece.h"

namespace avqa::data {
namespace {

using json = nlohmann::json;

constexpr const char* kVocabularyFormat = "avqa-vocabulary";
constexpr int kVocabularyVersion = 1;

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items)
    out += (out.empty() ? "'" : ", '") + item + "'";
  return out;
}

// A JSON file, or an InputError naming it.
json read_json_file(const std::filesystem::path& path) {
  try {
    return json::parse(read_text_file(path));
  } catch (const json::parse_error& e) {
    throw core::InputError({path.string(), std::nullopt, ""},
                           std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace

const std::vector<std::string>& music_avqa_instruments() {
  static const std::vector<std::string> kInstruments = {
      "accordion", "acoustic_guitar", "bagpipe", "banjo",         "bassoon", "cello",
      "clarinet",  "congas",          "drum",    "electric_bass", "erhu",    "flute",
      "guzheng",   "piano",           "pipa",    "saxophone",     "suona",   "trumpet",
      "tuba",      "ukulele",         "violin",  "xylophone"};
  return kInstruments;
}

const std::vector<std::string>& music_avqa_answers() {
  static const std::vector<std::string> kAnswers = {"two",
                                                    "cello",
                                                    "congas",
                                                    "zero",
                                                    "no",
                                                    "pipa",
                                                    "six",
                                                    "yes",
                                                    "one",
                                                    "four",
                                                    "three",
                                                    "seven",
                                                    "five",
                                                    "ukulele",
                                                    "right",
                                                    "piano",
                                                    "left",
                                                    "accordion",
                                                    "clarinet",
                                                    "guzheng",
                                                    "more than ten",
                                                    "nine",
                                                    "indoor",
                                                    "saxophone",
                                                    "drum",
                                                    "violin",
                                                    "middle",
                                                    "outdoor",
                                                    "bagpipe",
                                                    "bassoon",
                                                    "acoustic_guitar",
                                                    "banjo",
                                                    "electric_bass",
                                                    "ten",
                                                    "eight",
                                                    "flute",
                                                    "simultaneously",
                                                    "trumpet",
                                                    "erhu",
                                                    "xylophone",
                                                    "tuba",
                                                    "suona"};
  return kAnswers;
}

WordVocabulary::WordVocabulary(Options options) : options_(options) {
  if (options_.max_length == 0) throw std::invalid_argument("max question length must be positive");
  add(kPadToken);
}

WordVocabulary WordVocabulary::build(const std::vector<AnnotationSet>& sets, Options options) {
  WordVocabulary vocab(Options{false, options.max_length});
  for (const AnnotationSet& set : sets) {
    for (const AnnotationRecord& record : set.records) {
      for (const std::string& word : record.words)
        vocab.add(word);
    }
  }
  if (options.with_unknown) vocab.unknown_id_ = vocab.add(kUnknownToken);
  vocab.options_.with_unknown = options.with_unknown;
  return vocab;
}

WordVocabulary WordVocabulary::from_words(const std::vector<std::string>& words,
                                          std::size_t max_length) {
  if (words.empty() || words.front() != kPadToken) {
    throw std::invalid_argument(std::string("the word list must start with ") + kPadToken);
  }
  WordVocabulary vocab(Options{false, max_length});
  for (std::size_t i = 1; i < words.size(); ++i) {
    if (vocab.contains(words[i]))
      throw std::invalid_argument("word '" + words[i] + "' appears twice");
    if (words[i].empty()) throw std::invalid_argument("word " + std::to_string(i) + " is empty");
    vocab.add(words[i]);
  }
  if (vocab.contains(kUnknownToken)) {
    vocab.unknown_id_ = vocab.ids_.at(kUnknownToken);
    vocab.options_.with_unknown = true;
  }
  return vocab;
}

std::int64_t WordVocabulary::add(const std::string& word) {
  const auto [it, inserted] = ids_.emplace(word, static_cast<std::int64_t>(words_.size()));
  if (inserted) words_.push_back(word);
  return it->second;
}

const std::string& WordVocabulary::word(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= words_.size()) {
    throw std::out_of_range("word id " + std::to_string(id) + " outside a vocabulary of " +
                            std::to_string(words_.size()));
  }
  return words_[static_cast<std::size_t>(id)];
}

std::int64_t WordVocabulary::id(const std::string& word) const {
  const auto it = ids_.find(word);
  if (it != ids_.end()) return it->second;
  if (has_unknown()) return unknown_id_;
  throw std::invalid_argument("unknown word '" + word + "'");
}

std::vector<std::string> WordVocabulary::unknown_words(
    const std::vector<std::string>& words) const {
  std::vector<std::string> unknown;
  for (const std::string& w : words) {
    if (!contains(w) && std::find(unknown.begin(), unknown.end(), w) == unknown.end())
      unknown.push_back(w);
  }
  return unknown;
}

std::vector<std::int64_t> WordVocabulary::encode(const std::vector<std::string>& words) const {
  if (words.size() > options_.max_length) {
    throw std::invalid_argument("question has " + std::to_string(words.size()) +
                                " words, more than the maximum of " +
                                std::to_string(options_.max_length));
  }
  if (!has_unknown()) {
    const auto unknown = unknown_words(words);
    if (!unknown.empty()) {
      throw std::invalid_argument("unknown word(s) " + quoted_list(unknown) +
                                  " (the vocabulary has " + std::to_string(size()) +
                                  " words and no " + kUnknownToken +
                                  "; rebuild it with --unk to map unseen words)");
    }
  }
  std::vector<std::int64_t> ids(options_.max_length, 0);
  for (std::size_t i = 0; i < words.size(); ++i)
    ids[i] = id(words[i]);
  return ids;
}

AnswerVocabulary::AnswerVocabulary(std::vector<std::string> answers)
    : answers_(std::move(answers)) {
  for (std::size_t i = 0; i < answers_.size(); ++i) {
    if (answers_[i].empty())
      throw std::invalid_argument("answer " + std::to_string(i) + " is empty");
    if (!ids_.emplace(answers_[i], static_cast<std::int64_t>(i)).second) {
      throw std::invalid_argument("answer '" + answers_[i] + "' appears twice");
    }
  }
}

AnswerVocabulary AnswerVocabulary::build(const std::vector<AnnotationSet>& sets) {
  std::vector<std::string> answers;
  std::unordered_map<std::string, bool> seen;
  for (const AnnotationSet& set : sets) {
    for (const AnnotationRecord& record : set.records) {
      if (seen.emplace(record.answer, true).second) answers.push_back(record.answer);
    }
  }
  return AnswerVocabulary(std::move(answers));
}

AnswerVocabulary AnswerVocabulary::load(const std::filesystem::path& path) {
  const std::string file = path.string();
  const json document = read_json_file(path);
  std::vector<std::string> answers;
  if (document.is_array()) {
    for (std::size_t i = 0; i < document.size(); ++i) {
      if (!document[i].is_string()) {
        throw core::InputError({file, i, ""}, "answer must be a string, found a JSON " +
                                                  std::string(document[i].type_name()));
      }
      answers.push_back(document[i].get<std::string>());
    }
  } else if (document.is_object() && document.contains("ans2ix") &&
             document["ans2ix"].is_object()) {
    const json& table = document["ans2ix"];
    std::map<std::int64_t, std::string> by_index;
    for (const auto& [answer, index] : table.items()) {
      if (!index.is_number_integer()) {
        throw core::InputError({file, std::nullopt, "ans2ix." + answer},
                               "index must be an integer");
      }
      const auto i = index.get<std::int64_t>();
      if (i < 0 || static_cast<std::size_t>(i) >= table.size()) {
        throw core::InputError(
            {file, std::nullopt, "ans2ix." + answer},
            "index " + std::to_string(i) + " outside 0.." + std::to_string(table.size() - 1));
      }
      if (!by_index.emplace(i, answer).second) {
        throw core::InputError(
            {file, std::nullopt, "ans2ix." + answer},
            "index " + std::to_string(i) + " also used by '" + by_index[i] + "'");
      }
    }
    for (auto& [index, answer] : by_index)
      answers.push_back(answer);
  } else {
    throw core::InputError(
        {file, std::nullopt, ""},
        "expected a JSON array of answers or an object with an \"ans2ix\" table");
  }
  try {
    return AnswerVocabulary(std::move(answers));
  } catch (const std::invalid_argument& e) {
    throw core::InputError({file, std::nullopt, ""}, e.what());
  }
}

std::int64_t AnswerVocabulary::index(const std::string& answer) const {
  const auto it = ids_.find(answer);
  if (it == ids_.end()) {
    throw std::invalid_argument("answer '" + answer + "' is not among the " +
                                std::to_string(size()) + " answers of the vocabulary");
  }
  return it->second;
}

const std::string& AnswerVocabulary::answer(std::int64_t index) const {
  if (index < 0 || static_cast<std::size_t>(index) >= answers_.size()) {
    throw std::out_of_range("answer index " + std::to_string(index) + " outside " +
                            std::to_string(answers_.size()) + " answers");
  }
  return answers_[static_cast<std::size_t>(index)];
}

namespace {

// Applies `encode` to every record; an error names the file, the record and `field`.
template <typename Encode>
auto encode_records(const AnnotationSet& set, const char* field, Encode encode) {
  std::vector<decltype(encode(set.records.front()))> out;
  out.reserve(set.records.size());
  for (const AnnotationRecord& record : set.records) {
    try {
      out.push_back(encode(record));
    } catch (const std::invalid_argument& e) {
      throw core::InputError({set.source, record.source_index, field}, e.what());
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::int64_t>> encode_questions(const AnnotationSet& set,
                                                        const WordVocabulary& words) {
  return encode_records(set, "question_content",
                        [&](const AnnotationRecord& r) { return words.encode(r.words); });
}

std::vector<std::int64_t> encode_answers(const AnnotationSet& set,
                                         const AnswerVocabulary& answers) {
  return encode_records(set, "anser",
                        [&](const AnnotationRecord& r) { return answers.index(r.answer); });
}

std::int64_t question_vocabulary_size(const Vocabularies& vocab) {
  return vocab.pieces ? vocab.pieces->size : static_cast<std::int64_t>(vocab.words.size());
}

namespace {

std::vector<std::int64_t> padded(std::vector<std::int64_t> ids, std::size_t max_length) {
  if (ids.size() > max_length) {
    throw std::invalid_argument(std::to_string(ids.size()) + " pieces, more than the maximum of " +
                                std::to_string(max_length) +
                                " (train with a larger --tokenizer-max-length, or a tokenizer "
                                "with more pieces)");
  }
  ids.resize(max_length, 0);
  return ids;
}

}  // namespace

std::vector<std::vector<std::int64_t>> encode_questions(const AnnotationSet& set,
                                                        const Vocabularies& vocab) {
  if (!vocab.pieces) return encode_questions(set, vocab.words);
  std::vector<std::string> texts;
  for (const AnnotationRecord& r : set.records)
    texts.push_back(question_sentence(r.words));
  const auto ids =
      SentencePieceModel(vocab.pieces->model, vocab.pieces->size).encode(texts);  // one helper run
  std::size_t i = 0;
  return encode_records(set, "question_content", [&](const AnnotationRecord&) {
    return padded(ids[i++], vocab.pieces->max_length);
  });
}

std::vector<std::int64_t> encode_question(const std::vector<std::string>& words,
                                          const Vocabularies& vocab) {
  if (!vocab.pieces) return vocab.words.encode(words);
  return padded(SentencePieceModel(vocab.pieces->model, vocab.pieces->size)
                    .encode({question_sentence(words)})
                    .front(),
                vocab.pieces->max_length);
}

void save_vocabularies(const Vocabularies& vocab, const std::filesystem::path& path) {
  json document = {
      {"format", kVocabularyFormat},
      {"version", kVocabularyVersion},
      {"max_question_length", vocab.words.max_length()},
      {"unknown_token", vocab.words.has_unknown() ? json(kUnknownToken) : json(nullptr)},
      {"words", vocab.words.words()},
      {"answers", vocab.answers.answers()},
      {"built_from", vocab.built_from},
  };
  if (vocab.pieces) {
    const auto folder = std::filesystem::absolute(path).parent_path();
    const auto model = std::filesystem::absolute(vocab.pieces->model);
    document["pieces"] = {
        {"model", model.parent_path() == folder ? model.filename().string() : model.string()},
        {"size", vocab.pieces->size},
        {"max_length", vocab.pieces->max_length}};
  }
  core::write_file_atomically(path, document.dump(2) + "\n");
}

Vocabularies load_vocabularies(const std::filesystem::path& path) {
  const std::string file = path.string();
  const json document = read_json_file(path);
  auto field = [&](const char* key) -> const json& {
    if (!document.is_object() || !document.contains(key)) {
      throw core::InputError({file, std::nullopt, key},
                             "is missing; not a vocabulary written by 'avqa data vocab'");
    }
    return document[key];
  };
  if (field("format") != kVocabularyFormat) {
    throw core::InputError({file, std::nullopt, "format"},
                           std::string("expected \"") + kVocabularyFormat + "\"");
  }
  if (!field("version").is_number_integer() || field("version").get<int>() > kVocabularyVersion) {
    throw core::InputError(
        {file, std::nullopt, "version"},
        "unsupported version (this build reads up to " + std::to_string(kVocabularyVersion) + ")");
  }
  auto string_list = [&](const char* key) {
    const json& list = field(key);
    if (!list.is_array())
      throw core::InputError({file, std::nullopt, key}, "must be an array of strings");
    std::vector<std::string> items;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string()) {
        throw core::InputError(
            {file, std::nullopt, std::string(key) + "[" + std::to_string(i) + "]"},
            "must be a string");
      }
      items.push_back(list[i].get<std::string>());
    }
    return items;
  };
  const json& max_length = field("max_question_length");
  if (!max_length.is_number_unsigned() || max_length.get<std::size_t>() == 0) {
    throw core::InputError({file, std::nullopt, "max_question_length"},
                           "must be a positive integer");
  }
  Vocabularies vocab;
  try {
    vocab.words = WordVocabulary::from_words(string_list("words"), max_length.get<std::size_t>());
  } catch (const std::invalid_argument& e) {
    throw core::InputError({file, std::nullopt, "words"}, e.what());
  }
  try {
    vocab.answers = AnswerVocabulary(string_list("answers"));
  } catch (const std::invalid_argument& e) {
    throw core::InputError({file, std::nullopt, "answers"}, e.what());
  }
  if (document.contains("built_from")) vocab.built_from = string_list("built_from");
  if (document.contains("pieces")) {
    const json& pieces = document["pieces"];
    if (!pieces.is_object() || !pieces.contains("model") || !pieces["model"].is_string() ||
        !pieces.contains("size") || !pieces["size"].is_number_unsigned() ||
        !pieces.contains("max_length") || !pieces["max_length"].is_number_unsigned() ||
        pieces["max_length"].get<std::size_t>() == 0) {
      throw core::InputError({file, std::nullopt, "pieces"},
                             "must be {\"model\": path, \"size\": count, \"max_length\": count}");
    }
    QuestionPieces p;
    p.model = pieces["model"].get<std::string>();
    if (p.model.is_relative()) p.model = path.parent_path() / p.model;
    p.size = pieces["size"].get<std::int64_t>();
    p.max_length = pieces["max_length"].get<std::size_t>();
    vocab.pieces = p;
  }
  return vocab;
}

Vocabularies build_vocabularies(const std::vector<AnnotationSet>& sets,
                                WordVocabularyOptions words,
                                const std::filesystem::path& answers_file) {
  Vocabularies vocab;
  vocab.words = WordVocabulary::build(sets, words);
  if (answers_file.empty()) {
    vocab.answers = AnswerVocabulary::build(sets);
  } else {
    vocab.answers = AnswerVocabulary::load(answers_file);
    for (const auto& set : sets)
      encode_answers(set, vocab.answers);  // names the first stray answer
  }
  for (const auto& set : sets) {
    encode_questions(set, vocab.words);  // names the first question over max_length
    vocab.built_from.push_back(set.source);
  }
  return vocab;
}

std::vector<core::InputError> vocabulary_errors(const AnnotationSet& set,
                                                const Vocabularies& vocab,
                                                const std::string& vocab_name,
                                                std::size_t max_errors) {
  std::vector<core::InputError> errors;
  for (const auto& r : set.records) {
    if (errors.size() >= max_errors) break;
    if (const auto unknown = vocab.words.unknown_words(r.words);
        !unknown.empty() && !vocab.words.has_unknown()) {
      std::string list;
      for (const auto& w : unknown)
        list += (list.empty() ? "'" : ", '") + w + "'";
      errors.emplace_back(
          core::InputError::Location{set.source, r.source_index, "question_content"},
          "unknown word(s) " + list + " for vocabulary " + vocab_name);
    } else if (r.words.size() > vocab.words.max_length()) {
      errors.emplace_back(
          core::InputError::Location{set.source, r.source_index, "question_content"},
          std::to_string(r.words.size()) + " words, more than the vocabulary's maximum of " +
              std::to_string(vocab.words.max_length()));
    }
    if (!vocab.answers.contains(r.answer) && errors.size() < max_errors) {
      errors.emplace_back(core::InputError::Location{set.source, r.source_index, "anser"},
                          "answer '" + r.answer + "' is not among the " +
                              std::to_string(vocab.answers.size()) + " answers of " + vocab_name);
    }
  }
  return errors;
}

}  // namespace avqa::data
