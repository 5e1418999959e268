#include "avqa/robust_evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string_view>

#include "avqa/run_folder.h"
#include "avqa/st_avqa_task.h"
#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/question_type.h"

namespace avqa::net {

RobustEvalRun robust_evaluate_run(const EvalOptions& o,
                                  const train::RobustEvalOptions& options,
                                  const std::function<void(const std::string&)>& progress) {
  if (o.batch <= 0) throw std::invalid_argument("--batch must be positive");
  const RunConfig config = load_run_config(o.run);
  if (config.question_only) {
    throw core::InputError({(o.run / "config.json").string(), std::nullopt, "question_only"},
                           "a question-only run sees no audio or video: nothing to attack or "
                           "take away");
  }
  const data::Vocabularies vocab = data::load_vocabularies(o.run / "vocab.json");
  StAvqaModel model(load_run_model(o.run, config), {});
  const data::AnnotationSet set = data::load_annotations(o.annotations, {o.duplicates});
  const auto cache = open_evaluation_cache(o.run, config, o.cache);
  const QaDataset dataset(set, vocab, cache, config.segments);
  if (dataset.size() == 0)
    throw core::InputError({o.annotations.string(), std::nullopt, ""}, "holds no questions");
  const QaTrainingData data(dataset, false);

  train::RobustEvalOptions r = options;
  r.batch = o.batch;
  r.lipschitz = train::run_lipschitz(o.run);
  RobustEvalRun out;
  out.report = train::robust_evaluate(model, data, r, progress);
  for (const data::AnnotationRecord& record : set.records)
    out.types.emplace_back(data::short_label(record.type));
  for (const data::QuestionType t : data::kAllQuestionTypes)
    out.type_order.emplace_back(data::short_label(t));
  return out;
}

void write_radius_plot(const std::vector<RadiusSeries>& series,
                       bool relative,
                       const std::string& title,
                       const std::filesystem::path& png) {
  double largest = 0;
  for (const auto& line : series)
    for (const auto& point : line.points)
      largest = std::max(largest, point.first);
  if (series.empty() || largest <= 0)
    throw std::invalid_argument("no attack in the report to plot (run without --no-attacks)");
  const int width = 640, height = 380, left = 60, right = 210, top = 40, bottom = 60;
  const int plot_w = width - left - right, plot_h = height - top - bottom;
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto x_of = [&](double r) {
    return left + static_cast<int>(std::lround(r / largest * plot_w));
  };
  const auto y_of = [&](double a) { return top + static_cast<int>(std::lround((1 - a) * plot_h)); };
  const cv::Scalar grey(90, 90, 90);
  for (int tick = 0; tick <= 10; tick += 2) {
    const int y = y_of(tick / 10.0);
    cv::line(image, {left, y}, {left + plot_w, y}, cv::Scalar(225, 225, 225), 1);
    cv::putText(image, std::to_string(tick * 10), {left - 30, y + 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                grey, 1, cv::LINE_AA);
  }
  std::vector<double> radii;
  for (const auto& line : series)
    for (const auto& point : line.points)
      radii.push_back(point.first);
  std::sort(radii.begin(), radii.end());
  radii.erase(std::unique(radii.begin(), radii.end()), radii.end());
  for (const double r : radii) {
    char label[32];
    std::snprintf(label, sizeof label, relative ? "%g%%" : "%g", relative ? 100 * r : r);
    cv::line(image, {x_of(r), top + plot_h}, {x_of(r), top + plot_h + 4}, grey, 1);
    cv::putText(image, label, {x_of(r) - 10, top + plot_h + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                grey, 1, cv::LINE_AA);
  }
  cv::line(image, {left, top}, {left, top + plot_h}, grey, 1);
  cv::line(image, {left, top + plot_h}, {left + plot_w, top + plot_h}, grey, 1);
  // Dashed: 6 pixels drawn, 5 left out.
  const auto segment = [&](cv::Point from, cv::Point to, const cv::Scalar& colour, bool dashed) {
    if (!dashed) {
      cv::line(image, from, to, colour, 2, cv::LINE_AA);
      return;
    }
    const double length = std::hypot(to.x - from.x, to.y - from.y);
    for (double d = 0; d < length; d += 11) {
      const double e = std::min(length, d + 6);
      const auto at = [&](double t) {
        return cv::Point(from.x + static_cast<int>(std::lround((to.x - from.x) * t / length)),
                         from.y + static_cast<int>(std::lround((to.y - from.y) * t / length)));
      };
      cv::line(image, at(d), at(e), colour, 2, cv::LINE_AA);
    }
  };
  int legend_y = top + 10;
  for (auto line : series) {
    std::sort(line.points.begin(), line.points.end());
    const cv::Scalar colour(line.rgb[2], line.rgb[1], line.rgb[0]);
    for (std::size_t k = 0; k < line.points.size(); ++k) {
      const cv::Point p(x_of(line.points[k].first), y_of(line.points[k].second));
      if (k > 0) {
        segment({x_of(line.points[k - 1].first), y_of(line.points[k - 1].second)}, p, colour,
                line.dashed);
      }
      cv::circle(image, p, line.dashed ? 3 : 4, colour, cv::FILLED, cv::LINE_AA);
    }
    segment({left + plot_w + 15, legend_y}, {left + plot_w + 40, legend_y}, colour, line.dashed);
    cv::putText(image, line.name, {left + plot_w + 46, legend_y + 4}, cv::FONT_HERSHEY_SIMPLEX,
                0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    legend_y += 22;
  }
  cv::putText(image, title, {left, 24}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  cv::putText(image, relative ? "radius: share of each input's own norm" : "radius (absolute norm)",
              {left, height - 14}, cv::FONT_HERSHEY_SIMPLEX, 0.42, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  std::vector<unsigned char> bytes;
  if (!cv::imencode(".png", image, bytes)) throw std::runtime_error("PNG encoding failed");
  core::write_file_atomically(
      png, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::array<int, 3> modality_colour(const std::string& modality) {
  // The balance plot's colours: audio orange, visual blue, any further modality grey.
  if (modality == "audio") return {220, 110, 40};
  if (modality == "visual") return {40, 120, 200};
  return {60, 60, 60};
}

void write_attack_plot(const train::RobustReport& report, const std::filesystem::path& png) {
  // Per attacked modality, (radius, accuracy) from radius 0 (clean) up; certified accuracy of a
  // CRMT run dashed beside it.
  std::map<std::string, RadiusSeries> attacked, certified;
  std::string kind;
  bool relative = false;
  double clean = 0;
  for (const train::RobustCondition& c : report.conditions) {
    if (c.kind == "clean") clean = c.accuracy;
    const bool attack = c.kind.rfind("pgd-", 0) == 0 || c.kind.rfind("fgm-", 0) == 0;
    if (!attack && c.kind != "certified") continue;
    if (attack) kind = c.kind, relative = c.relative;
    const std::string name = c.modality.empty() ? "all inputs" : c.modality;
    RadiusSeries& line = (attack ? attacked : certified)[name];
    line.name = attack ? name : name + " certified";
    line.rgb = modality_colour(c.modality);
    line.dashed = !attack;
    line.points.emplace_back(c.amount, c.accuracy);
  }
  std::vector<RadiusSeries> series;
  for (auto* lines : {&attacked, &certified}) {
    for (auto& [name, line] : *lines) {
      line.points.emplace_back(0.0, clean);  // radius 0 certifies every right answer
      if (line.dashed && !attacked.count(name) && name != "all inputs") continue;
      series.push_back(line);
    }
  }
  if (attacked.empty())
    throw std::invalid_argument("no attack in the report to plot (run without --no-attacks)");
  write_radius_plot(series, relative,
                    "accuracy % with one modality attacked, " + kind + ", " +
                        std::to_string(report.steps) + " step(s)",
                    png);
}

}  // namespace avqa::net
