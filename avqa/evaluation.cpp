#include "avqa/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/grounding_diagnostics.h"
#include "avqa/run_folder.h"
#include "core/input_error.h"
#include "datasets/features/feature_cache.h"
#include "datasets/synthetic/truth.h"

namespace avqa::net {

namespace fs = std::filesystem;

Evaluation evaluate(StAvqaNet& model, const QaDataset& data, int batch, bool question_only) {
  Evaluation e;
  model->eval();
  torch::NoGradGuard no_grad;
  for (std::size_t start = 0; start < data.size(); start += static_cast<std::size_t>(batch)) {
    std::vector<std::size_t> indices;
    for (std::size_t i = start; i < std::min(data.size(), start + static_cast<std::size_t>(batch));
         ++i)
      indices.push_back(i);
    const QaBatch b = data.load(indices, /*negatives=*/false, 0, question_only);
    const StAvqaOutput out = model->forward(b.audio, b.visual, b.question);
    const auto probabilities = torch::softmax(out.logits, 1);
    const auto [values, top] =
        probabilities.topk(std::min<std::int64_t>(5, probabilities.size(1)), 1);
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const auto row = static_cast<std::int64_t>(k);
      const std::int64_t predicted = top[row][0].item<std::int64_t>();
      e.predicted.push_back(predicted);
      e.accuracy.add(data.type(indices[k]), predicted == b.label[row].item<std::int64_t>());
      std::vector<std::pair<std::int64_t, float>> five;
      for (std::int64_t j = 0; j < top.size(1); ++j)
        five.emplace_back(top[row][j].item<std::int64_t>(), values[row][j].item<float>());
      e.top5.push_back(five);
      e.spatial_attention.push_back(out.spatial_attention[row].clone());
      e.temporal_visual.push_back(out.temporal_visual[row].clone());
    }
  }
  return e;
}

GroundingScores grounding_scores(const Evaluation& e,
                                 const QaDataset& data,
                                 const fs::path& truth,
                                 const std::vector<int>& segment_seconds,
                                 int frame_size) {
  GroundingScores scores;
  std::map<std::string, synthetic::SceneTruth> truths;
  std::size_t hits = 0, any_hits = 0;
  double mass = 0;
  double area_share = 0;
  double seconds_share = 0;
  for (std::size_t q = 0; q < data.size(); ++q) {
    const std::string& id = data.video_id(q);
    if (!truths.count(id)) truths[id] = synthetic::load_truth(truth / (id + ".json"));
    const synthetic::SceneTruth& t = truths[id];
    const auto& spatial = e.spatial_attention[q];
    const auto grid =
        static_cast<int>(std::lround(std::sqrt(static_cast<double>(spatial.size(1)))));
    const double cell = static_cast<double>(frame_size) / grid;
    const double scale = static_cast<double>(frame_size) / t.width;  // boxes are in video pixels
    double sounding_mass = 0;
    bool any_sounding = false;
    std::size_t question_hits = 0, question_segments = 0;
    for (std::size_t k = 0; k < segment_seconds.size(); ++k) {
      const auto second = static_cast<std::size_t>(segment_seconds[k]);
      std::vector<TruthBox> boxes = truth_boxes(t, second, scale);
      const std::vector<TruthBox> visible = boxes;
      boxes.erase(
          std::remove_if(boxes.begin(), boxes.end(), [](const TruthBox& b) { return !b.sounding; }),
          boxes.end());
      if (boxes.empty()) continue;
      any_sounding = true;
      double area = 0;  // boxes rarely overlap; their summed area, capped at the frame
      for (const auto& b : boxes)
        area += (b.x1 - b.x0) * (b.y1 - b.y0);
      area_share += std::min(1.0, area / (static_cast<double>(frame_size) * frame_size));
      seconds_share += 1.0 / static_cast<double>(segment_seconds.size());
      sounding_mass += e.temporal_visual[q][static_cast<std::int64_t>(k)].item<double>();
      const auto peak = spatial[static_cast<std::int64_t>(k)].argmax().item<std::int64_t>();
      const double x = (static_cast<double>(peak % grid) + 0.5) * cell;
      const double y = (static_cast<double>(peak / grid) + 0.5) * cell;
      ++scores.pointing_segments;
      ++question_segments;
      const auto inside = [&](const TruthBox& b) { return b.contains(x, y); };
      if (std::any_of(boxes.begin(), boxes.end(), inside)) {
        ++hits;
        ++question_hits;
      }
      if (std::any_of(visible.begin(), visible.end(), inside)) ++any_hits;
    }
    scores.question_pointing.push_back(question_segments > 0
                                           ? static_cast<double>(question_hits) /
                                                 static_cast<double>(question_segments)
                                           : -1.0);
    if (any_sounding) {
      mass += sounding_mass;
      ++scores.temporal_questions;
    }
  }
  if (scores.pointing_segments > 0)
    scores.pointing_accuracy =
        static_cast<double>(hits) / static_cast<double>(scores.pointing_segments);
  if (scores.pointing_segments > 0) {
    scores.pointing_chance = area_share / static_cast<double>(scores.pointing_segments);
    scores.pointing_any_instrument =
        static_cast<double>(any_hits) / static_cast<double>(scores.pointing_segments);
  }
  if (scores.temporal_questions > 0) {
    scores.temporal_mass = mass / static_cast<double>(scores.temporal_questions);
    scores.temporal_chance = seconds_share / static_cast<double>(scores.temporal_questions);
  }
  return scores;
}

bool needs_grounding(data::QuestionType type) {
  return type == data::QuestionType::VisualLocation ||
         type == data::QuestionType::AudioVisualLocation ||
         type == data::QuestionType::AudioVisualTemporal;
}

std::vector<TemplateScore> template_scores(const Evaluation& e,
                                           const QaDataset& data,
                                           const data::AnnotationSet& set,
                                           const GroundingScores* grounding) {
  std::vector<TemplateScore> out;
  std::map<std::string, std::size_t> index;
  for (std::size_t q = 0; q < data.size(); ++q) {
    const data::AnnotationRecord& r = set.records.at(q);
    auto [it, added] = index.emplace(r.question_content, out.size());
    if (added) {
      out.emplace_back();
      out.back().question = r.question_content;
      out.back().type = r.type;
    }
    TemplateScore& t = out[it->second];
    const bool right = e.predicted.at(q) == data.label(q);
    ++t.questions;
    t.correct += right ? 1 : 0;
    if (grounding == nullptr || grounding->question_pointing.at(q) < 0) continue;
    if (grounding->question_pointing[q] >= 0.5) {
      ++t.pointed;
      t.pointed_correct += right ? 1 : 0;
    } else {
      ++t.missed;
      t.missed_correct += right ? 1 : 0;
    }
  }
  return out;
}

std::string format_template_scores(const std::vector<TemplateScore>& templates) {
  const auto percent = [](std::size_t right, std::size_t n) {
    char text[32];
    if (n == 0) return std::string("     -");
    std::snprintf(text, sizeof text, "%5.1f%%",
                  100.0 * static_cast<double>(right) / static_cast<double>(n));
    return std::string(text);
  };
  std::string out =
      "Per template (* = the answer depends on where something is: grounding should move it;\n"
      "pointed = the attention peak hit a sounding instrument in at least half the question's\n"
      "scored segments)\n"
      "   type      questions  accuracy  pointed (n)       missed (n)        template\n";
  for (const TemplateScore& t : templates) {
    char line[512];
    std::snprintf(line, sizeof line, "%c  %-9s %9zu  %s   %s (%5zu)  %s (%5zu)  %s\n",
                  needs_grounding(t.type) ? '*' : ' ',
                  std::string(data::short_label(t.type)).c_str(), t.questions,
                  percent(t.correct, t.questions).c_str(),
                  percent(t.pointed_correct, t.pointed).c_str(), t.pointed,
                  percent(t.missed_correct, t.missed).c_str(), t.missed, t.question.c_str());
    out += line;
  }
  return out;
}

std::shared_ptr<const features::FeatureCacheReader> open_evaluation_cache(const fs::path& run,
                                                                          const RunConfig& config,
                                                                          const fs::path& cache) {
  if (config.question_only)
    return nullptr;  // a question-only run sees zeros whatever a cache holds
  const fs::path path = cache.empty() ? config.cache : cache;
  if (path.empty()) {
    throw core::InputError({(run / "config.json").string(), std::nullopt, "cache"},
                           "the run records no feature cache; pass --cache");
  }
  if (!fs::exists(path)) {
    throw core::InputError(
        {(run / "config.json").string(), std::nullopt, "cache"},
        "the run's feature cache " + path.string() +
            " is not there (moved or deleted?); pass the cache of these videos with --cache");
  }
  return std::make_shared<const features::FeatureCacheReader>(path);
}

EvalReport evaluate_run(const EvalOptions& o) {
  if (o.batch <= 0) throw std::invalid_argument("--batch must be positive");
  const RunConfig config = load_run_config(o.run);
  const data::Vocabularies vocab = data::load_vocabularies(o.run / "vocab.json");
  StAvqaNet model = load_run_model(o.run, config);
  const data::AnnotationSet set = data::load_annotations(o.annotations, {o.duplicates});

  const auto cache = open_evaluation_cache(o.run, config, o.cache);
  const QaDataset dataset(set, vocab, cache, config.segments);
  const Evaluation e = evaluate(model, dataset, o.batch, config.question_only);

  EvalReport report;
  report.annotations = o.annotations;
  report.questions = dataset.size();
  report.accuracy = e.accuracy;
  report.truth_supervised = config.truth_supervised;
  // Grounding against a generated dataset's truth: --truth, or the truth/ beside annotations/.
  report.truth = o.truth;
  const fs::path beside = truth_folder_beside(o.annotations);
  if (report.truth.empty() && fs::is_directory(beside)) report.truth = beside;
  if (!report.truth.empty() && cache) {
    const FeatureRecipe recipe = FeatureRecipe::of_cache(cache->layout());
    std::vector<int> seconds;
    for (const int row : model_segment_rows(recipe.segments, config.segments))
      seconds.push_back(static_cast<int>(recipe.seconds_of(row)));
    report.grounding = grounding_scores(e, dataset, report.truth, seconds, recipe.frame_size);
  }
  report.templates =
      template_scores(e, dataset, set, report.grounding ? &*report.grounding : nullptr);
  for (std::size_t i = 0; i < dataset.size(); ++i) {
    QuestionPrediction p;
    p.question_id = dataset.question_id(i);
    p.video_id = dataset.video_id(i);
    p.predicted = vocab.answers.answer(e.predicted[i]);
    p.answer = set.records[i].answer;
    for (const auto& [answer, probability] : e.top5[i])
      p.top5.emplace_back(vocab.answers.answer(answer), probability);
    report.predictions.push_back(std::move(p));
  }
  return report;
}

std::string eval_report_json(const EvalReport& r, bool per_template) {
  auto out = nlohmann::ordered_json::parse(r.accuracy.to_json());
  if (r.grounding) {
    const GroundingScores& g = *r.grounding;
    out["grounding"] = {{"pointing_accuracy", g.pointing_accuracy},
                        {"pointing_chance", g.pointing_chance},
                        {"pointing_segments", g.pointing_segments},
                        {"pointing_any_instrument", g.pointing_any_instrument},
                        {"temporal_mass", g.temporal_mass},
                        {"temporal_chance", g.temporal_chance},
                        {"temporal_questions", g.temporal_questions},
                        {"truth_supervised", r.truth_supervised}};
  }
  if (per_template) {
    const auto share = [](std::size_t right, std::size_t n) {
      return n == 0 ? nlohmann::ordered_json(nullptr)
                    : nlohmann::ordered_json(static_cast<double>(right) / static_cast<double>(n));
    };
    auto& list = out["templates"] = nlohmann::ordered_json::array();
    for (const TemplateScore& t : r.templates) {
      list.push_back({{"question", t.question},
                      {"type", std::string(data::short_label(t.type))},
                      {"needs_grounding", needs_grounding(t.type)},
                      {"questions", t.questions},
                      {"accuracy", share(t.correct, t.questions)},
                      {"pointed", t.pointed},
                      {"pointed_accuracy", share(t.pointed_correct, t.pointed)},
                      {"missed", t.missed},
                      {"missed_accuracy", share(t.missed_correct, t.missed)}});
    }
  }
  return out.dump(2) + "\n";
}

std::string format_eval_report(const EvalReport& r) {
  std::string out = r.annotations.string() + ": " + std::to_string(r.questions) + " questions\n" +
                    r.accuracy.format_table();
  if (r.grounding) {
    const GroundingScores& g = *r.grounding;
    char lines[512];
    std::snprintf(lines, sizeof lines,
                  "Grounding (truth in %s)\n"
                  "  attention peak on an instrument sounding then: %.1f%% of %zu segments "
                  "(chance %.1f%%); on any visible instrument, sounding or not: %.1f%%\n"
                  "  visual temporal attention on sounding seconds: %.1f%% (uniform %.1f%%), %zu "
                  "questions\n",
                  r.truth.c_str(), 100 * g.pointing_accuracy, g.pointing_segments,
                  100 * g.pointing_chance, 100 * g.pointing_any_instrument, 100 * g.temporal_mass,
                  100 * g.temporal_chance, g.temporal_questions);
    out += lines;
    if (r.truth_supervised) {
      out +=
          "  DIAGNOSTIC: this run's attention was trained on the truth boxes (an upper bound, not "
          "a method)\n";
    }
  }
  return out;
}

std::string predictions_json(const EvalReport& r) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const QuestionPrediction& p : r.predictions) {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const auto& [answer, probability] : p.top5)
      top.push_back({{"answer", answer}, {"probability", probability}});
    list.push_back({{"question_id", p.question_id},
                    {"video_id", p.video_id},
                    {"predicted", p.predicted},
                    {"answer", p.answer},
                    {"top5", top}});
  }
  return list.dump(2) + "\n";
}

}  // namespace avqa::net
