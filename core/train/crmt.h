#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "core/train/modality_model.h"
#include "core/train/robust_training.h"
#include "core/train/trainer.h"

// CRMT, certifiable robust multi-modal training (ICLR 2024; balanced-learning.md section 5), on
// the training core. A model with a CRMT head answers h = sum_m a_m * o_m(x) + c + b, where each
// modality's logits o_m come from its own row-normalised weights, a_m are learnable per-class
// integration weights, c is what the model adds that no attack touches (ST-AVQA: the question's
// own logits; none for classification) and b a bias. Training adds the margin regulariser to the
// loss (phase 1); then the Lipschitz constants of each o_m are estimated on the training split and
// only the a_m train, to enlarge the certified radius (phase 2).
//
// Decided deliberately, where the original code (train.py, models/fusion_model.py) differs:
//  - Lipschitz constants are those of o_{m,c}, not of the fused logit: they do not depend on a,
//    so they stay valid while phase 2 changes a, and a multiplies them once (the original measures
//    the fused logit, which already contains a, then multiplies by a again).
//  - They are measured against every input: Lip[m][n][c] = max ||d o_{m,c} / d x_n||. For a model
//    whose modalities meet only in the head (the classifier) Lip[m][n] is zero for m != n and the
//    bound is the paper's; ST-AVQA's visual branch reads the audio (audio-guided attention), and
//    the bound then counts that path as well.
//  - The certified radius of a sample is the smallest over every other class k of
//    (h_y - h_k) / L_{y,k}, a certificate under the estimated constants; phase 2's loss keeps the
//    original's runner-up class j = argmax_{k != y} h_k.
//  - |a| bounds the weighted logits (the original assumes a >= 0).
// The constants are a maximum over training samples, as the original's get_lip: an estimate,
// not a bound, so the "certified" accuracy is certified under that estimate.
namespace avqa::train {

/// Widths of the modality features the head reads ([B, d_m] each) and its classes.
struct CrmtHeadOptions {
  std::vector<std::int64_t> widths;
  std::int64_t classes = 0;
  double integration_init = 0.1;  ///< a_m at the start (the original's 0.1)
};

/// CRMT's head (OrthFusion). Parameters: weight_<m> [C, d_m], integration [M, C], bias [C].
class CrmtHeadImpl : public torch::nn::Module {
 public:
  explicit CrmtHeadImpl(const CrmtHeadOptions& options);
  /// W_m with each class row centred and scaled to unit L2 norm (OWN with a group per row):
  /// [C, d_m].
  at::Tensor normalised_weight(std::size_t m) const;
  /// o_m = z_m W~_m^T (no bias) for every modality: features [B, d_m] -> [B, C] each.
  std::vector<at::Tensor> modality_logits(const std::vector<at::Tensor>& features) const;
  /// h = sum_m a_m * o_m + context + b: [B, C]; context [B, C] or undefined.
  at::Tensor combine(const std::vector<at::Tensor>& modality_logits,
                     const at::Tensor& context = at::Tensor()) const;
  const at::Tensor& integration() const { return integration_; }  ///< a: [M, C]
  const at::Tensor& bias() const { return bias_; }                ///< b: [C]
  std::size_t modalities() const { return weights_.size(); }

 private:
  std::vector<at::Tensor> weights_;
  at::Tensor integration_, bias_;
};
TORCH_MODULE(CrmtHead);

/// What a model with a CRMT head gives for a batch.
struct CertifiedLogits {
  std::vector<at::Tensor> modality;  ///< o_m [B, C] per modality
  at::Tensor context;                ///< c [B, C], undefined where none
};

/// A ModalityModel that may be built with a CRMT head, its fuse() then the head's combine().
/// The tasks implement it next to ModalityModel.
class CertifiableModel {
 public:
  virtual ~CertifiableModel() = default;
  /// The head; nullptr where the model was built without one.
  virtual CrmtHeadImpl* crmt_head() = 0;
  virtual CertifiedLogits certified_logits(const Encoded& encoded) = 0;
};

/// The model as a CertifiableModel with a CRMT head; nullptr where it has none.
CertifiableModel* as_certifiable(ModalityModel& model);
/// The same, or std::invalid_argument saying that `what` needs a model with a CRMT head.
CertifiableModel& require_certifiable(ModalityModel& model, const std::string& what);

/// The margin regulariser of CRMT-JT: mean_i log(sum_m sum_{k != y_i} exp(o_{m,k} - o_{m,y_i}) +
/// 1e-5), computed without overflow. o_m [B, C], labels [B].
at::Tensor crmt_margin_loss(const std::vector<at::Tensor>& modality_logits,
                            const at::Tensor& labels);

/// CRMT-Mix's regulariser for inputs mixed as lambda x_a + (1 - lambda) x_b: mean_i log sum_m
/// [(sum_k exp o_{m,k} - o_{m,ya} - o_{m,yb} [ya != yb]) exp(-(lambda o_{m,ya} + (1 - lambda)
/// o_{m,yb}))], as train.py computes it (the raw logits of the labelled classes subtracted from
/// the sum of exponentials, not their exponentials).
at::Tensor crmt_mix_margin_loss(const std::vector<at::Tensor>& modality_logits,
                                const at::Tensor& labels_a,
                                const at::Tensor& labels_b,
                                double lambda);

/// Lipschitz constants of the modality logits, estimated as the original's get_lip: the largest
/// per-sample input-gradient norm over (at most max_samples, in order) samples of `data`, in
/// evaluation mode. Returns [M, M, C] double: [m][n][c] = max ||d o_{m,c} / d x_n||_2 with x_n
/// Batch::inputs[n]. One backward pass per modality and class and batch (ST-AVQA's 42 answers:
/// 84 per batch). `progress`: a progress line on stderr.
at::Tensor estimate_lipschitz(ModalityModel& model,
                              const TrainingData& data,
                              int batch,
                              std::size_t max_samples,
                              bool progress = false);

/// Per sample of a batch: the certified radii and whether the answer is right.
struct CertifiedRadii {
  at::Tensor joint;                  ///< [B]: l2 ball over all inputs together
  std::vector<at::Tensor> modality;  ///< [B] each: a ball on input n alone, the others clean
  at::Tensor correct;                ///< [B] bool: argmax h == label
};

/// Radii of `logits` under `lipschitz` ([M, M, C], estimate_lipschitz): for each other class k,
/// (h_y - h_k) / sqrt(sum_n L_n(y, k)^2) with L_n(y, k) = sum_m |a_{m,y}| Lip[m][n][y] +
/// |a_{m,k}| Lip[m][n][k] (per input n alone: divided by L_n(y, k)), the smallest over k. Negative
/// where the answer is wrong.
CertifiedRadii certified_radii(const CrmtHeadImpl& head,
                               const CertifiedLogits& logits,
                               const at::Tensor& lipschitz,
                               const at::Tensor& labels);

/// Phase 2's objective per sample, as train.py computes it: r(x) = (h_y - h_j) / sqrt(sum_n
/// L_n(y, j)^2) with j = argmax_{k != y} h_k. Differentiable in the head's integration weights
/// (o and the context are taken as they are). [B].
at::Tensor runner_up_radius(const CrmtHeadImpl& head,
                            const CertifiedLogits& logits,
                            const at::Tensor& lipschitz,
                            const at::Tensor& labels);

/// Phase 1: adds rho x crmt_margin_loss to each step's losses ("crmt_margin"); with `mix`,
/// CRMT-Mix: each batch's inputs mixed with a permutation of itself (lambda ~ Beta(1, 1) per
/// batch, one permutation for every modality), the task loss replaced by the mixed
/// cross-entropy and the regulariser by crmt_mix_margin_loss. Mixing needs batches without
/// context (their samples mix as a whole) and hooks that keep every sample.
class CrmtTraining : public Hook {
 public:
  CrmtTraining(double rho, bool mix) : rho_(rho), mix_(mix) {}
  std::string name() const override { return mix_ ? "crmt-mix" : "crmt"; }
  void on_fit_start(FitContext& fit) override;
  void on_batch(StepContext& step) override;
  void on_loss(StepContext& step) override;

 private:
  double rho_;
  bool mix_;
  double lambda_ = 1;
  at::Tensor labels_b_;
};

/// What phase 2 measured.
struct CertifiedTrainingReport {
  at::Tensor lipschitz;               ///< [M, M, C] double
  std::size_t lipschitz_samples = 0;  ///< samples the estimate read
  std::vector<double> mean_radius;    ///< phase 2's objective, per epoch (mean runner-up radius)
};

/// Phase 2: estimates the Lipschitz constants on `train_data`, then trains only the head's
/// integration weights to enlarge the mean runner-up radius: SGD as `crmt` says with
/// run.learning_rate scaled, batches of run.batch shuffled from run.seed, evaluation mode (our
/// models have no batch norm, whose statistics were what the original's train mode updated; dropout
/// off keeps the radius a function of the input). Every other parameter is left as it was.
/// `epoch_done` is told each epoch and its mean radius.
CertifiedTrainingReport enlarge_certified_radius(
    ModalityModel& model,
    const TrainingData& train_data,
    const CrmtOptions& crmt,
    const TrainerOptions& run,
    const std::function<void(int epoch, double mean_radius)>& epoch_done = {});

/// Phase 2 on a finished run folder (run.out): starts from the best phase-1 weights (kept as
/// best-phase1.pt), writes the result over best.pt, then crmt.json. Runs again from
/// best-phase1.pt when it was cut off before crmt.json; returns what crmt.json holds when it is
/// already there.
CertifiedTrainingReport certify_run(
    ModalityModel& model,
    const TrainingData& train_data,
    const CrmtOptions& crmt,
    const TrainerOptions& run,
    const std::function<void(int epoch, double mean_radius)>& epoch_done = {});

/// <run>/crmt.json: {"lipschitz": [M][M][C], "lipschitz_samples", "mean_radius": [per epoch]}.
nlohmann::json to_json(const CertifiedTrainingReport& report);
/// The Lipschitz constants of a run's crmt.json; errors name the file and the field.
at::Tensor read_lipschitz(const std::filesystem::path& crmt_json);
/// A run folder's constants (its crmt.json); undefined where the run has none (not a CRMT run).
at::Tensor run_lipschitz(const std::filesystem::path& run);

}  // namespace avqa::train
