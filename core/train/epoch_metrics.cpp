#include "avqa/training_metrics.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/input_error.h"

namespace avqa::net {

namespace fs = std::filesystem;
using json = nlohmann::json;

json to_json(const EpochMetrics& e) {
  return {{"epoch", e.epoch},
          {"lr", e.learning_rate},
          {"train_loss", e.train_loss},
          {"train_accuracy", e.train_accuracy},
          {"val_accuracy", e.val_accuracy},
          {"seconds", e.seconds}};
}

EpochMetrics epoch_metrics_from_json(const json& line,
                                     const fs::path& file,
                                     std::optional<std::size_t> record) {
  if (!line.is_object()) throw core::InputError({file.string(), record, ""}, "not a JSON object");
  auto number_at = [&](const char* key) {
    const auto it = line.find(key);
    if (it == line.end() || !it->is_number())
      throw core::InputError({file.string(), record, key}, "missing or not a number");
    return it->get<double>();
  };
  EpochMetrics m;
  m.epoch = static_cast<int>(number_at("epoch"));
  m.learning_rate = number_at("lr");
  m.train_loss = number_at("train_loss");
  m.train_accuracy = number_at("train_accuracy");
  m.val_accuracy = number_at("val_accuracy");
  m.seconds = number_at("seconds");
  return m;
}

std::vector<EpochMetrics> read_metrics(const fs::path& file) {
  std::vector<EpochMetrics> out;
  std::ifstream in(file);
  if (!in) return out;
  std::string line;
  for (std::size_t record = 0; std::getline(in, line); ++record) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(epoch_metrics_from_json(json::parse(line, nullptr, /*allow_exceptions=*/false),
                                          file, record));
  }
  return out;
}

}  // namespace avqa::net
