#include "core/train/robust_training.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/core/train/toy_model.h"
#include "tests/test_paths.h"

namespace avqa::train {
namespace {

using testing::ToyData;
using testing::ToyModel;

// Sees each training batch after the adversarial hook and measures how far it moved from the
// clean samples it came from.
class MovedBatches : public Hook {
 public:
  explicit MovedBatches(const ToyData& data) : data_(data) {}
  std::string name() const override { return "moved"; }
  void on_batch(StepContext& step) override {
    const Batch clean = data_.load(step.batch.indices, true, 0);
    Batch zero = clean;
    for (auto& x : zero.inputs)
      x = torch::zeros_like(x);
    moved.push_back(perturbation_norms(clean, step.batch, {0, 1}, AttackNorm::L2));
    size.push_back(perturbation_norms(zero, clean, {0, 1}, AttackNorm::L2));
    for (std::size_t m = 0; m < 2; ++m) {
      moved_modality[m].push_back(perturbation_norms(clean, step.batch, {m}, AttackNorm::L2));
      size_modality[m].push_back(perturbation_norms(zero, clean, {m}, AttackNorm::L2));
    }
    labels_kept = labels_kept && torch::equal(clean.labels, step.batch.labels);
  }
  std::vector<at::Tensor> moved, size;
  std::vector<at::Tensor> moved_modality[2], size_modality[2];
  bool labels_kept = true;

 private:
  const ToyData& data_;
};

// The 64 toy samples every fit here trains on.
const ToyData& toy_train_data() {
  static const ToyData train(64, 1);
  return train;
}

// Fits a fresh toy model (seed 0) on toy_train_data() in batches of 16 with the hooks `o` asks
// for and then `observer`.
void fit_toy(const RobustTrainingOptions& o,
             int epochs,
             const std::string& name,
             const std::shared_ptr<Hook>& observer) {
  static const ToyData val(32, 2);
  avqa::testing::TempDir dir(name);
  auto hooks = make_robust_hooks(o);
  hooks.push_back(observer);
  torch::manual_seed(0);
  ToyModel model;
  TrainerOptions t;
  t.out = dir.path();
  t.epochs = epochs;
  t.batch = 16;
  t.progress = false;
  t.diagnostics = false;
  fit(model, toy_train_data(), val, t, hooks);
}

/// fit_toy, returning what the batches looked like after the robust hooks.
std::shared_ptr<MovedBatches> train_toy(const RobustTrainingOptions& o,
                                        int epochs,
                                        const std::string& name) {
  auto recorder = std::make_shared<MovedBatches>(toy_train_data());
  fit_toy(o, epochs, name, recorder);
  return recorder;
}

TEST(AdversarialTraining, TrainsOnBatchesMovedInsideTheRelativeBall) {
  RobustTrainingOptions o;
  o.robust = "adv";
  o.robust_radius = 0.1;
  const auto hooks = make_robust_hooks(o);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0]->name(), "adv");
  const auto recorder = train_toy(o, 2, "adv_training");
  ASSERT_EQ(recorder->moved.size(), 8u);  // 2 epochs x 4 batches
  EXPECT_TRUE(recorder->labels_kept);
  for (std::size_t k = 0; k < recorder->moved.size(); ++k) {
    const auto bound = 0.1 * recorder->size[k];
    EXPECT_TRUE((recorder->moved[k] <= bound * (1 + 1e-5)).all().item<bool>()) << k;
    EXPECT_TRUE((recorder->moved[k] > 0.5 * bound).all().item<bool>()) << k;
  }
}

// The toy's audio (norm about 2) is smaller than its visual input (about 6): the joint ball lets
// the attack move the audio by more than a tenth of its own norm, the per-modality ball does not.
TEST(AdversarialTraining, PerModalityBallBoundsEachModalityByItsOwnNorm) {
  auto moved_audio_beyond_own_share = [&](const std::string& ball) {
    RobustTrainingOptions o;
    o.robust = "adv";
    o.robust_radius = 0.1;
    o.robust_ball = ball;
    const auto recorder = train_toy(o, 1, "adv_training_" + ball);
    EXPECT_EQ(recorder->moved_modality[0].size(), 4u);
    bool beyond = false;
    for (std::size_t k = 0; k < recorder->moved_modality[0].size(); ++k) {
      for (std::size_t m = 0; m < 2; ++m) {
        const auto bound = 0.1 * recorder->size_modality[m][k];
        const auto& moved = recorder->moved_modality[m][k];
        if (ball == "per-modality") {
          EXPECT_TRUE((moved <= bound * (1 + 1e-5)).all().item<bool>()) << k << " " << m;
          // A sample whose ReLU units of one modality are all off has no gradient there.
          EXPECT_GE((moved > 0.5 * bound).to(torch::kFloat).mean().item<float>(), 0.75f)
              << k << " " << m;
        }
        if (m == 0) beyond = beyond || (moved > bound * 1.5).any().item<bool>();
      }
    }
    return beyond;
  };
  EXPECT_FALSE(moved_audio_beyond_own_share("per-modality"));
  EXPECT_TRUE(moved_audio_beyond_own_share("joint"));
}

// --robust-modalities audio: the attack moves the audio inside its own ball and leaves the visual
// input exactly as it was; the names are the model's.
TEST(AdversarialTraining, ModalitiesAttackOnlyTheNamedOnes) {
  for (const std::string& named : {"audio", "visual"}) {
    RobustTrainingOptions o;
    o.robust = "adv";
    o.robust_radius = 0.1;
    o.robust_ball = "per-modality";
    o.robust_modalities = named;
    const auto recorder = train_toy(o, 1, "adv_training_only_" + named);
    ASSERT_EQ(recorder->moved_modality[0].size(), 4u);
    const std::size_t attacked = named == "audio" ? 0 : 1;
    for (std::size_t k = 0; k < 4; ++k) {
      const auto bound = 0.1 * recorder->size_modality[attacked][k];
      const auto& moved = recorder->moved_modality[attacked][k];
      EXPECT_TRUE((moved <= bound * (1 + 1e-5)).all().item<bool>()) << named << " " << k;
      EXPECT_GE((moved > 0.5 * bound).to(torch::kFloat).mean().item<float>(), 0.75f)
          << named << " " << k;
      EXPECT_EQ(recorder->moved_modality[1 - attacked][k].abs().max().item<float>(), 0.0f)
          << named << " " << k;
    }
  }
  RobustTrainingOptions o;
  o.robust = "adv";
  o.robust_modalities = "audio,sound";
  try {
    fit_toy(o, 1, "adv_training_unknown_modality",
            std::make_shared<MovedBatches>(toy_train_data()));
    ADD_FAILURE() << "a modality the model does not have was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'sound'"), std::string::npos) << what;
    EXPECT_NE(what.find("audio, visual"), std::string::npos) << what;
  }
  EXPECT_EQ(parse_robust_modalities("audio,visual"), (std::vector<std::string>{"audio", "visual"}));
  EXPECT_TRUE(parse_robust_modalities("").empty());
}

// --robust-share 0.5: in each batch some samples are attacked and the others left exactly clean,
// about half each over the run.
TEST(AdversarialTraining, ShareLeavesTheOtherSamplesClean) {
  RobustTrainingOptions o;
  o.robust = "adv";
  o.robust_radius = 0.1;
  o.robust_share = 0.5;
  const auto recorder = train_toy(o, 4, "adv_training_share");
  std::int64_t attacked = 0, clean = 0;
  for (std::size_t k = 0; k < recorder->moved.size(); ++k) {
    const auto moved = recorder->moved[k];
    const auto bound = 0.1 * recorder->size[k];
    EXPECT_TRUE((moved <= bound * (1 + 1e-5)).all().item<bool>()) << k;
    attacked += (moved > 0.5 * bound).sum().item<std::int64_t>();
    clean += (moved == 0).sum().item<std::int64_t>();
  }
  EXPECT_EQ(attacked + clean, 4 * 64);  // each sample either attacked or untouched
  EXPECT_GT(attacked, 4 * 64 / 4);
  EXPECT_GT(clean, 4 * 64 / 4);
}

// After the adversarial hook's on_loss: its loss terms, and the model's loss on the clean batch
// computed here, independently.
class LossTerms : public Hook {
 public:
  explicit LossTerms(const ToyData& data) : data_(data) {}
  std::string name() const override { return "loss-terms"; }
  void on_loss(StepContext& step) override {
    std::vector<std::string> names;
    for (const auto& [name, value] : step.losses)
      names.push_back(name);
    terms.push_back(names);
    if (step.losses.size() > 1) clean_term.push_back(step.losses[1].second.item<double>());
    attacked_term.push_back(step.losses[0].second.item<double>());
    torch::NoGradGuard no_grad;
    const Batch clean = data_.load(step.batch.indices, true, 0);
    Encoded encoded = step.fit.model.encode(clean);
    clean_loss.push_back(
        step.fit.model.loss(step.fit.model.fuse(encoded), clean.labels, encoded, clean)
            .item<double>());
  }
  std::vector<std::vector<std::string>> terms;
  std::vector<double> clean_term, attacked_term, clean_loss;

 private:
  const ToyData& data_;
};

TEST(AdversarialTraining, CleanWeightAddsTheCleanBatchsLossToTheAttackedOnes) {
  const auto run = [&](double clean_weight) {
    RobustTrainingOptions o;
    o.robust = "adv";
    o.robust_radius = 0.2;
    o.robust_clean_weight = clean_weight;
    auto terms = std::make_shared<LossTerms>(toy_train_data());
    fit_toy(o, 1, "adv_clean_weight", terms);
    return terms;
  };
  const auto weighted = run(0.5);
  ASSERT_EQ(weighted->terms.size(), 4u);
  ASSERT_EQ(weighted->clean_term.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(weighted->terms[k], (std::vector<std::string>{"task", "clean"}));
    // Half the model's loss on the clean inputs, and not the attacked batch's loss.
    EXPECT_NEAR(weighted->clean_term[k], 0.5 * weighted->clean_loss[k], 1e-5) << k;
    EXPECT_GT(weighted->attacked_term[k], weighted->clean_loss[k] + 1e-4) << k;
  }
  const auto attacked_only = run(0);
  for (const auto& names : attacked_only->terms)
    EXPECT_EQ(names, std::vector<std::string>{"task"});
}

TEST(AdversarialTraining, NoneAddsNoHookAndBadNamesAreRefused) {
  EXPECT_TRUE(make_robust_hooks({}).empty());
  RobustTrainingOptions o;
  o.robust = "crmt-someday";
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust = "adv";
  o.robust_norm = "l1";
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust_norm = "linf";
  o.robust_steps = 0;
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust_steps = 1;
  o.robust_ball = "per-sample";
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust_ball = "per-modality";
  o.robust_share = 0;
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust_share = 1.5;
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust_share = 1;
  o.robust_clean_weight = -1;
  EXPECT_THROW(make_robust_hooks(o), std::invalid_argument);
  o.robust_clean_weight = 0;
  for (const char* bad : {"audio,", ",visual", "audio,audio"}) {
    o.robust_modalities = bad;
    EXPECT_THROW(make_robust_hooks(o), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace avqa::train
