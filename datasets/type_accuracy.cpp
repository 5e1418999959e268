#include "datasets/type_accuracy.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace avqa::data {
namespace {

std::optional<double> ratio(std::size_t correct, std::size_t total) {
  if (total == 0) return std::nullopt;
  return static_cast<double>(correct) / static_cast<double>(total);
}

std::string cell(std::optional<double> accuracy, std::size_t correct, std::size_t total) {
  char buffer[64];
  if (accuracy) {
    std::snprintf(buffer, sizeof buffer, "%6.2f  (%zu/%zu)", *accuracy * 100.0, correct, total);
  } else {
    std::snprintf(buffer, sizeof buffer, "%6s  (0 questions)", "-");
  }
  return buffer;
}

nlohmann::json json_cell(std::optional<double> accuracy, std::size_t correct, std::size_t total) {
  return {{"correct", correct},
          {"total", total},
          {"accuracy", accuracy ? nlohmann::json(*accuracy * 100.0) : nlohmann::json(nullptr)}};
}

}  // namespace

void TypeAccuracy::add(QuestionType type, bool correct) {
  ++total_[index_of(type)];
  correct_[index_of(type)] += correct ? 1 : 0;
}

void TypeAccuracy::merge(const TypeAccuracy& other) {
  for (std::size_t i = 0; i < kNumQuestionTypes; ++i) {
    total_[i] += other.total_[i];
    correct_[i] += other.correct_[i];
  }
}

std::size_t TypeAccuracy::count(Modality modality) const {
  std::size_t n = 0;
  for (const QuestionType t : kAllQuestionTypes)
    n += modality_of(t) == modality ? count(t) : 0;
  return n;
}

std::size_t TypeAccuracy::correct(Modality modality) const {
  std::size_t n = 0;
  for (const QuestionType t : kAllQuestionTypes)
    n += modality_of(t) == modality ? correct(t) : 0;
  return n;
}

std::size_t TypeAccuracy::count() const {
  std::size_t n = 0;
  for (const std::size_t t : total_)
    n += t;
  return n;
}

std::size_t TypeAccuracy::correct() const {
  std::size_t n = 0;
  for (const std::size_t c : correct_)
    n += c;
  return n;
}

std::optional<double> TypeAccuracy::accuracy(QuestionType type) const {
  return ratio(correct(type), count(type));
}
std::optional<double> TypeAccuracy::accuracy(Modality modality) const {
  return ratio(correct(modality), count(modality));
}
std::optional<double> TypeAccuracy::accuracy() const {
  return ratio(correct(), count());
}

std::string TypeAccuracy::format_table() const {
  return format_type_table(
      "Accuracy (%)", [this](QuestionType t) { return cell(accuracy(t), correct(t), count(t)); },
      [this](Modality m) { return cell(accuracy(m), correct(m), count(m)); },
      [this] { return cell(accuracy(), correct(), count()); });
}

std::string TypeAccuracy::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const QuestionType t : kAllQuestionTypes) {
    out[std::string(short_label(t))] = json_cell(accuracy(t), correct(t), count(t));
  }
  for (const Modality m : kAllModalities) {
    out[std::string(short_label(m)) + "-Avg"] = json_cell(accuracy(m), correct(m), count(m));
  }
  out["All"] = json_cell(accuracy(), correct(), count());
  return out.dump(2);
}

}  // namespace avqa::data
