#include "core/train/robust_evaluation.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tests/core/train/toy_model.h"

namespace avqa::train {
namespace {

using testing::ToyData;
using testing::ToyModel;

ToyModel fitted(const ToyData& data) {
  return testing::fitted_toy_model(data, 4, 150);
}

TEST(GroupAccuracy, CountsEachGroupsOwnSamples) {
  const auto correct = torch::tensor({true, false, true, true, false});
  const auto a = group_accuracy(correct, {"x", "y", "x", "y", "y"}, {"y", "x", "z"});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_DOUBLE_EQ(a[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(a[1], 1.0);
  EXPECT_DOUBLE_EQ(a[2], 0.0);  // no sample
  EXPECT_THROW(group_accuracy(correct, {"x"}, {"x"}), std::invalid_argument);
}

TEST(RobustEvaluate, RunsEveryConditionAsTheEvaluatorsAloneWould) {
  const ToyData data(120, 5);
  ToyModel model = fitted(data);
  RobustEvalOptions o;
  o.radii = {0.5, 2.0};
  o.snr_db = {10};
  o.batch = 32;
  std::vector<std::string> seen;
  const RobustReport r =
      robust_evaluate(model, data, o, [&](const std::string& label) { seen.push_back(label); });
  // clean; pgd per modality and radius; zeros and mean per modality (toy inputs have no
  // seconds to drop); noise per modality; quality.
  std::vector<std::string> kinds;
  for (const auto& c : r.conditions)
    kinds.push_back(c.kind + "/" + c.modality);
  const std::vector<std::string> expected{
      "clean/",     "pgd-l2/audio", "pgd-l2/audio", "pgd-l2/visual", "pgd-l2/visual", "zeros/audio",
      "mean/audio", "zeros/visual", "mean/visual",  "noise/audio",   "noise/visual",  "quality/"};
  EXPECT_EQ(kinds, expected);
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_EQ(seen[2], "pgd-l2 audio radius 2");

  EXPECT_DOUBLE_EQ(r.conditions[0].accuracy, accuracy_under(model, data, 32));
  const double no_audio =
      accuracy_under(model, data, 32, [](ModalityModel&, const Batch& b, std::uint64_t s) {
        return corrupt(b, {CorruptionKind::Zeros, 0, 0, {}}, s);
      });
  EXPECT_DOUBLE_EQ(r.conditions[5].accuracy, no_audio);
  // A larger radius never helps the model on the same inputs; the preferred modality (audio) is
  // the vulnerable one.
  EXPECT_LE(r.conditions[2].accuracy, r.conditions[1].accuracy);
  EXPECT_LT(r.conditions[2].accuracy, r.conditions[4].accuracy);
  EXPECT_LT(r.conditions[5].accuracy, r.conditions[7].accuracy);

  // Groups: the per-group accuracies average back to the overall one.
  std::vector<std::string> groups;
  for (std::size_t i = 0; i < data.size(); ++i)
    groups.push_back(i % 3 == 0 ? "a" : "b");
  const auto json = to_json(r, groups, {"a", "b"});
  ASSERT_EQ(json["conditions"].size(), expected.size());
  EXPECT_EQ(json["samples"], 120);
  for (const auto& c : json["conditions"]) {
    const double mixed =
        (40 * c["groups"]["a"].get<double>() + 80 * c["groups"]["b"].get<double>()) / 120;
    EXPECT_NEAR(mixed, c["accuracy"].get<double>(), 1e-12) << c["label"];
  }
  const std::string md = to_markdown(r, groups, {"a", "b"});
  EXPECT_NE(md.find("| condition | accuracy | change | a | b |"), std::string::npos);
  EXPECT_NE(md.find("| audio missing (zeros) |"), std::string::npos);
  EXPECT_EQ(std::count(md.begin(), md.end(), '\n'), static_cast<long>(expected.size() + 2));
}

TEST(RobustEvaluate, DropsSecondsOnlyWhereInputsHaveThem) {
  // Inputs [B, T, d]: a model that averages over the seconds.
  struct Seconds : ToyModel {
    Encoded encode(const Batch& b) override {
      Batch flat = b;
      for (auto& x : flat.inputs)
        x = x.mean(1);
      return ToyModel::encode(flat);
    }
  };
  struct SecondsData : TrainingData {
    ToyData inner{40, 3};
    std::size_t size() const override { return inner.size(); }
    Batch load(const std::vector<std::size_t>& i, bool t, std::uint64_t s) const override {
      Batch b = inner.load(i, t, s);
      for (auto& x : b.inputs)
        x = x.unsqueeze(1).repeat({1, 4, 1});
      return b;
    }
  };
  Seconds model;
  const SecondsData data;
  RobustEvalOptions o;
  o.attacks = false;
  o.snr_db = {};
  o.quality_probability = 0;
  const RobustReport r = robust_evaluate(model, data, o);
  std::vector<std::string> kinds;
  for (const auto& c : r.conditions)
    kinds.push_back(c.kind);
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"clean", "zeros", "mean", "drop", "zeros", "mean", "drop"}));
  EXPECT_EQ(r.conditions[3].label(), "audio: 50 % of the seconds dropped");
}

}  // namespace
}  // namespace avqa::train
