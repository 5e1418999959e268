#include "core/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/balance.h"
#include "core/train/epoch_metrics.h"
#include "tests/core/train/toy_model.h"
#include "tests/test_paths.h"

namespace avqa::train {
namespace {

using avqa::testing::TempDir;
using testing::ToyData;
using testing::ToyModel;

TrainerOptions small_options(const std::filesystem::path& out, int epochs = 2) {
  TrainerOptions o;
  o.out = out;
  o.epochs = epochs;
  o.batch = 16;
  o.optimizer = OptimizerKind::Sgd;
  o.learning_rate = 0.05;
  o.lr_step = 100;
  o.progress = false;
  return o;
}

// Writes the hook points it passes through.
class RecordingHook : public Hook {
 public:
  explicit RecordingHook(std::vector<std::string>* log) : log_(log) {}
  std::string name() const override { return "recording"; }
  void on_fit_start(FitContext&) override { log_->push_back("fit_start"); }
  void on_epoch_start(FitContext& f, std::vector<PlannedSample>& plan) override {
    log_->push_back("epoch_start " + std::to_string(f.epoch) + " " + std::to_string(plan.size()));
  }
  void on_batch(StepContext&) override { log_->push_back("batch"); }
  void on_features(StepContext& s) override {
    EXPECT_EQ(s.encoded.features.size(), 2u);
    EXPECT_FALSE(s.logits.defined());  // not fused yet
    log_->push_back("features");
  }
  void on_loss(StepContext& s) override {
    EXPECT_TRUE(s.logits.defined());
    log_->push_back("loss");
  }
  bool on_backward(StepContext&) override {
    log_->push_back("backward");
    return false;
  }
  void on_after_backward(StepContext& s) override {
    EXPECT_TRUE(s.fit.encoder_groups[0][0].grad().defined());  // the trainer backpropagated
    log_->push_back("after_backward");
  }
  void on_epoch_end(FitContext&) override { log_->push_back("epoch_end"); }

 private:
  std::vector<std::string>* log_;
};

TEST(Trainer, CallsTheHooksInOrder) {
  TempDir dir("train_hooks");
  torch::manual_seed(0);
  ToyModel model;
  const ToyData train(32, 1), val(16, 2);
  std::vector<std::string> log;
  fit(model, train, val, small_options(dir.path(), 1), {std::make_shared<RecordingHook>(&log)});
  const std::vector<std::string> step = {"batch", "features", "loss", "backward", "after_backward"};
  std::vector<std::string> expected = {"fit_start", "epoch_start 1 32"};
  for (int i = 0; i < 2; ++i)  // 32 samples in batches of 16
    expected.insert(expected.end(), step.begin(), step.end());
  expected.push_back("epoch_end");
  EXPECT_EQ(log, expected);
}

TEST(Trainer, RecordsDiagnosticsAndResumesExactly) {
  TempDir dir("train_resume"), whole("train_whole");
  const ToyData train(256, 1), val(64, 2);
  torch::manual_seed(0);
  ToyModel straight;
  const FitReport all = fit(straight, train, val, small_options(whole.path(), 3));
  torch::manual_seed(0);
  ToyModel first;
  fit(first, train, val, small_options(dir.path(), 2));
  auto o = small_options(dir.path(), 3);
  o.resume = true;
  ToyModel resumed;  // other initial weights: the checkpoint must replace them
  const FitReport rest = fit(resumed, train, val, o);
  ASSERT_EQ(rest.epochs.size(), 3u);
  EXPECT_DOUBLE_EQ(rest.epochs[2].train_loss, all.epochs[2].train_loss);
  EXPECT_DOUBLE_EQ(rest.epochs[2].val_accuracy, all.epochs[2].val_accuracy);
  for (std::size_t i = 0; i < straight.parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(straight.parameters()[i], resumed.parameters()[i]));

  const auto metrics = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 3u);
  ASSERT_EQ(metrics[2].modalities.size(), 2u);
  EXPECT_EQ(metrics[2].modalities[0].modality, "audio");
  // The audio carries the class cleanly: alone it is far better than the noisy visual.
  EXPECT_GT(metrics[2].modalities[0].unimodal_accuracy, metrics[2].modalities[1].unimodal_accuracy);
  EXPECT_GT(metrics[2].modalities[0].probe_accuracy, 0.8);
  ASSERT_TRUE(metrics[2].score_ratio.has_value());
  EXPECT_GT(*metrics[2].score_ratio, 1.0);  // S_audio / S_visual
  // Contributions add up to the fused accuracy (correct = 1, efficiency of Shapley values).
  EXPECT_NEAR(metrics[2].modalities[0].contribution + metrics[2].modalities[1].contribution,
              metrics[2].val_accuracy, 1e-9);
}

// Copies the gradients the step has when it passes.
class GradientProbe : public Hook {
 public:
  std::string name() const override { return "probe"; }
  void on_after_backward(StepContext& s) override {
    grads.clear();
    for (const auto& p : s.fit.model.parameters())
      grads.push_back(p.grad().clone());
    epoch = s.fit.epoch;
  }
  std::vector<at::Tensor> grads;
  int epoch = 0;
};

TEST(GradientModulation, ScalesEncoderWeightGradientsOnlyInsideTheWindow) {
  TempDir dir("train_ogm");
  torch::manual_seed(0);
  ToyModel model;
  const ToyData train(16, 1), val(16, 2);
  GradientModulationOptions o;
  o.alpha = 0.5;
  o.first_epoch = 2;
  o.last_epoch = 2;
  o.noise = false;
  auto before = std::make_shared<GradientProbe>(), after = std::make_shared<GradientProbe>();
  auto ogm = std::make_shared<GradientModulation>(o, "ogm");
  // One batch per epoch: the probes see epoch 1 (outside the window), then epoch 2.
  auto check = [&](int epoch) {
    const auto keys = model.net->named_parameters().keys();
    const auto k = ogm->last_coefficients();
    for (std::size_t i = 0; i < before->grads.size(); ++i) {
      const std::string& n = keys[i];
      const bool encoder_weight = n == "audio.weight" || n == "visual.weight";
      const double factor = !encoder_weight || epoch == 1 ? 1.0 : k[n == "audio.weight" ? 0 : 1];
      EXPECT_TRUE(torch::allclose(after->grads[i], before->grads[i] * factor)) << n;
    }
    if (epoch == 2) {
      EXPECT_LT(std::min(k[0], k[1]), 1.0);  // one modality was damped
    }
  };
  struct Checker : Hook {
    std::function<void(int)> f;
    std::string name() const override { return "check"; }
    void on_after_backward(StepContext& s) override { f(s.fit.epoch); }
  };
  auto checker = std::make_shared<Checker>();
  checker->f = check;
  auto opts = small_options(dir.path(), 2);
  fit(model, train, val, opts, {before, ogm, after, checker});
}

TEST(GradientModulation, NoiseTouchesOnlyEncoderWeightsAndOnlyInTheWindow) {
  TempDir dir("train_ogm_ge");
  torch::manual_seed(0);
  ToyModel model;
  const ToyData train(16, 1), val(16, 2);
  GradientModulationOptions o;
  o.first_epoch = 2;
  o.last_epoch = 2;
  auto before = std::make_shared<GradientProbe>(), after = std::make_shared<GradientProbe>();
  auto ogm = std::make_shared<GradientModulation>(o);
  struct Checker : Hook {
    GradientProbe *before, *after;
    ToyModel* model;
    std::string name() const override { return "check"; }
    void on_after_backward(StepContext& s) override {
      const auto keys = model->net->named_parameters().keys();
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const bool weight = keys[i] == "audio.weight" || keys[i] == "visual.weight";
        const bool same = torch::equal(after->grads[i], before->grads[i]);
        EXPECT_EQ(same, !(weight && s.fit.epoch == 2)) << keys[i] << " epoch " << s.fit.epoch;
      }
    }
  };
  auto checker = std::make_shared<Checker>();
  checker->before = before.get();
  checker->after = after.get();
  checker->model = &model;
  fit(model, train, val, small_options(dir.path(), 3), {before, ogm, after, checker});
}

// Counts the samples and dropped rows each epoch.
class StepCounter : public Hook {
 public:
  std::string name() const override { return "count"; }
  void on_loss(StepContext& s) override {
    for (const auto& f : s.encoded.features)
      zero_rows += (f.abs().sum(1) == 0).sum().item<std::int64_t>();
    samples += s.batch.size();
    kept += s.labels.size(0);
    losses = s.losses.size();
    for (int z : s.batch.zeroed)
      zeroed += z >= 0;
  }
  std::int64_t samples = 0, kept = 0, zeroed = 0, zero_rows = 0;
  std::size_t losses = 0;
};

TEST(BalanceMethods, EachChangesWhatItShouldInATinyRun) {
  const ToyData train(64, 1, 3.0), val(32, 2, 3.0);
  auto run = [&](BalanceOptions b, const std::string& tag, std::shared_ptr<StepCounter> counter) {
    TempDir dir("train_" + tag);
    torch::manual_seed(0);
    ToyModel model;
    auto hooks = make_balance_hooks(b);
    hooks.push_back(counter);
    fit(model, train, val, small_options(dir.path(), 3), hooks);
    return model.parameters();
  };
  BalanceOptions none;
  const auto joint = std::make_shared<StepCounter>();
  const auto base = run(none, "none", joint);
  for (const BalanceMethod method : balance_methods()) {
    if (method == BalanceMethod::None) continue;
    BalanceOptions b;
    b.method = method;
    b.warmup_epochs = 1;
    b.ogm_alpha = 1.0;
    b.relearn_every = 2;
    b.opm_p_exe = 1.0;
    auto counter = std::make_shared<StepCounter>();
    SCOPED_TRACE(to_string(method));
    std::vector<at::Tensor> params;
    try {
      params = run(b, to_string(method), counter);
    } catch (const std::exception& e) {
      ADD_FAILURE() << to_string(method) << ": " << e.what();
      continue;
    }
    bool differs = false;
    for (std::size_t i = 0; i < params.size(); ++i)
      differs = differs || !torch::equal(params[i], base[i]);
    EXPECT_TRUE(differs) << to_string(method) << " trained exactly as joint training";
    switch (method) {
      case BalanceMethod::Opm:
        // Only the dominant modality drops: with two, no sample loses both.
        EXPECT_EQ(counter->kept, counter->samples);
        EXPECT_GT(counter->zero_rows, joint->zero_rows + 10) << "no features dropped";
        break;
      case BalanceMethod::MmPareto:
        EXPECT_EQ(counter->losses, 3u);  // multimodal + two uni-modal losses
        break;
      case BalanceMethod::ValuationSample:
      case BalanceMethod::ValuationModality:
        EXPECT_GT(counter->samples, 3 * 64) << "no extra copies";
        EXPECT_GT(counter->zeroed, 0);
        break;
      default:
        EXPECT_EQ(counter->samples, 3 * 64);
    }
  }
}

TEST(BalanceMethods, ParsesEveryNameAndRejectsOthers) {
  for (const BalanceMethod m : balance_methods())
    EXPECT_EQ(parse_balance_method(to_string(m)), m);
  EXPECT_THROW(parse_balance_method("ogm_ge"), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::train
