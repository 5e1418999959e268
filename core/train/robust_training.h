#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/train/perturbation.h"
#include "core/train/trainer.h"

// Robust training on the training core (`avqa train --robust M`), composing with any --balance
// method, which then acts on what these hooks made of the batch:
//  - adv: every training batch's inputs replaced by a PGD attack on all modalities (one ball
//    together or one per modality) before the step (the model trains on attacked inputs only, as
//    CRMT-AT does);
//  - crmt: the model built with a CRMT head, its margin regulariser added to the loss, then
//    phase 2 on the finished run (core/train/crmt.h);
//  - crmt-at: crmt on adv's attacked batches; crmt-mix: crmt on mixed-up batches.
namespace avqa::train {

/// CRMT's settings (`avqa train --robust crmt ...`), recorded in run.json.
struct CrmtOptions {
  double crmt_rho = 2.0;  ///< weight of the margin regulariser
  /// The integration weights a_m at the start: the original's 0.1 scales every logit by a tenth,
  /// which short runs do not grow out of (the classification benchmark's 60 SGD epochs: 79.9 %
  /// clean with 0.1, 89.8 % with 1; README, robustness).
  double crmt_init = 0.1;
  /// Phase 2 epochs; 0: the original's share, floor(phase-1 epochs / 3) - 1, at least 1.
  int crmt_epochs = 0;
  double crmt_lr_scale = 0.03;  ///< phase 2's SGD lr = scale x the run's learning rate
  double crmt_momentum = 0.9;
  double crmt_weight_decay = 1e-2;
  /// Training samples the Lipschitz estimate reads (the first ones): its cost is a backward pass
  /// per modality and class and batch, 84 for ST-AVQA's 42 answers (about 1.5 min for 256 samples
  /// on 2 cores); a maximum over more samples can only grow.
  int crmt_lipschitz_samples = 256;
};

struct RobustTrainingOptions : CrmtOptions {
  std::string robust = "none";     ///< "none", "adv", "crmt", "crmt-at", "crmt-mix"
  double robust_radius = 0.05;     ///< adv, crmt-at: a fraction of each sample's input norm
  int robust_steps = 3;            ///< PGD steps of radius / 3
  std::string robust_norm = "l2";  ///< "l2" or "linf"
  /// "joint": one ball over all modalities together, its radius a share of their joint norm
  /// (rob_test.py's joint attack); "per-modality": a ball per modality, each a share of that
  /// modality's own norm. Where one input is much smaller than the others the joint ball lets the
  /// attack spend its whole budget on it, several times its own share: ST-AVQA's audio [T, 128]
  /// has about a third of the norm of its maps [T, 512, 7, 7] (350 against 1,100 on the demo's
  /// cache), so a joint 5 % may move the audio by 16 % of its norm.
  std::string robust_ball = "joint";
  /// Share of each training batch's samples replaced by their attacked copies, drawn per batch:
  /// 1 trains on attacked samples only (CRMT-AT), 0.5 on an even mix of clean and attacked ones
  /// (Goodfellow et al., 2015), which keeps more of the clean accuracy. The whole batch is attacked
  /// either way (one pass of the attack), so a share below 1 costs as much.
  double robust_share = 1.0;
  /// The attacked batch's loss plus this weight times the clean batch's, from a second forward
  /// pass of the clean inputs: every sample is learnt clean and attacked (the mixed objective of
  /// Goodfellow et al., 2015, at weight 1), where a share below 1 shows each sample one way only.
  /// 0: the attacked batch's loss alone.
  double robust_clean_weight = 0.0;
  /// The modalities the training attack perturbs: comma-separated names of the model's
  /// (ModalityModel::modalities(), e.g. "audio"); empty: every one. The others stay clean in the
  /// attacked batch. CRMT's finding is that the preferred modality is the one an attack breaks:
  /// training against attacks on it alone leaves the other modality's inputs as they are.
  std::string robust_modalities;

  /// Whether the model needs a CRMT head (and the run phase 2).
  bool certified() const { return robust.rfind("crmt", 0) == 0; }
};

/// Checks the names: throws std::invalid_argument naming the option and its choices.
void validate_robust_training(const RobustTrainingOptions& options);

/// RobustTrainingOptions::robust_modalities as names: {} for "" (every modality); throws
/// std::invalid_argument for an empty or repeated name.
std::vector<std::string> parse_robust_modalities(const std::string& list);

class AdversarialTraining : public Hook {
 public:
  /// `share`: RobustTrainingOptions::robust_share; the samples kept clean are drawn from (seed,
  /// epoch, step).
  /// `clean_weight`: RobustTrainingOptions::robust_clean_weight.
  /// `modalities`: the names of the modalities attacked; empty: every one the model names.
  explicit AdversarialTraining(AttackOptions options,
                               double share = 1.0,
                               double clean_weight = 0,
                               std::vector<std::string> modalities = {})
      : options_(std::move(options)),
        share_(share),
        clean_weight_(clean_weight),
        modality_names_(std::move(modalities)) {}
  std::string name() const override { return "adv"; }
  /// Resolves the attacked modalities' names against the model's: std::invalid_argument naming
  /// --robust-modalities and the model's modalities for a name it does not have.
  void on_fit_start(FitContext& fit) override;
  void on_batch(StepContext& step) override;
  /// With a clean weight: adds "clean", that weight x the model's loss on the clean batch.
  void on_loss(StepContext& step) override;

 private:
  AttackOptions options_;
  double share_;
  double clean_weight_;
  std::vector<std::string> modality_names_;
  Batch clean_;  // this step's batch before the attack, kept when clean_weight_ > 0
};

/// The hooks `options.robust` asks for (none for "none"); they run before the balance hooks.
std::vector<std::shared_ptr<Hook>> make_robust_hooks(const RobustTrainingOptions& options);

}  // namespace avqa::train
