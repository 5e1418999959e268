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
    labels_kept = labels_kept && torch::equal(clean.labels, step.batch.labels);
  }
  std::vector<at::Tensor> moved, size;
  bool labels_kept = true;

 private:
  const ToyData& data_;
};

TEST(AdversarialTraining, TrainsOnBatchesMovedInsideTheRelativeBall) {
  avqa::testing::TempDir dir("adv_training");
  const ToyData train(64, 1), val(32, 2);
  RobustTrainingOptions o;
  o.robust = "adv";
  o.robust_radius = 0.1;
  auto hooks = make_robust_hooks(o);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0]->name(), "adv");
  auto recorder = std::make_shared<MovedBatches>(train);
  hooks.push_back(recorder);
  torch::manual_seed(0);
  ToyModel model;
  TrainerOptions t;
  t.out = dir.path();
  t.epochs = 2;
  t.batch = 16;
  t.progress = false;
  t.diagnostics = false;
  fit(model, train, val, t, hooks);
  ASSERT_EQ(recorder->moved.size(), 8u);  // 2 epochs x 4 batches
  EXPECT_TRUE(recorder->labels_kept);
  for (std::size_t k = 0; k < recorder->moved.size(); ++k) {
    const auto bound = 0.1 * recorder->size[k];
    EXPECT_TRUE((recorder->moved[k] <= bound * (1 + 1e-5)).all().item<bool>()) << k;
    EXPECT_TRUE((recorder->moved[k] > 0.5 * bound).all().item<bool>()) << k;
  }
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
}

}  // namespace
}  // namespace avqa::train
