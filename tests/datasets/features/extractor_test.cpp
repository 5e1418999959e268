// extract_features on generated videos: what lands in the cache, bad files, missing audio.
#include "datasets/features/extractor.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "core/input_error.h"
#include "datasets/features/log_mel.h"
#include "datasets/media/video_file_writer.h"
#include "datasets/synthetic/generator.h"
#include "tests/test_paths.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// Three 3-second generated videos, plus a silent one written here.
void make_videos(const fs::path& folder) {
  synthetic::GeneratorOptions g;
  g.out = folder / "dataset";
  g.videos = 3;
  g.scene.seconds = 3;
  g.seed = 8;
  g.progress = false;
  synthetic::generate_dataset(g);
  fs::create_directories(folder / "videos");
  for (const auto& e : fs::directory_iterator(folder / "dataset/videos"))
    fs::copy(e.path(), folder / "videos" / e.path().filename());
  media::VideoWriterOptions w;
  w.width = 64;
  w.height = 64;
  w.sample_rate = 0;
  media::VideoFileWriter writer(folder / "videos/silent.mp4", w);
  std::vector<std::uint8_t> grey(64 * 64 * 3, 90);
  for (int f = 0; f < 8 * 2; ++f)
    writer.write_frame(grey.data(), 64 * 3);
  writer.finish();
}

ExtractOptions small_options(const fs::path& folder) {
  ExtractOptions o;
  o.videos = list_videos_in(folder / "videos");
  o.out = folder / "features.h5";
  o.sampling.segments = 3;
  o.sampling.frame_size = 64;
  o.jobs = 2;
  o.progress = false;
  return o;
}

TEST(Extractor, FillsTheCacheWithWhatTheBackbonesComputeAndRecordsRandomInit) {
  TempDir dir("extract");
  make_videos(dir.path());
  const ExtractOptions o = small_options(dir.path());
  const ExtractSummary summary = extract_features(o);
  EXPECT_EQ(summary.extracted, 4u);
  EXPECT_TRUE(summary.failures.empty());
  EXPECT_NE(summary.weights[0].find("random-init"), std::string::npos);

  const FeatureCacheReader reader(o.out);
  ASSERT_EQ(reader.layout().video_ids,
            (std::vector<std::string>{"silent", "syn00000", "syn00001", "syn00002"}));
  EXPECT_EQ(reader.layout().modalities[0].segment_shape,
            (std::vector<std::uint64_t>{512, 4, 4}));  // 64 px / 16
  EXPECT_EQ(reader.layout().modalities[1].segment_shape, (std::vector<std::uint64_t>{128}));
  EXPECT_EQ(reader.layout().modalities[0].weights, "random-init");
  EXPECT_FALSE(reader.has_audio(*reader.find("silent")));
  EXPECT_TRUE(reader.has_audio(*reader.find("syn00001")));
  EXPECT_NEAR(reader.real_seconds(*reader.find("syn00001")), 3.0, 0.01);

  // The cached audio features are VGGish (same seed, same random weights) on the sampled audio.
  torch::manual_seed(static_cast<std::int64_t>(o.seed + 1));
  Vggish vggish;
  vggish->eval();
  torch::NoGradGuard no_grad;
  const media::SampledClip clip = media::sample_clip(dir / "videos/syn00001.mp4", o.sampling);
  const auto expected = vggish->forward(vggish_examples(clip.audio, 3, clip.samples_per_segment));
  const auto cached = reader.read("audio", *reader.find("syn00001"));
  ASSERT_EQ(cached.size(), 3u * 128u);
  for (std::size_t i = 0; i < cached.size(); i += 37) {
    const float e = expected.view({-1})[static_cast<std::int64_t>(i)].item<float>();
    EXPECT_NEAR(cached[i], e, std::abs(e) * 1e-3 + 1e-3) << i;  // float16 storage
  }
}

TEST(Extractor, BadFilesAreReportedAndTheOthersExtracted) {
  TempDir dir("extract_bad");
  make_videos(dir.path());
  std::ofstream(dir / "videos/empty.mp4").close();
  std::ofstream(dir / "videos/garbage.mp4") << "no video here";
  const ExtractOptions o = small_options(dir.path());
  const ExtractSummary summary = extract_features(o);
  EXPECT_EQ(summary.extracted, 4u);
  ASSERT_EQ(summary.failures.size(), 2u);
  const auto report = nlohmann::json::parse(std::ifstream(o.out.string() + ".failures.json"));
  ASSERT_EQ(report.size(), 2u);
  EXPECT_EQ(report[0]["video_id"], "empty");
  EXPECT_NE(report[0]["reason"].get<std::string>().find("empty"), std::string::npos);
  const FeatureCacheReader reader(o.out);
  EXPECT_EQ(reader.status()[*reader.find("garbage")], VideoStatus::Failed);
  EXPECT_THROW(reader.read("visual", *reader.find("garbage")), core::InputError);
}

TEST(Extractor, ExistingCacheNeedsResumeAndResumeSkipsFinishedVideos) {
  TempDir dir("extract_resume");
  make_videos(dir.path());
  ExtractOptions o = small_options(dir.path());
  extract_features(o);
  EXPECT_THROW(extract_features(o), core::InputError);
  o.resume = true;
  const ExtractSummary again = extract_features(o);
  EXPECT_EQ(again.extracted, 0u);
  EXPECT_EQ(again.skipped, 4u);
  ExtractOptions other = o;
  other.visual = "resnet18-7x7";
  EXPECT_THROW(extract_features(other), core::InputError);  // another backbone: not the same cache
}

// Any TorchScript model serves as a backbone; its output shape decides the cache layout.
TEST(Extractor, TorchScriptBackbones) {
  TempDir dir("extract_script");
  make_videos(dir.path());
  torch::jit::Module pooled("Pooled");
  pooled.register_parameter("scale", torch::full({1}, 2.0), false);
  pooled.define(R"(
def forward(self, x):
    return torch.mean(x, dim=[2, 3]) * self.scale
)");
  pooled.save((dir / "pooled.pt").string());
  ExtractOptions o = small_options(dir.path());
  o.visual = "torchscript:" + (dir / "pooled.pt").string();
  o.audio = "none";
  extract_features(o);
  const FeatureCacheReader reader(o.out);
  ASSERT_EQ(reader.layout().modalities.size(), 1u);
  EXPECT_EQ(reader.layout().modalities[0].segment_shape,
            std::vector<std::uint64_t>{3});  // channel means
  EXPECT_EQ(reader.layout().modalities[0].backbone, "torchscript:pooled.pt");
  EXPECT_EQ(reader.layout().modalities[0].weights.rfind("pooled.pt sha256:", 0), 0u);
  // The silent clip is flat grey 90 (give or take the codec's few levels): normalised means,
  // doubled.
  const auto grey = reader.read("visual", *reader.find("silent"));
  EXPECT_NEAR(grey[0], 2 * (90 / 255.0 - 0.43216) / 0.22803, 0.1);
}

TEST(Extractor, UnknownBackbonesAndMissingWeightsAreClearErrors) {
  TempDir dir("extract_args");
  make_videos(dir.path());
  ExtractOptions o = small_options(dir.path());
  o.visual = "vgg16";
  EXPECT_THROW(extract_features(o), std::invalid_argument);
  o.visual = "resnet18";
  o.visual_weights = dir / "no_such_weights.pt";
  EXPECT_THROW(extract_features(o), core::InputError);
  EXPECT_FALSE(fs::exists(o.out));
}

}  // namespace
}  // namespace avqa::features
