#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/train/trainer.h"

// Diagnosing & Re-learning (Wei, Li & Hu, ECCV 2024) as the released code computes it
// (balanced-learning.md section 3). After every `every`-th epoch (at most `times` times): encoder
// features of the training and validation splits (evaluation mode); per modality each set is
// min-max scaled to [-1, 1] on its own, clustered by k-means (k = classes) and scored by purity;
// the train-validation purity gap g_m (an over-fitting signal, although the README speaks of
// separability) gives alpha_m = tanh(lambda g_m), and every parameter of encoder m moves back
// toward its initial value: theta <- alpha theta_init + (1 - alpha) theta (normalisation affines
// included; running statistics, the head and the optimiser's momentum are not reset).
// k-means: k-means++ seeding from a fixed seed, Lloyd's iterations to convergence (sklearn runs
// several seedings and keeps the best; one is used here).
namespace avqa::train {

struct RelearningOptions {
  double lambda = 3;
  int every = 20;  ///< re-initialise after epochs every, 2 every, ...
  int times = 3;   ///< at most this many re-initialisations
};

/// Each column of x [N, d] min-max scaled to [-1, 1] (constant columns become 0).
at::Tensor min_max_scale(const at::Tensor& x);
/// Cluster index [N] of each row of x [N, d] for k clusters.
at::Tensor k_means(const at::Tensor& x, std::int64_t k, std::uint64_t seed, int iterations = 300);
/// Fraction of samples whose label equals their cluster's majority label.
double cluster_purity(const at::Tensor& clusters, const at::Tensor& labels);
/// alpha for a purity gap: tanh(lambda |train - val|).
double relearning_strength(double train_purity, double val_purity, double lambda);
/// theta <- alpha theta_init + (1 - alpha) theta, in place on every parameter.
void soft_reinitialise(const std::vector<at::Tensor>& parameters,
                       const std::vector<at::Tensor>& initial,
                       double alpha);

class Relearning : public Hook {
 public:
  explicit Relearning(RelearningOptions options) : options_(options) {}
  std::string name() const override { return "relearn"; }
  void on_fit_start(FitContext& fit) override;
  void on_epoch_end(FitContext& fit) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;

  /// alpha per modality at the last re-initialisation.
  const std::vector<double>& last_strengths() const { return strengths_; }

 private:
  RelearningOptions options_;
  std::vector<std::vector<at::Tensor>> initial_;
  int done_ = 0;
  std::vector<double> strengths_;
};

}  // namespace avqa::train
