#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace avqa::data {

/// Removes the last Unicode code point of a UTF-8 string (not the last byte: MUSIC-AVQA's
/// "How many sounding <Object> in the video？" ends in the 3-byte U+FF1F).
std::string drop_last_code_point(std::string_view utf8);

/// The character the original loader drops from `question_content` (its last code point after
/// trailing whitespace) when it is not a question mark ('?' or the full-width U+FF1F); empty
/// when it is one. `avqa data check` warns about such questions: their last word loses a letter.
std::string dropped_non_question_mark(std::string_view question_content);

/// Number of words holding a placeholder (any word containing '<', as the original counts).
std::size_t count_placeholders(std::string_view question_content);

/// The question's words exactly as the original ST-AVQA loader makes them:
/// trailing whitespace removed, split on single spaces, the last code point of the last word
/// dropped (the question mark), and each word containing '<' replaced, left to right, by the
/// next of `templ_values`. Throws std::invalid_argument when the question is empty or the
/// number of placeholders differs from the number of values.
std::vector<std::string> question_words(std::string_view question_content,
                                        const std::vector<std::string>& templ_values);

/// The question's words joined by single spaces: the text a SentencePiece tokenizer reads, so
/// that pieces and words see the same question (question mark dropped, placeholders filled).
std::string question_sentence(const std::vector<std::string>& words);

/// The question as a user reads it: placeholders filled, original punctuation kept.
std::string filled_question(std::string_view question_content,
                            const std::vector<std::string>& templ_values);

}  // namespace avqa::data
