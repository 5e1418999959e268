// avqa ask: a trained run answers a question about a video and shows where and when it looked.
#include "avqa/question_answering.h"

#include <algorithm>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "avqa/trainer.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/features/extractor.h"
#include "datasets/features/feature_cache.h"
#include "datasets/question_text.h"
#include "datasets/sentence_piece.h"
#include "datasets/synthetic/generator.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// One quick epoch on the tiny dataset in <dir>/data, into <dir>/run.
TrainOptions one_epoch(const fs::path& dir, const fs::path& cache, int segments) {
  TrainOptions t;
  t.train = dir / "data/annotations/avqa-train.json";
  t.val = dir / "data/annotations/avqa-val.json";
  t.cache = cache;
  t.out = dir / "run";
  t.epochs = 1;
  t.batch = 8;
  t.segments = segments;
  t.progress = false;
  return t;
}

// Features sampled at 2 per second: the model's 3 segments are rows 0, 2, 4, seconds 0, 1, 2.
// The studio's toggles are the training core's corruptions applied to the clip: zeros for a
// muted or blank modality, Gaussian noise at the SNR of the clip's own power.
TEST(EditedClip, MutesBlanksAndAddsNoiseAtTheAskedSnr) {
  media::SampledClip clip;
  clip.segments = 2;
  clip.frame_size = 4;
  clip.samples_per_segment = 8000;
  clip.frames.assign(2 * 4 * 4 * 3, 200);
  for (int i = 0; i < 16000; ++i)
    clip.audio.push_back(0.1f * std::sin(0.01f * i));
  ModalityEdit mute;
  mute.mute_audio = true;
  const auto muted = edited_clip(clip, mute);
  EXPECT_TRUE(std::all_of(muted.audio.begin(), muted.audio.end(), [](float v) { return v == 0; }));
  EXPECT_EQ(muted.frames, clip.frames);
  ModalityEdit blank;
  blank.blank_video = true;
  const auto blanked = edited_clip(clip, blank);
  EXPECT_TRUE(std::all_of(blanked.frames.begin(), blanked.frames.end(),
                          [](std::uint8_t v) { return v == 0; }));
  EXPECT_EQ(blanked.audio, clip.audio);
  ModalityEdit noisy;
  noisy.noise_snr_db = 10;
  noisy.noise_seed = 3;
  const auto a = edited_clip(clip, noisy);
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < clip.audio.size(); ++i) {
    signal += static_cast<double>(clip.audio[i]) * clip.audio[i];
    noise += std::pow(static_cast<double>(a.audio[i]) - clip.audio[i], 2);
  }
  EXPECT_NEAR(10 * std::log10(signal / noise), 10.0, 0.2);
  EXPECT_EQ(edited_clip(clip, noisy).audio, a.audio);  // the seed decides the noise
  noisy.noise_seed = 4;
  EXPECT_NE(edited_clip(clip, noisy).audio, a.audio);
  media::SampledClip silent = clip;
  std::fill(silent.audio.begin(), silent.audio.end(), 0.f);
  EXPECT_EQ(edited_clip(silent, noisy).audio, silent.audio);  // no signal, no noise
}

TEST(Ask, AnswersWithAttentionAndOverlays) {
  TempDir dir("ask");
  avqa::testing::generate_tiny_dataset(dir.path(), 8, 3, 5);
  const features::ExtractOptions x = avqa::testing::extract_tiny_features(
      dir.path(), 6, /*fps=*/2.0, features::StorageType::Float32);
  TrainOptions t = one_epoch(dir.path(), x.out, 3);
  train(t);

  AskOptions o;
  o.run = dir / "run";
  o.video = dir / "data/videos/syn00002.mp4";
  // A question the run has seen the words of (the tiny training set knows few words).
  const auto train_set = data::load_annotations(t.train);
  o.question = train_set.records[0].question_content;
  o.values = train_set.records[0].templ_values;
  const AskResult r = ask(o);
  EXPECT_EQ(r.segments, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(r.segment_seconds, (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(r.words, train_set.records[0].words);
  EXPECT_EQ(r.spatial_attention.sizes(), (std::vector<std::int64_t>{3, 16}));  // 4x4 maps at 64 px
  EXPECT_NEAR(r.temporal_visual.sum().item<float>(), 1.0f, 1e-4);

  // The answer is the network's on the features the cache holds for this video: ask extracted
  // them again exactly as the cache's recipe says.
  {
    StAvqaNet model = load_run_model(o.run);
    const features::FeatureCacheReader cache(x.out);
    const std::size_t video = cache.find("syn00002").value();
    const auto audio = cache.read("audio", video, {0, 2, 4});
    const auto visual = cache.read("visual", video, {0, 2, 4});
    const data::Vocabularies vocab = data::load_vocabularies(o.run / "vocab.json");
    torch::NoGradGuard no_grad;
    const auto logits =
        model
            ->forward(torch::tensor(audio).reshape({1, 3, -1}),
                      torch::tensor(visual).reshape({1, 3, -1, 4, 4}),
                      torch::tensor(data::encode_question(r.words, vocab)).unsqueeze(0))
            .logits[0];
    const auto probabilities = torch::softmax(logits, 0);
    ASSERT_EQ(r.top5.size(), 5u);
    const auto top = probabilities.topk(5);
    for (std::int64_t j = 0; j < 5; ++j) {
      EXPECT_EQ(r.top5[static_cast<std::size_t>(j)].first,
                vocab.answers.answer(std::get<1>(top)[j].item<std::int64_t>()));
      EXPECT_NEAR(r.top5[static_cast<std::size_t>(j)].second, std::get<0>(top)[j].item<float>(),
                  1e-4);
    }
    EXPECT_EQ(r.answer, r.top5[0].first);

    // Each branch's contribution: the answer's probability with the other branch's fused
    // features zeroed, recomputed here from the network's own pieces.
    const StAvqaOutput parts = model->encode(
        torch::tensor(audio).reshape({1, 3, -1}), torch::tensor(visual).reshape({1, 3, -1, 4, 4}),
        torch::tensor(data::encode_question(r.words, vocab)).unsqueeze(0));
    const auto answer = std::get<1>(top)[0].item<std::int64_t>();
    const auto p = [&](bool a, bool v) {
      return torch::softmax(
                 model->answer(a ? parts.audio_features : torch::zeros_like(parts.audio_features),
                               v ? parts.visual_features : torch::zeros_like(parts.visual_features),
                               parts.question_features)[0],
                 0)[answer]
          .item<double>();
    };
    const ModalityContribution& c = r.contribution;
    EXPECT_NEAR(c.both, r.top5[0].second, 1e-5);
    EXPECT_NEAR(c.audio_only, p(true, false), 1e-5);
    EXPECT_NEAR(c.visual_only, p(false, true), 1e-5);
    EXPECT_NEAR(c.neither, p(false, false), 1e-5);
    EXPECT_NEAR(c.audio, 0.5 * (p(true, false) - p(false, false) + p(true, true) - p(false, true)),
                1e-5);
    EXPECT_NEAR(c.audio + c.visual, c.both - c.neither, 1e-9);
  }
  const auto files = write_overlays(r, dir / "overlay");
  EXPECT_EQ(files.size(), 4u);
  for (const auto& f : files)
    EXPECT_GT(fs::file_size(f), 0u) << f;

  // The run answers on its own: moved elsewhere, its training cache deleted.
  fs::create_directories(dir / "elsewhere");
  fs::rename(dir / "run", dir / "elsewhere/run");
  fs::remove(x.out);
  AskOptions moved = o;
  moved.run = dir / "elsewhere/run";
  const AskResult again = ask(moved);
  ASSERT_EQ(again.top5.size(), r.top5.size());
  for (std::size_t j = 0; j < r.top5.size(); ++j) {
    EXPECT_EQ(again.top5[j].first, r.top5[j].first);
    EXPECT_NEAR(again.top5[j].second, r.top5[j].second, 1e-6);
  }
  o.run = moved.run;

  // The studio's way: the run opened once, the video prepared once, then questions and modality
  // edits without extracting what did not change.
  {
    const VideoAnswerer answerer({o.run, {}, {}});
    std::vector<double> fractions;
    const PreparedVideo video =
        answerer.prepare(o.video, {}, [&](double fraction, const std::string&) {
          fractions.push_back(fraction);
          return true;
        });
    ASSERT_GE(fractions.size(), 3u);
    EXPECT_EQ(fractions.front(), 0.0);
    EXPECT_EQ(fractions.back(), 1.0);
    EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end()));
    const AskResult same = answerer.answer(video, answerer.encode(o.question, o.values));
    ASSERT_EQ(same.top5.size(), r.top5.size());
    for (std::size_t j = 0; j < r.top5.size(); ++j) {
      EXPECT_EQ(same.top5[j].first, r.top5[j].first);
      EXPECT_NEAR(same.top5[j].second, r.top5[j].second, 1e-6);
    }
    ModalityEdit mute;
    mute.mute_audio = true;
    const PreparedVideo muted = answerer.edited(video, mute);
    EXPECT_TRUE(torch::equal(muted.visual, video.visual));
    EXPECT_FALSE(torch::allclose(muted.audio, video.audio));
    EXPECT_TRUE(torch::allclose(muted.audio, answerer.prepare(o.video, mute).audio, 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(answerer.edited(muted, {}).audio, video.audio, 1e-5, 1e-6));
    ModalityEdit blank;
    blank.blank_video = true;
    const PreparedVideo blanked = answerer.edited(video, blank);
    EXPECT_TRUE(torch::equal(blanked.audio, video.audio));
    EXPECT_FALSE(torch::allclose(blanked.visual, video.visual));
    // The lower the SNR, the further the audio features move.
    const auto moved_by = [&](double snr) {
      ModalityEdit noisy;
      noisy.noise_snr_db = snr;
      return (answerer.edited(video, noisy).audio - video.audio).norm().item<double>();
    };
    EXPECT_GT(moved_by(0), moved_by(30));
    EXPECT_GT(moved_by(30), 0);
    EXPECT_THROW(
        answerer.prepare(o.video, {},
                         [](double fraction, const std::string&) { return fraction < 0.5; }),
        PreparationCancelled);
    // An attack on the decoded input, through the backbones: radius 0 answers as clean; a
    // large one on either modality lowers the clean answer's probability, and says how far it
    // moved the input.
    const EncodedQuestion question = answerer.encode(o.question, o.values);
    VideoAttack none;
    none.radius = 0;
    const AskResult unmoved = answerer.answer_under_attack(video, question, none);
    EXPECT_EQ(unmoved.answer, r.answer);
    EXPECT_NEAR(unmoved.top5[0].second, r.top5[0].second, 1e-5);
    for (const std::string modality : {"audio", "visual"}) {
      SCOPED_TRACE(modality);
      VideoAttack attack;
      attack.modality = modality;
      attack.radius = 0.5;
      attack.steps = 5;
      const AskResult attacked = answerer.answer_under_attack(video, question, attack);
      double clean_answer = 0;
      for (const auto& [answer, p] : attacked.top5)
        if (answer == r.answer) clean_answer = p;
      EXPECT_LT(clean_answer, r.top5[0].second);
      ASSERT_FALSE(attacked.notes.empty());
      EXPECT_NE(attacked.notes.back().find("decoded " + modality), std::string::npos)
          << attacked.notes.back();
      // Inside the ball: PGD's steps need not reach its edge.
      const std::string& note = attacked.notes.back();
      const auto at = note.find(" % of its norm");
      ASSERT_NE(at, std::string::npos) << note;
      const double share = std::stod(note.substr(note.rfind('(', at) + 1));
      EXPECT_GT(share, 0) << note;
      EXPECT_LE(share, 50.0 + 1e-9) << note;
    }
    // A radius far beyond the pixels' range: the attacked frames stay valid pixels, so the input
    // moves much less than the 100-fold radius allows (unclamped, PGD ends on the ball's edge).
    {
      VideoAttack wild;
      wild.modality = "visual";
      wild.radius = 100;
      wild.steps = 3;
      const std::string note = answerer.answer_under_attack(video, question, wild).notes.back();
      const auto at = note.find(" % of its norm");
      ASSERT_NE(at, std::string::npos) << note;
      const double share = std::stod(note.substr(note.rfind('(', at) + 1));
      EXPECT_GT(share, 0) << note;
      EXPECT_LT(share, 1000.0) << note;
    }
    VideoAttack odd;
    odd.modality = "smell";
    EXPECT_THROW(answerer.answer_under_attack(video, question, odd), std::invalid_argument);
  }

  o.question = "Where is the banjoist?";
  o.values.clear();
  try {
    ask(o);
    FAIL() << "answered a question with an unknown word";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'banjoist'"), std::string::npos) << e.what();
  }
  // The run learnt from random-init features: real weights of another ResNet-18 load fine but
  // would give other features, and the recorded hash says so.
  o.question = train_set.records[0].question_content;
  o.values = train_set.records[0].templ_values;
  {
    torch::manual_seed(99);
    features::ResNet18 other;
    checkpoint::NamedTensors weights;
    for (const auto& p : other->named_parameters())
      weights.emplace_back(p.key(), p.value());
    for (const auto& b : other->named_buffers())
      weights.emplace_back(b.key(), b.value());
    checkpoint::write_torch_state_dict(dir / "other-resnet18.pt", weights);
  }
  o.visual_weights = dir / "other-resnet18.pt";
  try {
    ask(o);
    FAIL() << "answered with features of other weights";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("random-init"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("other-resnet18.pt sha256:"), std::string::npos)
        << e.what();
  }
  // A file that is not weights at all is refused by the validating reader, naming it.
  o.visual_weights = dir / "data/videos/syn00000.mp4";
  try {
    ask(o);
    FAIL() << "took a video as weights";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("syn00000.mp4"), std::string::npos) << e.what();
  }
}

// With a SentencePiece tokenizer the run reads questions whose words it never saw.
TEST(Ask, TokenizedRunAnswersFreeFormWording) {
  avqa::testing::use_built_sentence_piece_helper();
  TempDir dir("ask_pieces");
  avqa::testing::generate_tiny_dataset(dir.path(), 6, 2, 8);
  const features::ExtractOptions x = avqa::testing::extract_tiny_features(dir.path(), 2);
  TrainOptions t = one_epoch(dir.path(), x.out, 2);
  data::SentencePieceTrainOptions s;
  for (const auto& r : data::load_annotations(t.train).records)
    s.sentences.push_back(data::question_sentence(r.words));
  s.out = dir / "tokenizer/q.model";
  s.vocab_size = 120;
  data::train_sentence_piece(s);
  t.tokenizer = s.out;
  t.tokenizer_max_length = 80;  // a tokenizer of a few dozen questions splits words finely
  train(t);

  // The run holds its own copy of the model: deleting the original changes nothing.
  fs::remove_all(dir / "tokenizer");
  const data::Vocabularies vocab = data::load_vocabularies(dir / "run/vocab.json");
  ASSERT_TRUE(vocab.pieces.has_value());
  EXPECT_EQ(vocab.pieces->model, dir / "run/tokenizer.model");
  AskOptions o;
  o.run = dir / "run";
  o.video = dir / "data/videos/syn00001.mp4";
  o.question = "Where is the banjoist?";  // a word no training question has
  const AskResult r = ask(o);
  EXPECT_EQ(r.words, (std::vector<std::string>{"Where", "is", "the", "banjoist"}));
  std::string joined;
  for (const auto& piece : r.pieces)
    joined += piece;
  EXPECT_EQ(joined,
            "\xE2\x96\x81Where\xE2\x96\x81is\xE2\x96\x81the\xE2\x96\x81"
            "banjoist");
}

}  // namespace
}  // namespace avqa::net
