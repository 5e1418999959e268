#include "core/train/crmt.h"

#include <cmath>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/train/perturbation.h"
#include "core/train/robust_evaluation.h"
#include "tests/core/train/toy_model.h"
#include "tests/test_paths.h"

namespace avqa::train {
namespace {

using testing::ToyData;

// Linear encoders into a CRMT head: each modality's logits are linear in its own input, so the
// Lipschitz constant of o_{m,c} is exactly ||P_m^T W~_{m,c}|| and the certified radius is a
// true certificate.
struct LinearCrmtNetImpl : torch::nn::Module {
  LinearCrmtNetImpl(std::int64_t in, std::int64_t width, std::int64_t classes)
      : audio(register_module("audio", torch::nn::Linear(in, width))),
        visual(register_module("visual", torch::nn::Linear(in, width))),
        head(register_module("head", CrmtHead(CrmtHeadOptions{{width, width}, classes, 0.1}))) {}
  torch::nn::Linear audio, visual;
  CrmtHead head;
};
TORCH_MODULE(LinearCrmtNet);

class LinearCrmtModel : public ModalityModel, public CertifiableModel {
 public:
  LinearCrmtModel() : net(8, 6, 4) {}
  std::vector<std::string> modalities() const override { return {"audio", "visual"}; }
  std::vector<at::Tensor> parameters() override { return net->parameters(); }
  std::vector<at::Tensor> encoder_parameters(std::size_t m) override {
    return m == 0 ? net->audio->parameters() : net->visual->parameters();
  }
  void set_training(bool training) override { net->train(training); }
  Encoded encode(const Batch& b) override {
    return {{net->audio(b.inputs.at(0)), net->visual(b.inputs.at(1))}, {}};
  }
  at::Tensor fuse(const Encoded& e) override {
    const CertifiedLogits l = certified_logits(e);
    return net->head->combine(l.modality, l.context);
  }
  void save(const std::filesystem::path& file) override { torch::save(net, file.string()); }
  void load(const std::filesystem::path& file) override { torch::load(net, file.string()); }
  CrmtHeadImpl* crmt_head() override { return net->head.get(); }
  CertifiedLogits certified_logits(const Encoded& e) override {
    return {net->head->modality_logits(e.features), {}};
  }

  LinearCrmtNet net;
};

std::vector<std::size_t> all_of(const TrainingData& data) {
  std::vector<std::size_t> all(data.size());
  for (std::size_t i = 0; i < all.size(); ++i)
    all[i] = i;
  return all;
}

LinearCrmtModel fitted_linear_crmt(const ToyData& data, int steps) {
  torch::manual_seed(3);
  LinearCrmtModel model;
  torch::optim::Adam adam(model.parameters(), torch::optim::AdamOptions(0.05));
  const Batch b = data.load(all_of(data), true, 0);
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    torch::nn::functional::cross_entropy(model.fuse(model.encode(b)), b.labels).backward();
    adam.step();
  }
  model.set_training(false);
  return model;
}

TEST(CrmtHead, RowsAreCentredUnitVectorsAndTheLogitsCombineAsWritten) {
  torch::manual_seed(1);
  CrmtHead head(CrmtHeadOptions{{5, 3}, 4, 0.1});
  for (std::size_t m = 0; m < 2; ++m) {
    const at::Tensor w = head->normalised_weight(m);
    ASSERT_EQ(w.sizes(), (std::vector<std::int64_t>{4, m == 0 ? 5 : 3}));
    EXPECT_TRUE(torch::allclose(w.sum(1), torch::zeros({4}), 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(w.norm(2, {1}), torch::ones({4}), 1e-5, 1e-6));
  }
  EXPECT_TRUE(torch::allclose(head->integration(), torch::full({2, 4}, 0.1)));
  const std::vector<at::Tensor> z{torch::randn({2, 5}), torch::randn({2, 3})};
  const auto o = head->modality_logits(z);
  EXPECT_TRUE(torch::allclose(o[1], z[1].matmul(head->normalised_weight(1).t())));
  const at::Tensor context = torch::randn({2, 4});
  const at::Tensor expected = 0.1 * o[0] + 0.1 * o[1] + head->bias() + context;
  EXPECT_TRUE(torch::allclose(head->combine(o, context), expected, 1e-5, 1e-6));
  EXPECT_THROW(head->modality_logits({z[0]}), std::invalid_argument);
}

TEST(CrmtLosses, MarginAndMixMarginFollowTheirFormulas) {
  const at::Tensor a = torch::tensor({{1.0, 2.0, -1.0}, {0.5, 0.0, 3.0}});
  const at::Tensor v = torch::tensor({{0.0, -2.0, 1.0}, {2.0, 1.0, -1.0}});
  const at::Tensor y = torch::tensor({0, 2}, torch::kLong);
  // Sample 0 (y = 0): a: e^(2-1) + e^(-1-1); v: e^(-2-0) + e^(1-0). Sample 1 (y = 2): a:
  // e^(0.5-3) + e^(0-3); v: e^(2+1) + e^(1+1).
  const double s0 = std::exp(1) + std::exp(-2) + std::exp(-2) + std::exp(1);
  const double s1 = std::exp(-2.5) + std::exp(-3) + std::exp(3) + std::exp(2);
  const double margin = (std::log(s0 + 1e-5) + std::log(s1 + 1e-5)) / 2;
  EXPECT_NEAR(crmt_margin_loss({a, v}, y).item<double>(), margin, 1e-5);

  const at::Tensor yb = torch::tensor({1, 2}, torch::kLong);
  const double lambda = 0.25;
  const auto term = [&](const at::Tensor& o, int i, int ya, int ybi) {
    double sum = 0;
    for (int k = 0; k < 3; ++k)
      sum += std::exp(o[i][k].item<double>());
    const double oa = o[i][ya].item<double>(), ob = o[i][ybi].item<double>();
    sum -= oa + (ya != ybi ? ob : 0);
    return sum * std::exp(-(lambda * oa + (1 - lambda) * ob));
  };
  const double mix = (std::log(term(a, 0, 0, 1) + term(v, 0, 0, 1)) +
                      std::log(term(a, 1, 2, 2) + term(v, 1, 2, 2))) /
                     2;
  EXPECT_NEAR(crmt_mix_margin_loss({a, v}, y, yb, lambda).item<double>(), mix, 1e-5);
}

TEST(CrmtLipschitz, ALinearModelGetsItsExactConstantsAndRadiiThatHoldUnderAttack) {
  const ToyData data(96, 5);
  LinearCrmtModel model = fitted_linear_crmt(data, 60);
  const at::Tensor lip = estimate_lipschitz(model, data, 32, 1000);
  ASSERT_EQ(lip.sizes(), (std::vector<std::int64_t>{2, 2, 4}));
  const std::vector<at::Tensor> encoders{model.net->audio->weight, model.net->visual->weight};
  for (std::int64_t m = 0; m < 2; ++m) {
    const at::Tensor exact =
        model.net->head->normalised_weight(m).matmul(encoders[m]).norm(2, {1}).to(torch::kDouble);
    EXPECT_TRUE(torch::allclose(lip[m][m], exact, 1e-4, 1e-6)) << lip[m][m] << exact;
    EXPECT_EQ(lip[m][1 - m].abs().max().item<double>(), 0);  // the modalities meet in the head only
  }

  const Batch b = data.load(all_of(data), false, 0);
  const CertifiedLogits logits = model.certified_logits(model.encode(b));
  const CertifiedRadii radii = certified_radii(*model.net->head, logits, lip, b.labels);
  // Sample 0 by hand: the smallest over k != y of (h_y - h_k) / sqrt(sum_n L_n(y, k)^2).
  const at::Tensor h = model.fuse(model.encode(b)).detach().to(torch::kDouble);
  const at::Tensor a = model.net->head->integration().detach().abs().to(torch::kDouble);
  const std::int64_t y = b.labels[0].item<std::int64_t>();
  double smallest = INFINITY, smallest_audio = INFINITY;
  for (std::int64_t k = 0; k < 4; ++k) {
    if (k == y) continue;
    const double la = (a[0][y] * lip[0][0][y] + a[0][k] * lip[0][0][k]).item<double>();
    const double lv = (a[1][y] * lip[1][1][y] + a[1][k] * lip[1][1][k]).item<double>();
    const double margin = (h[0][y] - h[0][k]).item<double>();
    smallest = std::min(smallest, margin / std::sqrt(la * la + lv * lv));
    smallest_audio = std::min(smallest_audio, margin / la);
  }
  EXPECT_NEAR(radii.joint[0].item<double>(), smallest, 1e-6);
  EXPECT_NEAR(radii.modality[0][0].item<double>(), smallest_audio, 1e-6);
  EXPECT_TRUE(torch::equal(radii.correct, h.argmax(1) == b.labels));
  EXPECT_TRUE(((radii.joint > 0) == radii.correct).all().item<bool>());

  // A certificate: no attack inside a sample's radius changes its answer.
  const at::Tensor certified = radii.correct & (radii.joint > 0);
  const double epsilon = radii.joint.masked_select(certified).median().item<double>();
  AttackOptions attack_options;
  attack_options.modalities = {0, 1};
  attack_options.radius = epsilon;
  attack_options.steps = 20;
  const Batch attacked = attack(model, b, attack_options);
  const at::Tensor answers = model.fuse(model.encode(attacked)).argmax(1);
  const at::Tensor safe = radii.joint > epsilon;
  ASSERT_GT(safe.sum().item<std::int64_t>(), 10);
  EXPECT_TRUE((answers == b.labels).masked_select(safe).all().item<bool>());
  // ... while the attack does change answers outside them (it is not too weak to tell).
  const at::Tensor open = radii.correct & (radii.joint < epsilon / 4);
  if (open.any().item<bool>()) {
    EXPECT_FALSE((answers == b.labels).masked_select(open).all().item<bool>());
  }
}

TEST(CrmtPhaseTwo, TrainsOnlyTheIntegrationWeightsAndEnlargesTheRadius) {
  const ToyData data(96, 6);
  LinearCrmtModel model = fitted_linear_crmt(data, 40);
  std::vector<at::Tensor> before;
  for (const auto& p : model.parameters())
    before.push_back(p.detach().clone());
  const at::Tensor integration_before = model.net->head->integration().detach().clone();
  CrmtOptions crmt;
  crmt.crmt_epochs = 5;
  crmt.crmt_lr_scale = 50;  // a toy's few steps must move a visibly
  TrainerOptions run;
  run.batch = 32;
  run.learning_rate = 1e-3;
  const CertifiedTrainingReport report = enlarge_certified_radius(model, data, crmt, run);
  ASSERT_EQ(report.mean_radius.size(), 5u);
  EXPECT_GT(report.mean_radius.back(), report.mean_radius.front());
  EXPECT_EQ(report.lipschitz_samples, 96u);
  const auto after = model.parameters();
  const at::Tensor integration = model.net->head->integration();
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (after[i].is_same(integration)) continue;
    EXPECT_TRUE(torch::equal(after[i], before[i])) << "parameter " << i << " changed";
  }
  EXPECT_FALSE(torch::allclose(integration, integration_before));
}

TEST(CrmtRobustEvaluation, CertifiedAccuracyStartsAtCleanAndStaysBelowWhatAttacksLeave) {
  const ToyData data(96, 7);
  LinearCrmtModel model = fitted_linear_crmt(data, 60);
  RobustEvalOptions o;
  o.radii = {0, 0.5, 2, 8};
  o.steps = 10;
  o.missing = false;
  o.snr_db = {};
  o.quality_probability = 0;
  o.batch = 40;
  const RobustReport plain = robust_evaluate(model, data, o);
  for (const auto& c : plain.conditions)
    EXPECT_NE(c.kind, "certified");  // no constants, no certificates
  o.lipschitz = estimate_lipschitz(model, data, 32, 1000);
  const RobustReport report = robust_evaluate(model, data, o);
  const double clean = report.conditions.at(0).accuracy;
  std::map<std::string, std::vector<double>> certified, attacked;
  for (const auto& c : report.conditions) {
    if (c.kind == "certified") certified[c.modality].push_back(c.accuracy);
    if (c.kind == "pgd-l2") attacked[c.modality].push_back(c.accuracy);
  }
  ASSERT_EQ(certified.size(), 3u);  // all inputs, audio, visual
  for (const auto& [modality, accuracy] : certified) {
    SCOPED_TRACE(modality);
    ASSERT_EQ(accuracy.size(), 4u);
    EXPECT_DOUBLE_EQ(accuracy[0], clean);
    for (std::size_t k = 1; k < accuracy.size(); ++k) {
      EXPECT_LE(accuracy[k], accuracy[k - 1]);
      if (!modality.empty()) {
        EXPECT_LE(accuracy[k], attacked.at(modality)[k] + 1e-12);
      }
    }
    EXPECT_LT(accuracy.back(), clean);  // the largest radius certifies less than all
  }
  EXPECT_EQ(report.conditions.at(9).label(),
            "certified l2 all inputs radius 0");  // after 8 attacks

  // Relative radii scale each sample's radius by its own input norm.
  o.relative = true;
  o.attacks = false;
  o.radii = {0.05};
  const RobustReport relative = robust_evaluate(model, data, o);
  EXPECT_EQ(relative.conditions.at(1).label(), "certified l2 all inputs radius 5 % of its norm");
}

// Records the loss terms each step ends with and the batches it saw.
class LossNames : public Hook {
 public:
  std::string name() const override { return "loss-names"; }
  void on_batch(StepContext& step) override { inputs.push_back(step.batch.inputs[0].clone()); }
  void on_loss(StepContext& step) override {
    std::string all;
    for (const auto& [name, value] : step.losses)
      all += name + (value.requires_grad() ? "+" : "-") + " ";
    names.push_back(all);
  }
  std::vector<std::string> names;
  std::vector<at::Tensor> inputs;
};

TEST(CrmtTraining, AddsTheMarginTermMixesBatchesAndCertifiesTheRun) {
  avqa::testing::TempDir dir("crmt_training");
  const ToyData train(64, 1), val(32, 2);
  for (const std::string method : {"crmt", "crmt-mix", "crmt-at"}) {
    SCOPED_TRACE(method);
    RobustTrainingOptions o;
    o.robust = method;
    o.crmt_epochs = 2;
    auto hooks = make_robust_hooks(o);
    ASSERT_EQ(hooks.size(), method == "crmt-at" ? 2u : 1u);
    auto recorder = std::make_shared<LossNames>();
    hooks.push_back(recorder);
    torch::manual_seed(0);
    LinearCrmtModel model;
    TrainerOptions t;
    t.out = dir.path() / method;
    t.epochs = 2;
    t.batch = 16;
    t.progress = false;
    t.diagnostics = false;
    fit(model, train, val, t, hooks);
    ASSERT_EQ(recorder->names.size(), 8u);
    EXPECT_EQ(recorder->names[0], "task+ crmt_margin+ ");
    // Mixed batches are no longer the training samples themselves.
    const Batch first = train.load({0}, true, 0);
    bool any_original = false;
    for (const auto& x : recorder->inputs) {
      for (std::int64_t i = 0; i < x.size(0); ++i)
        any_original = any_original || torch::equal(x[i], first.inputs[0][0]);
    }
    EXPECT_EQ(any_original, method == "crmt");

    const CertifiedTrainingReport report = certify_run(model, train, o, t);
    EXPECT_EQ(report.mean_radius.size(), 2u);
    EXPECT_TRUE(std::filesystem::exists(t.out / "best-phase1.pt"));
    EXPECT_TRUE(
        torch::equal(read_lipschitz(t.out / "crmt.json").to(torch::kDouble), report.lipschitz));
    // A second call finds the run certified and returns what it wrote.
    const CertifiedTrainingReport again = certify_run(model, train, o, t);
    EXPECT_EQ(again.mean_radius, report.mean_radius);
  }
}

TEST(CrmtTraining, RefusesModelsWithoutAHeadAndBadFiles) {
  avqa::testing::TempDir dir("crmt_refusals");
  const ToyData train(32, 1);
  RobustTrainingOptions o;
  o.robust = "crmt";
  testing::ToyModel plain;
  TrainerOptions t;
  t.out = dir.path();
  t.epochs = 1;
  t.progress = false;
  try {
    fit(plain, train, train, t, make_robust_hooks(o));
    FAIL() << "a model without a CRMT head trained with --robust crmt";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("CRMT head"), std::string::npos) << e.what();
  }
  o.robust = "crmt-typo";
  EXPECT_THROW(validate_robust_training(o), std::invalid_argument);
  o.robust = "crmt";
  o.crmt_rho = -1;
  EXPECT_THROW(validate_robust_training(o), std::invalid_argument);

  const auto file = dir.path() / "crmt.json";
  std::ofstream(file) << R"({"lipschitz": [[[1, 2], [0, 0]], [[0, 0]]]})";
  try {
    read_lipschitz(file);
    FAIL() << "a ragged Lipschitz table was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("crmt.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lipschitz"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace avqa::train
