#include "core/train/perturbation.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/diagnostics.h"
#include "tests/core/train/toy_model.h"

namespace avqa::train {
namespace {

using testing::ToyData;
using testing::ToyModel;

ToyModel trained_model(const ToyData& data) {
  return testing::fitted_toy_model(data, 3, 200);
}

Batch first_samples(const ToyData& data, std::size_t n) {
  std::vector<std::size_t> rows(n);
  for (std::size_t i = 0; i < n; ++i)
    rows[i] = i;
  return data.load(rows, false, 0);
}

double mean_loss(ModalityModel& model, const Batch& b) {
  const torch::NoGradGuard no_grad;
  return torch::nn::functional::cross_entropy(model.fuse(model.encode(b)), b.labels).item<double>();
}

TEST(Attack, PerturbationsNeverLeaveTheBall) {
  const ToyData data(64, 7);
  ToyModel model = trained_model(data);
  const Batch clean = first_samples(data, 32);
  for (const AttackNorm norm : {AttackNorm::L2, AttackNorm::Linf}) {
    for (const bool joint : {true, false}) {
      for (const int steps : {1, 6}) {
        AttackOptions o;
        o.norm = norm;
        o.joint = joint;
        o.modalities = {0, 1};
        o.radius = 0.5;
        o.steps = steps;
        o.step_size = 0.4;  // big steps: the projection must hold them in
        const Batch adv = attack(model, clean, o);
        SCOPED_TRACE(std::string(to_string(norm)) + (joint ? " joint" : " separate") + " steps " +
                     std::to_string(steps));
        if (joint || norm == AttackNorm::Linf) {
          const auto n = perturbation_norms(clean, adv, {0, 1}, norm);
          EXPECT_LE(n.max().item<double>(), o.radius * (1 + 1e-5));
          // Every sample is moved (no gradient is exactly zero here), by the whole radius for
          // FGM.
          EXPECT_GT(n.min().item<double>(), 0.0);
          if (steps == 1) {
            EXPECT_NEAR(n.min().item<double>(), o.radius, 1e-4);
          }
        } else {
          for (const std::size_t m : {0, 1}) {
            const auto n = perturbation_norms(clean, adv, {m}, norm);
            EXPECT_LE(n.max().item<double>(), o.radius * (1 + 1e-5));
            if (steps == 1) {
              EXPECT_NEAR(n.min().item<double>(), o.radius, 1e-4);
            }
          }
        }
      }
    }
  }
}

TEST(Attack, RelativeRadiiScaleWithEachSamplesInput) {
  const ToyData data(64, 7);
  ToyModel model = trained_model(data);
  Batch clean = first_samples(data, 16);
  // A modality a hundred times smaller (not larger: the trained model would saturate, and a
  // gradient of exactly zero moves nothing).
  clean.inputs[1] = clean.inputs[1] * 0.01;
  for (const AttackNorm norm : {AttackNorm::L2, AttackNorm::Linf}) {
    for (const int steps : {1, 5}) {
      AttackOptions o;
      o.norm = norm;
      o.joint = false;
      o.relative = true;
      o.modalities = {0, 1};
      o.radius = 0.1;
      o.steps = steps;
      const Batch adv = attack(model, clean, o);
      SCOPED_TRACE(std::string(to_string(norm)) + " steps " + std::to_string(steps));
      for (const std::size_t m : {0, 1}) {
        Batch zero = clean;
        zero.inputs[m] = torch::zeros_like(clean.inputs[m]);
        const auto size = perturbation_norms(zero, clean, {m}, norm);  // ||x|| per sample
        const auto moved = perturbation_norms(clean, adv, {m}, norm);
        EXPECT_TRUE((moved <= 0.1 * size * (1 + 1e-5)).all().item<bool>()) << m;
        if (steps == 1 && norm == AttackNorm::L2) {
          EXPECT_TRUE(torch::allclose(moved, 0.1 * size, 1e-4)) << m;
        }
      }
    }
  }
}

TEST(Attack, LinfFgmMovesEveryElementByTheRadiusAlongTheGradientSign) {
  const ToyData data(64, 7);
  ToyModel model = trained_model(data);
  const Batch clean = first_samples(data, 16);
  AttackOptions o;
  o.norm = AttackNorm::Linf;
  o.radius = 0.05;
  const Batch adv = attack(model, clean, o);
  const auto delta = adv.inputs[0] - clean.inputs[0];
  // The sign of the gradient of the summed cross-entropy, computed here directly.
  auto x = clean.inputs[0].clone().requires_grad_(true);
  Batch b = clean;
  b.inputs[0] = x;
  torch::nn::functional::cross_entropy(
      model.fuse(model.encode(b)), b.labels,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
      .backward();
  EXPECT_TRUE(torch::allclose(delta, o.radius * x.grad().sign(), 0, 1e-6));
}

TEST(Attack, ChangesOnlyTheAttackedModalityAndNoParameterGradient) {
  const ToyData data(64, 7);
  ToyModel model = trained_model(data);
  for (auto& p : model.parameters())
    p.mutable_grad() = torch::Tensor();
  const Batch clean = first_samples(data, 16);
  AttackOptions o;
  o.modalities = {1};
  o.steps = 4;
  const Batch adv = attack(model, clean, o);
  EXPECT_TRUE(torch::equal(adv.inputs[0], clean.inputs[0]));
  EXPECT_FALSE(torch::equal(adv.inputs[1], clean.inputs[1]));
  EXPECT_TRUE(torch::equal(adv.labels, clean.labels));
  for (const auto& p : model.parameters())
    EXPECT_FALSE(p.grad().defined());
}

TEST(Attack, PgdRaisesTheLossAtLeastAsMuchAsFgmAndBothAboveClean) {
  const ToyData data(128, 11);
  ToyModel model = trained_model(data);
  const Batch clean = first_samples(data, 128);
  for (const AttackNorm norm : {AttackNorm::L2, AttackNorm::Linf}) {
    AttackOptions fgm;
    fgm.norm = norm;
    fgm.radius = norm == AttackNorm::L2 ? 1.0 : 0.3;
    AttackOptions pgd = fgm;
    pgd.steps = 10;
    pgd.step_size = fgm.radius / 4;
    const double clean_loss = mean_loss(model, clean);
    const double fgm_loss = mean_loss(model, attack(model, clean, fgm));
    const double pgd_loss = mean_loss(model, attack(model, clean, pgd));
    SCOPED_TRACE(to_string(norm));
    EXPECT_GT(fgm_loss, clean_loss);
    EXPECT_GE(pgd_loss, fgm_loss - 1e-6);
  }
}

TEST(Attack, RefusesWhatIsNotAnAttack) {
  const ToyData data(8, 1);
  ToyModel model;
  const Batch b = first_samples(data, 8);
  AttackOptions o;
  o.modalities = {2};
  EXPECT_THROW(attack(model, b, o), std::invalid_argument);
  o.modalities = {0};
  o.radius = -1;
  EXPECT_THROW(attack(model, b, o), std::invalid_argument);
  o.radius = 0.1;
  o.steps = 0;
  EXPECT_THROW(attack(model, b, o), std::invalid_argument);
  EXPECT_THROW(parse_attack_norm("l1"), std::invalid_argument);
  EXPECT_EQ(parse_attack_norm("linf"), AttackNorm::Linf);
}

TEST(Corrupt, MissingModalityReplacesExactlyTheChosenSamples) {
  Batch b;
  b.inputs = {torch::arange(24, torch::kFloat).view({4, 2, 3}) + 1, torch::ones({4, 5})};
  b.labels = torch::zeros({4}, torch::kLong);
  const auto mask = torch::tensor({true, false, true, false});
  const Batch zeroed = corrupt(b, {CorruptionKind::Zeros, 0, 0, {}}, 1, mask);
  EXPECT_TRUE(torch::equal(zeroed.inputs[0][0], torch::zeros({2, 3})));
  EXPECT_TRUE(torch::equal(zeroed.inputs[0][2], torch::zeros({2, 3})));
  EXPECT_TRUE(torch::equal(zeroed.inputs[0][1], b.inputs[0][1]));
  EXPECT_TRUE(torch::equal(zeroed.inputs[0][3], b.inputs[0][3]));
  EXPECT_TRUE(torch::equal(zeroed.inputs[1], b.inputs[1]));

  const auto mean = torch::full({2, 3}, 7.5);
  const Batch filled = corrupt(b, {CorruptionKind::Mean, 0, 0, mean}, 1);
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(torch::equal(filled.inputs[0][i], mean));
  EXPECT_THROW(corrupt(b, {CorruptionKind::Mean, 0, 0, torch::zeros({3})}, 1),
               std::invalid_argument);
  EXPECT_THROW(corrupt(b, {CorruptionKind::Zeros, 2, 0, {}}, 1), std::invalid_argument);
}

TEST(Corrupt, DroppedSecondsZeroThatManyWholeSecondsPerSample) {
  Batch b;
  b.inputs = {torch::rand({6, 10, 4}) + 1};
  b.labels = torch::zeros({6}, torch::kLong);
  const Corruption drop{CorruptionKind::DroppedSeconds, 0, 0.3, {}};
  const Batch out = corrupt(b, drop, 5);
  const auto x = out.inputs[0];
  const auto zero_seconds = (x == 0).all(2);  // [6, 10]
  EXPECT_TRUE(torch::equal(zero_seconds.sum(1), torch::full({6}, 3, torch::kLong)));
  // The seconds kept are untouched.
  EXPECT_TRUE(torch::equal(x.masked_select(~zero_seconds.unsqueeze(2).expand_as(x)),
                           b.inputs[0].masked_select(~zero_seconds.unsqueeze(2).expand_as(x))));
  EXPECT_TRUE(torch::equal(corrupt(b, drop, 5).inputs[0], x));   // the seed decides
  EXPECT_FALSE(torch::equal(corrupt(b, drop, 6).inputs[0], x));  // which seconds
  EXPECT_THROW(corrupt(b, {CorruptionKind::DroppedSeconds, 0, 1.5, {}}, 1), std::invalid_argument);
}

TEST(Corrupt, NoiseHasTheAskedSignalToNoiseRatioPerSample) {
  Batch b;
  auto x = torch::randn({2, 40000});
  x[1] *= 10;  // a louder sample gets louder noise
  b.inputs = {x};
  b.labels = torch::zeros({2}, torch::kLong);
  for (const double snr : {0.0, 10.0, 20.0}) {
    const auto noise = corrupt(b, {CorruptionKind::Noise, 0, snr, {}}, 3).inputs[0] - x;
    for (int i = 0; i < 2; ++i) {
      const double measured = 10 * std::log10(x[i].pow(2).mean().item<double>() /
                                              noise[i].pow(2).mean().item<double>());
      EXPECT_NEAR(measured, snr, 0.15) << "sample " << i;
    }
  }
}

TEST(VaryQuality, DegradesOneModalityOfEachHitSample) {
  Batch b;
  b.inputs = {torch::ones({200, 3}), torch::ones({200, 5})};
  b.labels = torch::zeros({200}, torch::kLong);
  at::Tensor which;
  const Batch out = vary_quality(b, {CorruptionKind::Zeros, 0, 0, {}}, 2, 0.5, 9, &which);
  const auto audio_lost = (out.inputs[0] == 0).all(1);
  const auto visual_lost = (out.inputs[1] == 0).all(1);
  EXPECT_TRUE(torch::equal(audio_lost, which == 0));
  EXPECT_TRUE(torch::equal(visual_lost, which == 1));
  EXPECT_FALSE((audio_lost & visual_lost).any().item<bool>());
  const auto hit = (which >= 0).sum().item<std::int64_t>();
  EXPECT_GT(hit, 70);  // about half of 200
  EXPECT_LT(hit, 130);
  EXPECT_GT((which == 0).sum().item<std::int64_t>(), 20);
  EXPECT_GT((which == 1).sum().item<std::int64_t>(), 20);
  const Batch none = vary_quality(b, {CorruptionKind::Zeros, 0, 0, {}}, 2, 0.0, 9);
  EXPECT_TRUE(torch::equal(none.inputs[0], b.inputs[0]));
  EXPECT_TRUE(torch::equal(none.inputs[1], b.inputs[1]));
}

TEST(AccuracyUnder, CleanMatchesValidationAndLosingThePreferredModalityCostsMore) {
  const ToyData data(256, 21);
  ToyModel model = trained_model(data);
  const double clean = accuracy_under(model, data, 50);
  const Validation v = validate(model, data, 64, false);
  EXPECT_DOUBLE_EQ(clean, v.accuracy);
  EXPECT_GT(clean, 0.9);
  const auto without = [&](std::size_t m) {
    return accuracy_under(model, data, 50, [m](ModalityModel&, const Batch& b, std::uint64_t s) {
      return corrupt(b, {CorruptionKind::Zeros, m, 0, {}}, s);
    });
  };
  // Audio carries the class clearly, visual faintly: the model prefers audio.
  EXPECT_LT(without(0), without(1));
  EXPECT_LT(without(0), clean - 0.2);
  AttackOptions o;
  o.modalities = {0};
  o.radius = 2.0;
  o.steps = 5;
  const double attacked = accuracy_under(
      model, data, 50,
      [&o](ModalityModel& m, const Batch& b, std::uint64_t) { return attack(m, b, o); });
  EXPECT_LT(attacked, clean - 0.2);
}

}  // namespace
}  // namespace avqa::train
