// What teaches the spatial attention where the sound is: the truth maps it is compared with, the
// losses (zero where the attention is the truth), the temperature, and negatives drawn from
// seconds of the same video in which other instruments play.
#include "avqa/grounding_objectives.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/grounding_diagnostics.h"
#include "avqa/qa_dataset.h"
#include "avqa/spatial_grounding.h"
#include "avqa/st_avqa_net.h"
#include "avqa/st_avqa_task.h"
#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/features/feature_cache.h"
#include "tests/avqa/hand_built_truth.h"
#include "tests/avqa/small_network.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using avqa::testing::TempDir;

TEST(SoundingCells, MarksTheCellsOfInstrumentsThatSoundThen) {
  // 64x64 frame, 4x4 grid: a sounding instrument over cells (0, 0)-(1, 1), a silent one over
  // (3, 3); second 1: nobody sounds.
  const synthetic::SceneTruth truth = avqa::testing::scene(
      "v", 64, 64,
      {avqa::testing::visible_instrument("violin", {0, 0, 32, 32}, {true, false}),
       avqa::testing::visible_instrument("piano", {48, 48, 64, 64}, {false, false})});
  const std::vector<float> cells = sounding_cells(truth, {0, 1}, 4, 4);
  ASSERT_EQ(cells.size(), 32u);
  std::vector<float> expected(32, 0.f);
  for (const int c : {0, 1, 4, 5})
    expected[static_cast<std::size_t>(c)] = 1.f;
  EXPECT_EQ(cells, expected);

  // A non-square grid places the centres by each axis: 2 rows x 4 columns.
  const std::vector<float> wide = cells_inside(truth_boxes(truth, 0, 1.0), 2, 4, 64, 64);
  EXPECT_EQ(wide, (std::vector<float>{1, 1, 0, 0, 0, 0, 0, 1}));
}

TEST(AttentionSupervision, ZeroOnTheTruthAndPositiveElsewhere) {
  auto truth = torch::zeros({3, 4});
  truth[0][1] = 1;
  truth[0][2] = 1;
  truth[1][3] = 1;  // row 2 has no truth: left out
  auto attention = torch::full({3, 4}, 0.25f);
  attention[0] = torch::tensor({0.f, 0.5f, 0.5f, 0.f});
  attention[1] = torch::tensor({0.f, 0.f, 0.f, 1.f});
  EXPECT_NEAR(attention_supervision_loss(attention, truth).item<double>(), 0.0, 1e-6);

  // Uniform attention on a two-cell truth: KL = log(4 / 2); on a one-cell truth: log 4.
  const auto uniform = torch::full({3, 4}, 0.25f);
  EXPECT_NEAR(attention_supervision_loss(uniform, truth).item<double>(),
              0.5 * (std::log(2.0) + std::log(4.0)), 1e-5);
  // Rows without truth do not count, whatever the attention there.
  auto other = attention.clone();
  other[2] = torch::tensor({1.f, 0.f, 0.f, 0.f});
  EXPECT_NEAR(attention_supervision_loss(other, truth).item<double>(), 0.0, 1e-6);
  EXPECT_EQ(attention_supervision_loss(uniform, torch::zeros({3, 4})).item<double>(), 0.0);

  // Its gradient moves the attention's scores towards the truth cells.
  auto scores = torch::zeros({1, 4}, torch::requires_grad());
  attention_supervision_loss(torch::softmax(scores, 1), truth.narrow(0, 1, 1)).backward();
  EXPECT_LT(scores.grad()[0][3].item<float>(), 0.f);
  EXPECT_GT(scores.grad()[0][0].item<float>(), 0.f);
}

TEST(LocalizationLoss, RanksTheOwnFrameAboveTheNegative) {
  const auto high = torch::tensor({0.9f, 0.8f});
  const auto low = torch::tensor({0.1f, 0.2f});
  const double right = localization_loss(high, low, 0.1).item<double>();
  const double wrong = localization_loss(low, high, 0.1).item<double>();
  EXPECT_LT(right, 0.01);  // softplus(-7) and softplus(-6)
  EXPECT_GT(wrong, 5.0);
  EXPECT_NEAR(localization_loss(high, high, 1.0).item<double>(), std::log(2.0), 1e-6);
  EXPECT_THROW(localization_loss(high, torch::zeros({3}), 0.1), c10::Error);
}

TEST(BatchLocalization, RanksTheOwnFrameAboveTheBatchsOtherVideos) {
  // Three items, one segment, 4 channels, 2 patches: item k's frame holds direction k in patch 0
  // and a shared background direction 3 in patch 1.
  auto maps = torch::zeros({3, 1, 4, 2});
  for (int k = 0; k < 3; ++k) {
    maps[k][0][k][0] = 1;
    maps[k][0][3][1] = 1;
  }
  auto aligned = torch::eye(3).index({torch::indexing::Slice(), torch::indexing::None});
  aligned = torch::cat({aligned, torch::zeros({3, 1, 1})}, 2);  // [3, 1, 4]: audio k = direction k
  const auto videos = torch::tensor({0, 1, 2}, torch::kLong);
  const double right = batch_localization_loss(aligned, maps, videos, 0.1).item<double>();
  EXPECT_LT(right, 0.01);
  // Audio that matches the background fits every frame alike: chance, log 3.
  auto background = torch::zeros({3, 1, 4});
  background.index_put_({torch::indexing::Slice(), 0, 3}, 1.0);
  EXPECT_NEAR(batch_localization_loss(background, maps, videos, 0.1).item<double>(), std::log(3.0),
              1e-4);
  // Audio of item 0 that matches item 1's instrument: a large loss.
  auto swapped = aligned.clone();
  swapped[0] = aligned[1];
  EXPECT_GT(batch_localization_loss(swapped, maps, videos, 0.1).item<double>(), 1.0);

  // Two questions of one video: they do not count against each other.
  auto twice = maps.clone();
  twice[1] = maps[0];
  auto twice_audio = aligned.clone();
  twice_audio[1] = aligned[0];
  const double shared =
      batch_localization_loss(twice_audio, twice, torch::tensor({0, 0, 2}, torch::kLong), 0.1)
          .item<double>();
  EXPECT_LT(shared, 0.01);
  const double unmasked =
      batch_localization_loss(twice_audio, twice, torch::tensor({0, 1, 2}, torch::kLong), 0.1)
          .item<double>();
  // As different videos the same frames tie: log 2 for each of the two, 0 for the third.
  EXPECT_NEAR(unmasked, 2 * std::log(2.0) / 3, 0.01);

  // The gradient reaches the audio, never the maps.
  auto audio = background.clone().requires_grad_(true);
  auto grad_maps = maps.clone().requires_grad_(true);
  batch_localization_loss(audio, grad_maps, videos, 0.1).backward();
  EXPECT_GT(audio.grad().abs().sum().item<float>(), 0.f);
  EXPECT_FALSE(grad_maps.grad().defined());
}

// Each weight reaches the training loss: a model with it on and one without, the same weights
// and batch, differ by that loss alone.
TEST(StAvqaModelLoss, EachGroundingWeightAddsItsLoss) {
  torch::manual_seed(5);
  StAvqaOptions o = testing::small_widths();
  o.grounding_temperature = 0.1;
  train::Batch batch;
  batch.inputs = {torch::randn({3, 2, o.audio_dim}), torch::randn({3, 2, o.visual_channels, 2, 2})};
  auto truth = torch::zeros({3, 2, 4});
  truth.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 1}, 1.0);
  batch.context = {torch::randint(1, o.vocab_size, {3, 5}, torch::kLong),
                   torch::randn({3, 2, o.visual_channels, 2, 2}), truth,
                   torch::tensor({0, 1, 1}, torch::kLong)};
  batch.labels = torch::tensor({0, 1, 2}, torch::kLong);
  StAvqaNet net(o);
  const auto loss_with = [&](GroundingLossWeights w) {
    StAvqaModel model(net, w);
    model.set_training(false);  // no dropout: the same forward each time
    const train::Encoded e = model.encode(batch);
    return std::pair{model.loss(model.fuse(e), batch.labels, e, batch).item<double>(), e};
  };
  const auto [base, e] = loss_with({});
  const double temperature = 0.1;
  GroundingLossWeights w;
  w.localization = 2;
  EXPECT_NEAR(loss_with(w).first - base,
              2 * localization_loss(e.state.at(4), e.state.at(5), temperature).item<double>(),
              1e-5);
  w = {};
  w.batch_localization = 1;
  const double batch_term = batch_localization_loss(e.state.at(6), batch.inputs[1].flatten(3),
                                                    batch.context[3], temperature)
                                .item<double>();
  EXPECT_GT(batch_term, 0.0);
  EXPECT_NEAR(loss_with(w).first - base, batch_term, 1e-5);
  w = {};
  w.supervision = 1;
  const auto attention = e.state.at(3);
  EXPECT_NEAR(
      loss_with(w).first - base,
      attention_supervision_loss(attention.reshape({-1, 4}), truth.reshape({-1, 4})).item<double>(),
      1e-5);
}

// Centred patches: a component every patch of a frame shares (the background's) cannot move
// the attention; with raw patches it does.
TEST(CentrePatches, AttentionIgnoresWhatEveryPatchShares) {
  torch::manual_seed(4);
  StAvqaOptions o = testing::small_widths();
  const auto audio = torch::randn({2, 3, o.audio_dim});
  const auto visual = torch::randn({2, 3, o.visual_channels, 3, 3});
  const auto shared = torch::rand({1, 1, o.visual_channels, 1, 1}) * 5;
  const auto question = torch::randint(1, o.vocab_size, {2, 5}, torch::kLong);
  const auto attention = [&](bool centre, const torch::Tensor& maps) {
    StAvqaOptions with = o;
    with.centre_patches = centre;
    torch::manual_seed(9);  // the same weights for every network
    StAvqaNet net(with);
    net->eval();
    return net->forward(audio, maps, question).spatial_attention;
  };
  EXPECT_TRUE(
      torch::allclose(attention(true, visual), attention(true, visual + shared), 1e-4, 1e-5));
  EXPECT_FALSE(
      torch::allclose(attention(false, visual), attention(false, visual + shared), 1e-3, 1e-4));
}

TEST(GroundingTemperature, SharpensTheAttentionAroundTheSamePeak) {
  torch::manual_seed(3);
  StAvqaOptions o = testing::small_widths();
  const auto audio = torch::randn({2, 3, o.audio_dim});
  const auto visual = torch::randn({2, 3, o.visual_channels, 4, 4});
  const auto question = torch::randint(1, o.vocab_size, {2, 5}, torch::kLong);
  StAvqaNet plain(o);
  o.grounding_temperature = 0.1;
  StAvqaNet sharp(o);
  // The same weights: copy the parameters (construction order is the same).
  {
    torch::NoGradGuard no_grad;
    const auto from = plain->parameters();
    const auto to = sharp->parameters();
    for (std::size_t i = 0; i < from.size(); ++i)
      to[i].copy_(from[i]);
  }
  plain->eval();
  sharp->eval();
  const StAvqaOutput a = plain->forward(audio, visual, question);
  const StAvqaOutput b = sharp->forward(audio, visual, question);
  // softmax(s / 0.1) = softmax(10 log softmax(s)): the plain attention's log, scaled.
  const auto expected = torch::softmax(10 * a.spatial_attention.log(), 2);
  EXPECT_TRUE(torch::allclose(b.spatial_attention, expected, 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(a.spatial_attention.argmax(2), b.spatial_attention.argmax(2)));
  EXPECT_GT(b.spatial_attention.max().item<float>(), a.spatial_attention.max().item<float>());
  // The localization score is the attention-weighted cosine: higher for the sharper attention.
  EXPECT_GT(b.localization_positive.mean().item<float>(),
            a.localization_positive.mean().item<float>());
  o.grounding_temperature = 0;
  EXPECT_THROW(StAvqaNet{o}, c10::Error);
}

// A tiny generated dataset (real truth: who plays when) with a coded cache: every frame's
// channel 0 holds its video's index and channel 1 its row, so a negative frame tells where it
// came from.
constexpr int kSeconds = 6;
constexpr int kGrid = 4;

struct CodedData {
  data::AnnotationSet set;
  std::vector<std::string> videos;
  std::shared_ptr<const features::FeatureCacheReader> cache;
};

CodedData make_coded_data(const fs::path& dir) {
  avqa::testing::generate_tiny_dataset(dir, 8, kSeconds, 17, {0.5, 0.5, 0.0}, 6);
  CodedData d;
  d.set = data::load_annotations(dir / "data/annotations/avqa-train.json");
  features::CacheLayout layout;
  for (const auto& entry : fs::directory_iterator(dir / "data/truth"))
    layout.video_ids.push_back(entry.path().stem().string());
  std::sort(layout.video_ids.begin(), layout.video_ids.end());
  d.videos = layout.video_ids;
  layout.segments = kSeconds;
  layout.fps = 1;
  layout.storage = features::StorageType::Float32;
  layout.modalities = {{"audio", {4}, "vggish", "random-init"},
                       {"visual", {2, kGrid, kGrid}, "resnet18", "random-init"}};
  {
    auto writer = features::FeatureCacheWriter::create(dir / "coded.h5", layout);
    for (std::size_t v = 0; v < layout.video_ids.size(); ++v) {
      features::VideoFeatures f;
      f.modalities["audio"] = std::vector<float>(kSeconds * 4, 1.f);
      std::vector<float> maps;
      for (int row = 0; row < kSeconds; ++row) {
        maps.insert(maps.end(), kGrid * kGrid, static_cast<float>(v));
        maps.insert(maps.end(), kGrid * kGrid, static_cast<float>(row));
      }
      f.modalities["visual"] = maps;
      writer.write(v, f);
    }
  }
  d.cache = std::make_shared<const features::FeatureCacheReader>(dir / "coded.h5");
  return d;
}

// Which visible instruments sound in each second, read straight from the truth file.
std::vector<std::set<std::size_t>> arrangements(const fs::path& truth_file) {
  const json truth = json::parse(core::read_text_file(truth_file));
  std::vector<std::set<std::size_t>> out(kSeconds);
  std::size_t index = 0;
  for (const json& inst : truth.at("instruments")) {
    if (!inst.at("visible").get<bool>()) continue;
    for (int s = 0; s < kSeconds; ++s) {
      if (inst.at("sounding_per_second").at(static_cast<std::size_t>(s)).get<int>() == 1)
        out[static_cast<std::size_t>(s)].insert(index);
    }
    ++index;
  }
  return out;
}

TEST(QaDatasetTruth, SameVideoNegativesComeFromSecondsWhereOthersPlay) {
  TempDir dir("same_video_negatives");
  const CodedData d = make_coded_data(dir.path());
  const auto words = data::WordVocabulary::build({d.set});
  const data::AnswerVocabulary answers(data::music_avqa_answers());
  QaDataset dataset(d.set, words, answers, d.cache, kSeconds);
  std::vector<std::size_t> all(dataset.size());
  std::iota(all.begin(), all.end(), 0);

  // The original: always another video.
  const QaBatch original = dataset.load(all, true, 7);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto own = static_cast<float>(
        std::find(d.videos.begin(), d.videos.end(), dataset.video_id(i)) - d.videos.begin());
    for (int s = 0; s < kSeconds; ++s)
      EXPECT_NE(original.visual_negative[i][s][0][0][0].item<float>(), own);
  }
  EXPECT_FALSE(original.attention_truth.defined());

  EXPECT_THROW(dataset.attach_truth(dir / "nowhere"), core::InputError);
  dataset.attach_truth(dir / "data/truth");
  dataset.set_negatives(QaDataset::Negatives::SameVideo);
  std::size_t same = 0, fallback = 0;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const QaBatch batch = dataset.load(all, true, seed);
    ASSERT_TRUE(batch.attention_truth.defined());
    for (std::size_t i = 0; i < all.size(); ++i) {
      const std::string& id = dataset.video_id(i);
      const auto own =
          static_cast<float>(std::find(d.videos.begin(), d.videos.end(), id) - d.videos.begin());
      const auto who = arrangements(dir / "data/truth" / (id + ".json"));
      const synthetic::SceneTruth truth =
          synthetic::load_truth(dir / "data/truth" / (id + ".json"));
      for (int s = 0; s < kSeconds; ++s) {
        const auto i64 = static_cast<std::int64_t>(i);
        // The attention truth: the sounding cells of this second.
        const auto expected = torch::tensor(sounding_cells(truth, {s}, kGrid, kGrid));
        EXPECT_TRUE(torch::equal(batch.attention_truth[i64][s], expected)) << id << " " << s;

        const float video = batch.visual_negative[i64][s][0][0][0].item<float>();
        const auto row =
            static_cast<std::size_t>(batch.visual_negative[i64][s][1][0][0].item<float>());
        const bool others_play =
            std::any_of(who.begin(), who.end(), [&](const auto& a) { return a != who[s]; });
        if (others_play) {
          EXPECT_EQ(video, own) << id << " second " << s;
          EXPECT_NE(who[row], who[static_cast<std::size_t>(s)]) << id << " second " << s;
          ++same;
        } else {
          EXPECT_NE(video, own) << id << ": no other arrangement, so another video";
          ++fallback;
        }
      }
    }
  }
  EXPECT_GT(same, 0u) << "the fixed seed gives videos whose players change";
  EXPECT_EQ(same + fallback, 3 * all.size() * kSeconds);
  // Mixed: a coin per segment, so both kinds, and a same-video one still never shares the own
  // second's players.
  dataset.set_negatives(QaDataset::Negatives::Mixed);
  const QaBatch mixed = dataset.load(all, true, 4);
  std::size_t mixed_same = 0, mixed_other = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string& id = dataset.video_id(i);
    const auto own =
        static_cast<float>(std::find(d.videos.begin(), d.videos.end(), id) - d.videos.begin());
    const auto who = arrangements(dir / "data/truth" / (id + ".json"));
    for (int s = 0; s < kSeconds; ++s) {
      const auto i64 = static_cast<std::int64_t>(i);
      const auto row =
          static_cast<std::size_t>(mixed.visual_negative[i64][s][1][0][0].item<float>());
      if (mixed.visual_negative[i64][s][0][0][0].item<float>() == own) {
        EXPECT_NE(who[row], who[static_cast<std::size_t>(s)]) << id << " second " << s;
        ++mixed_same;
      } else {
        ++mixed_other;
      }
    }
  }
  EXPECT_GT(mixed_same, 0u);
  EXPECT_GT(mixed_other, fallback / 3) << "more other-video negatives than the fallbacks alone";
  EXPECT_THROW(QaDataset::parse_negatives("nearby"), std::invalid_argument);

  // Negatives the same seed draws are the same negatives.
  EXPECT_TRUE(torch::equal(dataset.load(all, true, 9).visual_negative,
                           dataset.load(all, true, 9).visual_negative));
}

}  // namespace
}  // namespace avqa::net
