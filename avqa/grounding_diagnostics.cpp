#include "avqa/grounding_diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <torch/torch.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/features/feature_cache.h"
#include "datasets/synthetic/truth.h"
#include "datasets/vocabulary.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using synthetic::SceneTruth;

// Cells of some videos: features [N, C], labels [N] (1 inside a box), and per segment the range
// of its cells with whether any of them is inside (for the peak score).
struct Cells {
  torch::Tensor features;
  torch::Tensor labels;
  std::vector<std::pair<std::int64_t, std::int64_t>> segments;  ///< [begin, end) rows with a box
};

Cells gather_cells(const features::FeatureCacheReader& cache,
                   const fs::path& cache_file,
                   const fs::path& truth_dir,
                   const std::vector<std::string>& videos,
                   bool sounding_only) {
  const features::CacheLayout& layout = cache.layout();
  const features::ModalityLayout* visual = nullptr;
  for (const auto& m : layout.modalities) {
    if (m.name == "visual") visual = &m;
  }
  if (!visual || visual->segment_shape.size() != 3 ||
      visual->segment_shape[1] != visual->segment_shape[2]) {
    throw std::invalid_argument("the feature cache needs visual maps [C, G, G]");
  }
  const auto channels = static_cast<std::int64_t>(visual->segment_shape[0]);
  const auto grid = static_cast<std::int64_t>(visual->segment_shape[1]);
  const std::int64_t cells = grid * grid;
  std::vector<torch::Tensor> features;
  std::vector<float> labels;
  Cells out;
  std::int64_t row = 0;
  for (const std::string& id : videos) {
    const auto index = cache.find(id);
    if (!index)
      throw core::InputError({cache_file.string(), std::nullopt, "video_ids"},
                             "'" + id + "' is not in the feature cache");
    const SceneTruth truth = synthetic::load_truth(truth_dir / (id + ".json"));
    const auto maps = cache.read("visual", *index);  // [T, C, G, G]
    const auto all =
        torch::from_blob(const_cast<float*>(maps.data()), {layout.segments, channels, cells})
            .permute({0, 2, 1})
            .clone();  // [T, cells, C]
    const auto width = static_cast<double>(truth.width);
    const auto height = static_cast<double>(truth.height);
    for (int k = 0; k < layout.segments; ++k) {
      const auto second = static_cast<std::size_t>(k / layout.fps);
      std::vector<TruthBox> boxes = truth_boxes(truth, second, 1.0);
      if (sounding_only) {
        boxes.erase(std::remove_if(boxes.begin(), boxes.end(),
                                   [](const TruthBox& b) { return !b.sounding; }),
                    boxes.end());
      }
      const std::vector<float> inside =
          cells_inside(boxes, static_cast<int>(grid), static_cast<int>(grid), width, height);
      labels.insert(labels.end(), inside.begin(), inside.end());
      if (std::any_of(inside.begin(), inside.end(), [](float v) { return v > 0; }))
        out.segments.emplace_back(row, row + cells);
      features.push_back(all[k]);
      row += cells;
    }
  }
  out.features = torch::cat(features);
  out.labels = torch::tensor(labels);
  return out;
}

// Seconds of some videos: audio features [N, D] and which of the 22 instruments sound [N, 22].
struct Seconds {
  torch::Tensor features;
  torch::Tensor labels;
};

Seconds gather_seconds(const features::FeatureCacheReader& cache,
                       const fs::path& cache_file,
                       const fs::path& truth_dir,
                       const std::vector<std::string>& videos) {
  const features::CacheLayout& layout = cache.layout();
  const features::ModalityLayout* audio = nullptr;
  for (const auto& m : layout.modalities) {
    if (m.name == "audio") audio = &m;
  }
  if (!audio || audio->segment_shape.size() != 1)
    throw std::invalid_argument("the feature cache needs audio features [D]");
  const auto dims = static_cast<std::int64_t>(audio->segment_shape[0]);
  const auto& names = data::music_avqa_instruments();
  const auto classes = static_cast<std::int64_t>(names.size());
  std::vector<torch::Tensor> features, labels;
  for (const std::string& id : videos) {
    const auto index = cache.find(id);
    if (!index)
      throw core::InputError({cache_file.string(), std::nullopt, "video_ids"},
                             "'" + id + "' is not in the feature cache");
    const fs::path truth_file = truth_dir / (id + ".json");
    const SceneTruth truth = synthetic::load_truth(truth_file);
    const auto values = cache.read("audio", *index);  // [T, D]
    features.push_back(
        torch::from_blob(const_cast<float*>(values.data()), {layout.segments, dims}).clone());
    auto sounding = torch::zeros({layout.segments, classes});
    for (const synthetic::InstrumentTruth& inst : truth.instruments) {
      const auto it = std::find(names.begin(), names.end(), inst.name);
      if (it == names.end())
        throw core::InputError({truth_file.string(), std::nullopt, "instruments.class"},
                               "'" + inst.name + "' is not one of MUSIC-AVQA's instruments");
      const auto c = static_cast<std::int64_t>(it - names.begin());
      const auto& per_second = inst.sounding_per_second;
      for (int k = 0; k < layout.segments; ++k) {
        const auto second = static_cast<std::size_t>(k / layout.fps);
        if (second < per_second.size() && per_second[second]) sounding[k][c] = 1;
      }
    }
    labels.push_back(sounding);
  }
  return {torch::cat(features), torch::cat(labels)};
}

// Area under the ROC curve by ranks (ties share their mean rank).
double roc_auc(const torch::Tensor& score, const torch::Tensor& label) {
  const auto order = std::get<1>(score.sort());
  const auto sorted_score = score.index_select(0, order);
  const auto sorted_label = label.index_select(0, order);
  const auto n = score.size(0);
  const auto* s = sorted_score.data_ptr<float>();
  const auto* l = sorted_label.data_ptr<float>();
  double rank_sum = 0, positives = 0;
  for (std::int64_t i = 0; i < n;) {
    std::int64_t j = i;
    while (j < n && s[j] == s[i])
      ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + 1 + j);
    for (std::int64_t k = i; k < j; ++k) {
      if (l[k] > 0.5) {
        rank_sum += mean_rank;
        ++positives;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

}  // namespace

std::vector<TruthBox> truth_boxes(const SceneTruth& truth, std::size_t second, double scale) {
  std::vector<TruthBox> out;
  for (const synthetic::InstrumentTruth& inst : truth.instruments) {
    if (!inst.visible || second >= inst.boxes_per_second.size()) continue;
    const synthetic::Box& b = inst.boxes_per_second[second];
    TruthBox box;
    box.x0 = b.x0 * scale;
    box.y0 = b.y0 * scale;
    box.x1 = b.x1 * scale;
    box.y1 = b.y1 * scale;
    box.sounding = second < inst.sounding_per_second.size() && inst.sounding_per_second[second];
    out.push_back(box);
  }
  return out;
}

fs::path truth_folder_beside(const fs::path& annotations) {
  return annotations.parent_path().parent_path() / "truth";
}

std::vector<float> cells_inside(
    const std::vector<TruthBox>& boxes, int rows, int cols, double width, double height) {
  std::vector<float> out(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols), 0.f);
  for (int i = 0; i < rows; ++i) {
    const double y = (i + 0.5) * height / rows;
    for (int j = 0; j < cols; ++j) {
      const double x = (j + 0.5) * width / cols;
      if (std::any_of(boxes.begin(), boxes.end(),
                      [&](const TruthBox& b) { return b.contains(x, y); }))
        out[static_cast<std::size_t>(i) * static_cast<std::size_t>(cols) +
            static_cast<std::size_t>(j)] = 1.f;
    }
  }
  return out;
}

std::vector<float> sounding_cells(const SceneTruth& truth,
                                  const std::vector<int>& seconds,
                                  int rows,
                                  int cols) {
  const auto width = static_cast<double>(truth.width);
  const auto height = static_cast<double>(truth.height);
  std::vector<float> out;
  out.reserve(seconds.size() * static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
  for (const int second : seconds) {
    std::vector<TruthBox> boxes = truth_boxes(truth, static_cast<std::size_t>(second), 1.0);
    boxes.erase(
        std::remove_if(boxes.begin(), boxes.end(), [](const TruthBox& b) { return !b.sounding; }),
        boxes.end());
    const std::vector<float> inside = cells_inside(boxes, rows, cols, width, height);
    out.insert(out.end(), inside.begin(), inside.end());
  }
  return out;
}

CellProbeReport probe_cells(const fs::path& cache_file,
                            const fs::path& truth_dir,
                            const std::vector<std::string>& train_videos,
                            const std::vector<std::string>& test_videos,
                            const CellProbeOptions& o) {
  if (train_videos.empty() || test_videos.empty())
    throw std::invalid_argument("the cell probe needs training and test videos");
  const features::FeatureCacheReader cache(cache_file);
  const Cells train = gather_cells(cache, cache_file, truth_dir, train_videos, o.sounding_only);
  const Cells test = gather_cells(cache, cache_file, truth_dir, test_videos, o.sounding_only);
  CellProbeReport r;
  r.train_cells = static_cast<std::size_t>(train.labels.size(0));
  r.test_cells = static_cast<std::size_t>(test.labels.size(0));
  r.positive_share = test.labels.mean().item<double>();

  // Standardised on the training cells; the classes weighted to count equally (few cells are
  // inside a box).
  const auto mean = train.features.mean(0);
  const auto std = train.features.std(0) + 1e-6;
  const auto x_train = (train.features - mean) / std;
  const auto x_test = (test.features - mean) / std;
  const double positive = std::max(1.0, train.labels.sum().item<double>());
  const double negative = std::max(1.0, static_cast<double>(r.train_cells) - positive);
  const auto weight_of = [&](const torch::Tensor& y) {
    return torch::where(y > 0.5,
                        torch::full_like(y, 0.5 / positive * static_cast<double>(r.train_cells)),
                        torch::full_like(y, 0.5 / negative * static_cast<double>(r.train_cells)));
  };
  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  torch::nn::Linear probe(x_train.size(1), 1);
  torch::optim::Adam optimizer(probe->parameters(), torch::optim::AdamOptions(o.learning_rate));
  const std::int64_t n = x_train.size(0);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const auto order = torch::randperm(n);
    for (std::int64_t start = 0; start < n; start += o.batch) {
      const auto rows = order.narrow(0, start, std::min<std::int64_t>(o.batch, n - start));
      const auto y = train.labels.index_select(0, rows);
      const auto loss = torch::binary_cross_entropy_with_logits(
          probe(x_train.index_select(0, rows)).squeeze(1), y, weight_of(y));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
  }
  torch::NoGradGuard no_grad;
  const auto score = probe(x_test).squeeze(1).contiguous();
  const auto predicted = (score > 0).to(torch::kFloat32);
  const auto inside = test.labels > 0.5;
  const double recall_inside = predicted.masked_select(inside).mean().item<double>();
  const double recall_outside = (1 - predicted.masked_select(~inside)).mean().item<double>();
  r.balanced_accuracy = 0.5 * ((std::isnan(recall_inside) ? 0 : recall_inside) +
                               (std::isnan(recall_outside) ? 0 : recall_outside));
  r.auc = roc_auc(score, test.labels);
  double hits = 0, chance = 0;
  for (const auto& [begin, end] : test.segments) {
    const auto peak = begin + score.narrow(0, begin, end - begin).argmax().item<std::int64_t>();
    hits += test.labels[peak].item<float>();
    chance += test.labels.narrow(0, begin, end - begin).mean().item<double>();
  }
  r.peak_segments = test.segments.size();
  if (r.peak_segments > 0) {
    r.peak_hit = hits / static_cast<double>(r.peak_segments);
    r.peak_chance = chance / static_cast<double>(r.peak_segments);
  }
  return r;
}

std::string format_cell_probe(const CellProbeReport& r, const CellProbeOptions& o) {
  char text[600];
  std::snprintf(text, sizeof text,
                "linear probe on single cells: is the cell's centre in a %s instrument's box?\n"
                "  cells: %zu train, %zu test (%.1f%% of the test cells inside)\n"
                "  balanced accuracy %.1f%%, ROC AUC %.3f (0.5: no information)\n"
                "  highest-scoring cell of a segment inside a box: %.1f%% of %zu segments "
                "(chance %.1f%%)\n",
                o.sounding_only ? "sounding visible" : "visible", r.train_cells, r.test_cells,
                100 * r.positive_share, 100 * r.balanced_accuracy, r.auc, 100 * r.peak_hit,
                r.peak_segments, 100 * r.peak_chance);
  return text;
}

AudioProbeReport probe_audio(const fs::path& cache_file,
                             const fs::path& truth_dir,
                             const std::vector<std::string>& train_videos,
                             const std::vector<std::string>& test_videos,
                             const AudioProbeOptions& o) {
  if (train_videos.empty() || test_videos.empty())
    throw std::invalid_argument("the audio probe needs training and test videos");
  const features::FeatureCacheReader cache(cache_file);
  const Seconds train = gather_seconds(cache, cache_file, truth_dir, train_videos);
  const Seconds test = gather_seconds(cache, cache_file, truth_dir, test_videos);
  AudioProbeReport r;
  r.train_seconds = static_cast<std::size_t>(train.labels.size(0));
  r.test_seconds = static_cast<std::size_t>(test.labels.size(0));

  const auto mean = train.features.mean(0);
  const auto std = train.features.std(0) + 1e-6;
  const auto x_train = (train.features - mean) / std;
  const auto x_test = (test.features - mean) / std;
  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  torch::nn::Linear probe(x_train.size(1), train.labels.size(1));
  torch::optim::Adam optimizer(probe->parameters(), torch::optim::AdamOptions(o.learning_rate));
  const std::int64_t n = x_train.size(0);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const auto order = torch::randperm(n);
    for (std::int64_t start = 0; start < n; start += o.batch) {
      const auto rows = order.narrow(0, start, std::min<std::int64_t>(o.batch, n - start));
      const auto loss = torch::binary_cross_entropy_with_logits(
          probe(x_train.index_select(0, rows)), train.labels.index_select(0, rows));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
  }
  torch::NoGradGuard no_grad;
  const auto score = probe(x_test);  // [N, 22]
  double auc_sum = 0;
  for (std::int64_t c = 0; c < score.size(1); ++c) {
    const auto label = test.labels.select(1, c).contiguous();
    const double positives = label.sum().item<double>();
    if (positives == 0 || positives == static_cast<double>(label.size(0))) continue;
    auc_sum += roc_auc(score.select(1, c).contiguous(), label);
    ++r.classes_scored;
  }
  if (r.classes_scored > 0) r.macro_auc = auc_sum / static_cast<double>(r.classes_scored);
  const auto any = test.labels.sum(1) > 0;
  const auto top = score.argmax(1, true);  // [N, 1]
  const auto hit = test.labels.gather(1, top).squeeze(1);
  r.top_seconds = static_cast<std::size_t>(any.sum().item<std::int64_t>());
  if (r.top_seconds > 0) {
    r.top_hit = hit.masked_select(any).mean().item<double>();
    r.top_chance = (test.labels.sum(1) / static_cast<double>(test.labels.size(1)))
                       .masked_select(any)
                       .mean()
                       .item<double>();
  }
  return r;
}

std::string format_audio_probe(const AudioProbeReport& r) {
  char text[500];
  std::snprintf(text, sizeof text,
                "linear probe on the audio feature of one second: which instruments sound?\n"
                "  seconds: %zu train, %zu test\n"
                "  ROC AUC %.3f, the mean over %zu instruments (0.5: no information)\n"
                "  highest-scoring instrument sounds: %.1f%% of %zu seconds with sound "
                "(chance %.1f%%)\n",
                r.train_seconds, r.test_seconds, r.macro_auc, r.classes_scored, 100 * r.top_hit,
                r.top_seconds, 100 * r.top_chance);
  return text;
}

}  // namespace avqa::net
