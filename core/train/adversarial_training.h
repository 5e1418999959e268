#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/train/perturbation.h"
#include "core/train/trainer.h"

// Robust training on the training core. `adv`: every training batch's inputs are replaced by a
// PGD attack on all modalities together before the step (as CRMT-AT does, balanced-learning.md
// section 5: the model trains on attacked inputs only), so it composes with any --balance method,
// which then acts on the attacked batch. CRMT itself (its head, margin loss and certified radius)
// is not built yet.
namespace avqa::train {

struct RobustTrainingOptions {
  std::string robust = "none";     ///< "none" or "adv"
  double robust_radius = 0.05;     ///< attack radius, a fraction of each sample's input norm
  int robust_steps = 3;            ///< PGD steps of radius / 3
  std::string robust_norm = "l2";  ///< "l2" or "linf"
};

/// Checks the names: throws std::invalid_argument naming the option and its choices.
void validate_robust_training(const RobustTrainingOptions& options);

class AdversarialTraining : public Hook {
 public:
  explicit AdversarialTraining(AttackOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "adv"; }
  /// Attacks every modality the model names, jointly.
  void on_fit_start(FitContext& fit) override;
  void on_batch(StepContext& step) override;

 private:
  AttackOptions options_;
};

/// The hooks `options.robust` asks for (none for "none"); they run before the balance hooks.
std::vector<std::shared_ptr<Hook>> make_robust_hooks(const RobustTrainingOptions& options);

}  // namespace avqa::train
