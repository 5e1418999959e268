#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace avqa::data {

/// The `avqa-spm` helper that runs SentencePiece. SentencePiece cannot live in a process with
/// LibTorch (their protobuf copies clash), so every call goes through this torch-free executable:
/// $AVQA_SPM when set, else avqa-spm beside the running executable (or in its spm/ folder, as in
/// the build tree), else avqa-spm on PATH.
std::filesystem::path sentence_piece_helper();

struct SentencePieceTrainOptions {
  std::vector<std::string> sentences;  ///< the corpus, one question each
  std::filesystem::path out;           ///< the model file; <out>.vocab is written beside it
  int vocab_size = 256;                ///< at most; a small corpus may give fewer pieces
  std::string model_type = "unigram";  ///< unigram or bpe
};

/// Trains a model (pad = 0, unknown = 1, no sentence markers, every character covered) and
/// writes it atomically. Throws std::runtime_error with SentencePiece's message on failure.
void train_sentence_piece(const SentencePieceTrainOptions& options);

/// A trained SentencePiece model, used through the helper. Questions of any wording encode:
/// unseen words fall apart into known pieces or characters instead of being refused.
class SentencePieceModel {
 public:
  /// Throws core::InputError naming the file when it is not a SentencePiece model.
  explicit SentencePieceModel(std::filesystem::path model);
  /// A model checked before, whose piece count is known (a run's vocabulary records it): no
  /// helper run until something is encoded.
  SentencePieceModel(std::filesystem::path model, std::int64_t size)
      : path_(std::move(model)), size_(size) {}
  const std::filesystem::path& path() const { return path_; }
  std::int64_t size() const { return size_; }  ///< pieces, the embedding's rows
  /// Ids per sentence (never 0, the padding id); one helper run for all of them.
  std::vector<std::vector<std::int64_t>> encode(const std::vector<std::string>& sentences) const;
  /// The pieces themselves ("▁the", "▁vi", "olin"), for showing a user how a question was read.
  std::vector<std::vector<std::string>> pieces(const std::vector<std::string>& sentences) const;

 private:
  std::filesystem::path path_;
  std::int64_t size_ = 0;
};

}  // namespace avqa::data
