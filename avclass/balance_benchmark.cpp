#include "avclass/balance_benchmark.h"

#include <cmath>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "avclass/classification_task.h"
#include "avclass/seed_statistics.h"
#include "avqa/evaluation.h"
#include "avqa/train_options.h"
#include "avqa/trainer.h"
#include "core/atomic_file.h"
#include "core/train/epoch_metrics.h"

namespace avqa::avclass {
namespace {

namespace fs = std::filesystem;

}  // namespace

std::vector<BalanceBenchmarkRow> run_balance_benchmark(const BalanceBenchmarkOptions& b) {
  std::vector<BalanceBenchmarkRow> rows;
  const fs::path annotations = b.data / "annotations";
  for (const train::BalanceMethod method : b.methods) {
    BalanceBenchmarkRow row{method, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    for (int seed = 1; seed <= b.seeds; ++seed) {
      net::TrainOptions o;
      o.task = "classify";
      o.train = annotations / "class-train.csv";
      o.val = annotations / "class-val.csv";
      o.cache = b.cache;
      o.out = b.out / (std::string(train::to_string(method)) + "-seed" + std::to_string(seed));
      o.epochs = b.epochs;
      o.batch = b.batch;
      o.learning_rate = b.learning_rate;
      o.optimizer = train::parse_optimizer_kind(b.optimizer);
      o.weight_decay = b.weight_decay;
      o.lr_step = b.epochs;  // constant rate: the runs are short
      o.classifier_width = b.classifier_width;
      o.fusion = b.fusion;
      o.visual_pooling = b.visual_pooling;
      o.seed = static_cast<std::uint64_t>(seed);
      o.method = method;
      o.warmup_epochs = b.warmup_epochs;
      o.ogm_alpha = b.ogm_alpha;
      o.ogm_last_epoch = b.epochs;
      o.relearn_every = b.relearn_every;
      o.progress = false;
      std::vector<train::EpochMetrics> metrics = train::read_metrics(o.out / "metrics.jsonl");
      if (static_cast<int>(metrics.size()) < b.epochs) {
        std::error_code ec;
        o.resume = fs::exists(o.out / "state.json", ec);
        train_classifier(o);
        metrics = train::read_metrics(o.out / "metrics.jsonl");
      }
      const ClassificationEvaluation test =
          evaluate_classifier(o.out, annotations / "class-test.csv", b.cache);
      row.accuracy.push_back(test.fused.accuracy);
      row.macro_f1.push_back(test.fused.macro_f1);
      row.audio_alone.push_back(test.unimodal_accuracy.at(0));
      row.visual_alone.push_back(test.unimodal_accuracy.at(1));
      const auto& last = metrics.back();
      row.audio_probe.push_back(last.modalities.empty() ? 0 : last.modalities[0].probe_accuracy);
      row.visual_probe.push_back(last.modalities.size() < 2 ? 0
                                                            : last.modalities[1].probe_accuracy);
      row.seconds_per_epoch.push_back(seconds_per_epoch(metrics));
      if (b.progress) {
        std::fprintf(stderr,
                     "%-19s seed %d: test accuracy %.2f%%, audio alone %.2f%%, visual "
                     "alone %.2f%%\n",
                     train::to_string(method), seed, 100 * test.fused.accuracy,
                     100 * test.unimodal_accuracy.at(0), 100 * test.unimodal_accuracy.at(1));
      }
    }
    rows.push_back(std::move(row));
  }
  core::write_file_atomically(b.out / "table.md", balance_table_markdown(rows));
  write_balance_plot(rows, b.out / "accuracy.png");
  return rows;
}

std::vector<BalanceBenchmarkRow> run_avqa_balance_benchmark(const BalanceBenchmarkOptions& b) {
  std::vector<BalanceBenchmarkRow> rows;
  const net::TrainConfig base = net::load_train_config(b.avqa_config);
  for (const train::BalanceMethod method : b.methods) {
    BalanceBenchmarkRow row{method, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    for (int seed = 1; seed <= b.avqa_seeds; ++seed) {
      net::TrainOptions o = base.options;
      o.out = b.out /
              ("avqa-" + std::string(train::to_string(method)) + "-seed" + std::to_string(seed));
      o.epochs = b.avqa_epochs;
      o.seed = static_cast<std::uint64_t>(seed);
      o.method = method;
      o.warmup_epochs = std::min(b.warmup_epochs, b.avqa_epochs - 1);
      o.ogm_alpha = b.ogm_alpha;
      o.ogm_last_epoch = b.avqa_epochs;
      o.relearn_every = 1;  // the short runs re-learn after every epoch
      o.keep_weights.clear();
      o.resume = false;
      o.progress = false;
      std::vector<train::EpochMetrics> metrics = train::read_metrics(o.out / "metrics.jsonl");
      if (static_cast<int>(metrics.size()) < o.epochs) {
        std::error_code ec;
        o.resume = fs::exists(o.out / "state.json", ec);
        net::train(o);
        metrics = train::read_metrics(o.out / "metrics.jsonl");
      }
      net::EvalOptions e;
      e.run = o.out;
      e.annotations = o.train.parent_path() / "avqa-test.json";
      e.cache = o.cache;
      const net::EvalReport test = net::evaluate_run(e);
      row.accuracy.push_back(test.accuracy.accuracy().value_or(0.0));
      const auto& last = metrics.back();
      if (last.modalities.size() == 2) {
        row.audio_alone.push_back(last.modalities[0].unimodal_accuracy);
        row.visual_alone.push_back(last.modalities[1].unimodal_accuracy);
        row.audio_probe.push_back(last.modalities[0].probe_accuracy);
        row.visual_probe.push_back(last.modalities[1].probe_accuracy);
      }
      if (test.grounding) {
        row.pointing.push_back(test.grounding->pointing_accuracy);
        row.temporal.push_back(test.grounding->temporal_mass);
      }
      row.seconds_per_epoch.push_back(seconds_per_epoch(metrics));
      if (b.progress) {
        std::fprintf(stderr, "ST-AVQA %-19s seed %d: test accuracy %.2f%%\n",
                     train::to_string(method), seed, 100 * row.accuracy.back());
      }
    }
    rows.push_back(std::move(row));
  }
  core::write_file_atomically(b.out / "table-avqa.md", avqa_balance_table_markdown(rows));
  return rows;
}

std::string avqa_balance_table_markdown(const std::vector<BalanceBenchmarkRow>& rows) {
  double joint_seconds = 0;
  for (const auto& r : rows) {
    if (r.method == train::BalanceMethod::None) joint_seconds = seed_mean(r.seconds_per_epoch);
  }
  std::string out =
      "| method | test accuracy % | audio alone % (val) | visual alone % (val) | audio probe % | "
      "visual probe % | pointing % | temporal % | s / epoch | x joint |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    char time[64];
    const double s = seed_mean(r.seconds_per_epoch);
    std::snprintf(time, sizeof time, "%.1f | %.2f", s, joint_seconds > 0 ? s / joint_seconds : 0.0);
    out += "| " + std::string(train::to_string(r.method)) + " | " + mean_sd(r.accuracy) + " | " +
           mean_sd(r.audio_alone) + " | " + mean_sd(r.visual_alone) + " | " +
           mean_sd(r.audio_probe) + " | " + mean_sd(r.visual_probe) + " | " + mean_sd(r.pointing) +
           " | " + mean_sd(r.temporal) + " | " + time + " |\n";
  }
  return out;
}

std::string balance_table_markdown(const std::vector<BalanceBenchmarkRow>& rows) {
  double joint_seconds = 0;
  for (const auto& r : rows) {
    if (r.method == train::BalanceMethod::None) joint_seconds = seed_mean(r.seconds_per_epoch);
  }
  std::string out =
      "| method | test accuracy % | macro-F1 % | audio alone % | visual alone % | audio probe % | "
      "visual probe % | s / epoch | x joint |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    char time[64];
    const double s = seed_mean(r.seconds_per_epoch);
    std::snprintf(
        time, sizeof time, "%.2f | %s", s,
        joint_seconds > 0 ? (std::to_string(s / joint_seconds).substr(0, 4)).c_str() : "-");
    out += "| " + std::string(train::to_string(r.method)) + " | " + mean_sd(r.accuracy) + " | " +
           mean_sd(r.macro_f1) + " | " + mean_sd(r.audio_alone) + " | " + mean_sd(r.visual_alone) +
           " | " + mean_sd(r.audio_probe) + " | " + mean_sd(r.visual_probe) + " | " + time + " |\n";
  }
  return out;
}

void write_balance_plot(const std::vector<BalanceBenchmarkRow>& rows, const fs::path& png) {
  const int group = 120, margin = 60, height = 360, plot_h = 260;
  const int width = margin * 2 + group * static_cast<int>(rows.size());
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto y_of = [&](double accuracy) {
    return margin / 2 + static_cast<int>(std::lround((1.0 - accuracy) * plot_h));
  };
  for (int tick = 0; tick <= 10; tick += 2) {
    const int y = y_of(tick / 10.0);
    cv::line(image, {margin - 4, y}, {width - margin / 2, y}, cv::Scalar(225, 225, 225), 1);
    cv::putText(image, std::to_string(tick * 10), {8, y + 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                cv::Scalar(90, 90, 90), 1, cv::LINE_AA);
  }
  const cv::Scalar colours[3] = {{60, 60, 60}, {40, 110, 220}, {200, 120, 40}};  // fused, a, v
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const int x0 = margin + static_cast<int>(i) * group + 10;
    const std::vector<double>* series[3] = {&rows[i].accuracy, &rows[i].audio_alone,
                                            &rows[i].visual_alone};
    for (int k = 0; k < 3; ++k) {
      const int x = x0 + k * 22;
      const double m = seed_mean(*series[k]);
      cv::rectangle(image, {x, y_of(m)}, {x + 18, y_of(0)}, colours[k], cv::FILLED);
      const double s = seed_stddev(*series[k]);
      cv::line(image, {x + 9, y_of(m - s)}, {x + 9, y_of(m + s)}, cv::Scalar(0, 0, 0), 1);
    }
    cv::putText(image, train::to_string(rows[i].method), {x0 - 6, height - 40},
                cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::putText(image, "test accuracy %: fused (grey), audio alone (orange), visual alone (blue)",
              {margin, height - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.42, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  const auto temp = png.parent_path() / (png.stem().string() + ".tmp.png");
  cv::imwrite(temp.string(), image);
  fs::rename(temp, png);
}

}  // namespace avqa::avclass
