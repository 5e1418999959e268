// The classification task end to end on a tiny generated set: the generator's classification
// mode, extraction, `train` with a balance method, evaluation.
#include "avclass/classification_task.h"

#include <numeric>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avclass/class_labels.h"
#include "avqa/train_options.h"
#include "core/atomic_file.h"
#include "core/train/epoch_metrics.h"
#include "datasets/features/feature_cache.h"
#include "datasets/synthetic/generator.h"
#include "datasets/synthetic/truth.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::avclass {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// Three short epochs on the generated set's train and val files.
net::TrainOptions short_run(const fs::path& dir) {
  net::TrainOptions o;
  o.task = "classify";
  o.train = dir / "data/annotations/class-train.csv";
  o.val = dir / "data/annotations/class-val.csv";
  o.cache = dir / "data/features.h5";
  o.out = dir / "run";
  o.epochs = 3;
  o.batch = 4;
  o.learning_rate = 1e-3;
  o.classifier_width = 16;
  o.progress = false;
  return o;
}

void generate(const fs::path& dir, double imbalance) {
  synthetic::GeneratorOptions g;
  g.out = dir / "data";
  g.videos = 16;
  g.scene.seconds = 2;
  g.seed = 3;
  g.split = {0.5, 0.5, 0.0};
  g.questions_per_video = 2;
  g.classes = 3;
  g.scene.imbalance = imbalance;
  g.progress = false;
  synthetic::generate_dataset(g);
}

TEST(ClassificationData, GeneratorLabelsTheOneSoundingInstrument) {
  TempDir dir("classify_generate");
  generate(dir.path(), 0.5);
  const auto train = load_labelled_videos(dir / "data/annotations/class-train.csv");
  const auto val = load_labelled_videos(dir / "data/annotations/class-val.csv");
  EXPECT_EQ(train.size() + val.size(), 16u);
  int ambiguous = 0;
  for (const auto& set : {train, val}) {
    for (const auto& v : set) {
      const auto truth = synthetic::load_truth(dir / ("data/truth/" + v.video_id + ".json"));
      int sounding = 0;
      for (const auto& inst : truth.instruments) {
        const bool sounds = !inst.sounding_intervals.empty();
        sounding += sounds;
        if (sounds) {
          EXPECT_EQ(inst.name, v.label) << v.video_id;
        }
      }
      EXPECT_EQ(sounding, 1) << v.video_id;
      EXPECT_EQ(truth.label, v.label);
      if (truth.visible().size() > 1) {
        ++ambiguous;
        EXPECT_TRUE(truth.motion_suppressed) << v.video_id << ": distractors, yet motion shows";
      }
    }
  }
  EXPECT_GT(ambiguous, 0);  // half of the clips, drawn
  EXPECT_LT(ambiguous, 16);
}

// --robust crmt on classification: CRMT's head replaces the concatenation head, phase 2 moves only
// its integration weights, and robust-eval reports certified accuracy.
TEST(ClassificationTask, TrainsWithCrmtAndReportsCertifiedAccuracy) {
  TempDir dir("classify_crmt");
  generate(dir.path(), 0.5);
  avqa::testing::extract_tiny_features(dir.path(), 2);
  net::TrainOptions o = short_run(dir.path());
  o.robust = "crmt";
  o.crmt_lr_scale = 100;
  o.method = train::BalanceMethod::OgmGe;  // --robust composes with --balance
  o.progress = false;
  const train::FitReport fitted = train_classifier(o);
  EXPECT_EQ(fitted.epochs.size(), 3u);
  {
    const auto recorded = nlohmann::json::parse(core::read_text_file(o.out / "run.json"));
    EXPECT_EQ(recorded.at("robust"), "crmt");
    EXPECT_EQ(recorded.at("balance"), "ogm-ge");
  }
  const ClassifierRunConfig config = load_classifier_config(o.out);
  EXPECT_EQ(config.widths.fusion, Fusion::Crmt);
  LateFusionClassifier phase_one(config.widths), certified(config.widths);
  phase_one.load(o.out / "best-phase1.pt");
  certified.load(o.out / "best.pt");
  const auto before = phase_one.net()->named_parameters();
  std::vector<std::string> changed;
  for (const auto& p : certified.net()->named_parameters()) {
    if (!torch::equal(p.value(), before[p.key()])) changed.push_back(p.key());
  }
  EXPECT_EQ(changed, std::vector<std::string>{"crmt.integration"});

  train::RobustEvalOptions r;
  r.radii = {0, 0.05};
  r.relative = true;
  r.missing = false;
  r.snr_db = {};
  r.quality_probability = 0;
  const train::RobustReport robust = robust_evaluate_classifier(o.out, o.val, {}, r);
  std::vector<std::string> kinds;
  for (const auto& c : robust.conditions)
    kinds.push_back(c.kind + "/" + c.modality);
  ASSERT_EQ(kinds.size(), 11u);  // clean, 2 x 2 attacks, 3 x 2 certified
  EXPECT_EQ(kinds[5], "certified/");
  EXPECT_EQ(kinds[10], "certified/visual");
  EXPECT_DOUBLE_EQ(robust.conditions[5].accuracy, robust.conditions[0].accuracy);  // radius 0
  EXPECT_LE(robust.conditions[6].accuracy, robust.conditions[5].accuracy);

  net::TrainOptions film = o;
  film.out = dir / "film";
  film.fusion = "film";
  EXPECT_THROW(train_classifier(film), std::invalid_argument);
}

TEST(ClassificationTask, TrainsWithABalanceMethodAndEvaluates) {
  TempDir dir("classify_train");
  generate(dir.path(), 0.5);
  avqa::testing::extract_tiny_features(dir.path(), 2);
  net::TrainOptions o = short_run(dir.path());
  o.method = train::BalanceMethod::OgmGe;
  o.progress = false;
  const train::FitReport report = train_classifier(o);
  ASSERT_EQ(report.epochs.size(), 3u);
  EXPECT_TRUE(is_classification_run(o.out));
  const auto metrics = train::read_metrics(o.out / "metrics.jsonl");
  ASSERT_EQ(metrics.back().modalities.size(), 2u);
  EXPECT_TRUE(metrics.back().score_ratio.has_value());

  EXPECT_EQ(load_classifier_config(o.out).visual_pooling, VisualPooling::MeanMax);  // default

  // Mean-max pooling is the mean's vector followed by the max's, and the max is never below it.
  {
    const features::FeatureCacheReader cache(o.cache);
    const auto videos = load_labelled_videos(o.val);
    const auto classes = load_classifier_config(o.out).classes;
    const ClassificationData mean(videos, classes, cache, o.val, 2, VisualPooling::Mean);
    const ClassificationData max(videos, classes, cache, o.val, 2, VisualPooling::Max);
    const ClassificationData both(videos, classes, cache, o.val, 2, VisualPooling::MeanMax);
    ASSERT_EQ(both.visual_dim(), 2 * mean.visual_dim());
    std::vector<std::size_t> all(videos.size());
    std::iota(all.begin(), all.end(), 0);
    const auto m = mean.load(all, false, 0).inputs[1];
    const auto x = max.load(all, false, 0).inputs[1];
    const auto b = both.load(all, false, 0).inputs[1];
    EXPECT_TRUE(torch::equal(b.narrow(2, 0, mean.visual_dim()), m));
    EXPECT_TRUE(torch::equal(b.narrow(2, mean.visual_dim(), mean.visual_dim()), x));
    EXPECT_TRUE((x >= m - 1e-6).all().item<bool>());
    EXPECT_FALSE(torch::allclose(x, m));  // the tiny backbones' maps are not constant
  }

  // best.pt on the validation file gives the accuracy training recorded for its epoch.
  const ClassificationEvaluation e = evaluate_classifier(o.out, o.val);
  EXPECT_EQ(e.videos, load_labelled_videos(o.val).size());
  EXPECT_DOUBLE_EQ(e.fused.accuracy, report.best_val_accuracy);
  const auto classes = load_classifier_config(o.out).classes;
  for (const auto& p : e.predictions)
    EXPECT_NE(std::find(classes.begin(), classes.end(), p), classes.end()) << p;
  EXPECT_NE(format_classification_report(e).find("macro-F1"), std::string::npos);

  // robust-eval's clean condition is eval's accuracy; the pooled inputs [T, d] have seconds, so
  // the dropped-seconds condition runs for both modalities.
  train::RobustEvalOptions r;
  r.radii = {0.1};
  r.relative = true;
  r.snr_db = {};
  r.quality_probability = 0;
  const train::RobustReport robust = robust_evaluate_classifier(o.out, o.val, {}, r);
  std::vector<std::string> kinds;
  for (const auto& c : robust.conditions)
    kinds.push_back(c.kind + "/" + c.modality);
  EXPECT_EQ(kinds, (std::vector<std::string>{"clean/", "pgd-l2/audio", "pgd-l2/visual",
                                             "zeros/audio", "mean/audio", "drop/audio",
                                             "zeros/visual", "mean/visual", "drop/visual"}));
  EXPECT_DOUBLE_EQ(robust.conditions[0].accuracy, e.fused.accuracy);
  EXPECT_LE(robust.conditions[1].accuracy, robust.conditions[0].accuracy);

  // A pooling that does not exist is refused before anything is written.
  net::TrainOptions bad = o;
  bad.out = dir / "bad-run";
  bad.visual_pooling = "median";
  try {
    train_classifier(bad);
    FAIL() << "accepted --visual-pooling median";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("--visual-pooling"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(fs::exists(bad.out));

  // A run whose config.json names a pooling that does not exist: the error names that key.
  fs::create_directories(dir / "odd-run");
  const std::string config = core::read_text_file(o.out / "config.json");
  const std::string pooled = "\"visual_pooling\": \"mean-max\"";
  ASSERT_NE(config.find(pooled), std::string::npos) << config;
  std::string odd = config;
  odd.replace(odd.find(pooled), pooled.size(), "\"visual_pooling\": \"median\"");
  core::write_file_atomically(dir / "odd-run/config.json", odd);
  try {
    load_classifier_config(dir / "odd-run");
    FAIL() << "a config with visual_pooling median was accepted";
  } catch (const core::InputError& err) {
    EXPECT_EQ(err.where().field, "visual_pooling");
  }

  // A label file naming a video the cache lacks: the error names the file, record and field.
  core::write_file_atomically(dir / "bad.csv", "video_id,label\nnot-there," + classes[0] + "\n");
  try {
    evaluate_classifier(o.out, dir / "bad.csv");
    FAIL() << "a video missing from the cache was accepted";
  } catch (const core::InputError& err) {
    EXPECT_EQ(err.where().file, (dir / "bad.csv").string());
    EXPECT_EQ(err.where().record, 0u);
    EXPECT_EQ(err.where().field, "video_id");
  }
}

}  // namespace
}  // namespace avqa::avclass
