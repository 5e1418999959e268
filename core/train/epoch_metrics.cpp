#include "core/train/epoch_metrics.h"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/input_error.h"

namespace avqa::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

json to_json(const EpochMetrics& e) {
  json line = {{"epoch", e.epoch},
               {"lr", e.learning_rate},
               {"train_loss", e.train_loss},
               {"train_accuracy", e.train_accuracy},
               {"val_accuracy", e.val_accuracy},
               {"seconds", e.seconds}};
  if (e.score_ratio) line["score_ratio"] = *e.score_ratio;
  if (!e.modalities.empty()) {
    json order = json::array();
    json per = json::object();
    for (const auto& m : e.modalities) {
      order.push_back(m.modality);
      per[m.modality] = {{"unimodal_accuracy", m.unimodal_accuracy},
                         {"probe_accuracy", m.probe_accuracy},
                         {"contribution", m.contribution}};
    }
    line["modality_order"] = order;
    line["modalities"] = per;
  }
  return line;
}

EpochMetrics epoch_metrics_from_json(const json& line,
                                     const fs::path& file,
                                     std::optional<std::size_t> record) {
  if (!line.is_object()) throw core::InputError({file.string(), record, ""}, "not a JSON object");
  auto number_in = [&](const json& object, const std::string& key, const std::string& field) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number())
      throw core::InputError({file.string(), record, field}, "missing or not a number");
    return it->get<double>();
  };
  auto number_at = [&](const char* key) { return number_in(line, key, key); };
  EpochMetrics m;
  m.epoch = static_cast<int>(number_at("epoch"));
  m.learning_rate = number_at("lr");
  m.train_loss = number_at("train_loss");
  m.train_accuracy = number_at("train_accuracy");
  m.val_accuracy = number_at("val_accuracy");
  m.seconds = number_at("seconds");
  if (line.contains("score_ratio")) m.score_ratio = number_at("score_ratio");
  if (line.contains("modality_order")) {
    const json& order = line["modality_order"];
    const auto per = line.find("modalities");
    if (!order.is_array() || per == line.end() || !per->is_object())
      throw core::InputError({file.string(), record, "modalities"},
                             "needs \"modality_order\" (array) and \"modalities\" (object)");
    for (const auto& name : order) {
      if (!name.is_string())
        throw core::InputError({file.string(), record, "modality_order"}, "not a string");
      const std::string n = name.get<std::string>();
      const auto entry = per->find(n);
      if (entry == per->end() || !entry->is_object())
        throw core::InputError({file.string(), record, "modalities." + n}, "missing");
      const std::string prefix = "modalities." + n + ".";
      m.modalities.push_back({n,
                              number_in(*entry, "unimodal_accuracy", prefix + "unimodal_accuracy"),
                              number_in(*entry, "probe_accuracy", prefix + "probe_accuracy"),
                              number_in(*entry, "contribution", prefix + "contribution")});
    }
  }
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

std::string describe(const EpochMetrics& m) {
  char text[256];
  std::snprintf(text, sizeof text,
                "epoch %d: lr %.0e, train loss %.4f, train acc %.2f%%, val acc %.2f%% (%.1f s)",
                m.epoch, m.learning_rate, m.train_loss, 100 * m.train_accuracy,
                100 * m.val_accuracy, m.seconds);
  std::string out = text;
  for (const auto& d : m.modalities) {
    std::snprintf(text, sizeof text, "; %s: alone %.1f%%, probe %.1f%%, contribution %.2f",
                  d.modality.c_str(), 100 * d.unimodal_accuracy, 100 * d.probe_accuracy,
                  d.contribution);
    out += text;
  }
  if (m.score_ratio) {
    std::snprintf(text, sizeof text, "; score ratio %.2f", *m.score_ratio);
    out += text;
  }
  return out;
}

}  // namespace avqa::train
