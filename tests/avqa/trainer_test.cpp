// avqa::net::train on a tiny generated dataset: files of a run, exact resumption, evaluation.
#include "avqa/trainer.h"

#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/evaluation.h"
#include "avqa/robust_evaluation.h"
#include "avqa/run_folder.h"
#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/features/extractor.h"
#include "datasets/synthetic/generator.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

void make_data(const fs::path& dir) {
  avqa::testing::generate_tiny_dataset(dir, 12, 2, 21, {0.5, 0.5, 0.0}, 4);
  avqa::testing::extract_tiny_features(dir, 2);
}

TrainOptions options(const fs::path& dir, const std::string& run, int epochs) {
  TrainOptions o;
  o.train = dir / "data/annotations/avqa-train.json";
  o.val = dir / "data/annotations/avqa-val.json";
  o.cache = dir / "data/features.h5";
  o.out = dir / run;
  o.epochs = epochs;
  o.batch = 8;
  o.segments = 2;
  o.lr_step = 1;  // the learning rate changes between epochs: resumption must restore it
  o.progress = false;
  return o;
}

TEST(Trainer, WritesTheRunAndResumesExactly) {
  TempDir dir("trainer");
  make_data(dir.path());
  const TrainReport straight = train(options(dir.path(), "straight", 2));
  ASSERT_EQ(straight.epochs.size(), 2u);
  EXPECT_NEAR(straight.epochs[1].learning_rate, 1e-5, 1e-12);
  for (const char* file : {"vocab.json", "config.json", "best.pt", "epoch-2.pt", "epoch-2.optim",
                           "metrics.jsonl", "state.json"}) {
    EXPECT_TRUE(fs::exists(dir / "straight" / file)) << file;
  }
  EXPECT_FALSE(fs::exists(dir / "straight/epoch-1.pt"));  // only the last epoch is kept
  std::ifstream metrics(dir / "straight/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    const auto m = nlohmann::json::parse(line);
    EXPECT_EQ(m["epoch"], ++lines);
    EXPECT_GE(m["val_accuracy"].get<double>(), 0.0);
  }
  EXPECT_EQ(lines, 2);

  // One epoch, stop, resume to two: the same weights as the uninterrupted run.
  train(options(dir.path(), "resumed", 1));
  const std::string vocab_before = data::read_text_file(dir / "resumed/vocab.json");
  const std::string options_before = data::read_text_file(dir / "resumed/run.json");
  TrainOptions other_questions = options(dir.path(), "resumed", 2);
  other_questions.train = other_questions.val;             // would build another vocabulary
  EXPECT_THROW(train(other_questions), core::InputError);  // a run is there: needs --resume
  EXPECT_EQ(data::read_text_file(dir / "resumed/vocab.json"), vocab_before);  // and stays as it was
  EXPECT_EQ(data::read_text_file(dir / "resumed/run.json"), options_before);
  TrainOptions again = options(dir.path(), "resumed", 2);
  again.resume = true;
  const TrainReport resumed = train(again);
  ASSERT_EQ(resumed.epochs.size(), 2u);
  const auto a = checkpoint::read_torch_state_dict(dir / "straight/epoch-2.pt");
  const auto b = checkpoint::read_torch_state_dict(dir / "resumed/epoch-2.pt");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  EXPECT_DOUBLE_EQ(resumed.epochs[1].val_accuracy, straight.epochs[1].val_accuracy);
}

// The loop train() ran before the training core existed (avqa/trainer.cpp until the core moved
// it to core/train), written out here: the same seed must give the same metrics and weights.
TEST(Trainer, TheTrainingCoreRepeatsTheLoopItReplaced) {
  TempDir dir("trainer_core");
  make_data(dir.path());
  const TrainOptions o = options(dir.path(), "core", 2);
  const TrainReport report = train(o);

  const auto vocab = data::load_vocabularies(dir / "core/vocab.json");
  auto cache = std::make_shared<const features::FeatureCacheReader>(o.cache);
  const QaDataset train_data(data::load_annotations(o.train), vocab, cache, o.segments);
  const QaDataset val_data(data::load_annotations(o.val), vocab, cache, o.segments);
  StAvqaOptions widths;
  widths.vocab_size = data::question_vocabulary_size(vocab);
  widths.answers = static_cast<std::int64_t>(vocab.answers.size());
  const QaBatch probe = train_data.load({0}, false, 0);
  widths.audio_dim = probe.audio.size(2);
  widths.visual_channels = widths.hidden = probe.visual.size(2);
  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  StAvqaNet model(widths);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(o.learning_rate));
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    torch::manual_seed(static_cast<std::int64_t>(o.seed * 1000003 + epoch));
    const double lr = o.learning_rate * std::pow(o.lr_gamma, (epoch - 1) / o.lr_step);
    for (auto& group : adam.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    std::vector<std::size_t> order(train_data.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(o.seed * 7919 + static_cast<std::uint64_t>(epoch));
    for (std::size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[rng() % i]);
    model->train();
    double loss_sum = 0;
    std::size_t correct = 0;
    const auto batch = static_cast<std::size_t>(o.batch);
    for (std::size_t step = 0; step * batch < order.size(); ++step) {
      const std::vector<std::size_t> indices(
          order.begin() + static_cast<std::ptrdiff_t>(step * batch),
          order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), (step + 1) * batch)));
      const QaBatch b = train_data.load(
          indices, true, o.seed * 31 + static_cast<std::uint64_t>(epoch) * 100003 + step);
      adam.zero_grad();
      const StAvqaOutput out = model->forward(b.audio, b.visual, b.question, b.visual_negative);
      const auto loss = training_loss(out, b.label, o.match_weight);
      loss.backward();
      adam.step();
      loss_sum += loss.item<double>() * static_cast<double>(indices.size());
      correct +=
          static_cast<std::size_t>((out.logits.argmax(1) == b.label).sum().item<std::int64_t>());
    }
    const Evaluation val = evaluate(model, val_data, o.batch);
    const auto& m = report.epochs.at(static_cast<std::size_t>(epoch - 1));
    const auto n = static_cast<double>(order.size());
    EXPECT_DOUBLE_EQ(m.train_loss, loss_sum / n) << "epoch " << epoch;
    EXPECT_DOUBLE_EQ(m.train_accuracy, static_cast<double>(correct) / n) << "epoch " << epoch;
    EXPECT_DOUBLE_EQ(m.val_accuracy, val.accuracy.accuracy().value_or(0.0)) << "epoch " << epoch;
  }
  StAvqaNet saved(widths);
  load_model_weights(saved, dir / "core/epoch-2.pt");
  const auto expected = model->named_parameters();
  for (const auto& p : saved->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), expected[p.key()])) << p.key();
  // The core's diagnostics were recorded for both branches.
  ASSERT_EQ(report.epochs[1].modalities.size(), 2u);
  EXPECT_EQ(report.epochs[1].modalities[1].modality, "visual");
}

TEST(Trainer, ConfigFileSetsOptionsAndNamesBadKeys) {
  TempDir dir("train_config");
  fs::create_directories(dir / "configs");
  {
    // An absolute path (inside the test's own folder) is taken as it is.
    const std::string absolute_val = (dir / "elsewhere/val.json").string();
    std::ofstream(dir / "configs/run.json")
        << R"({"train": "../data/train.json", "val": ")" << absolute_val << R"(",
        "epochs": 7, "lr": 0.0003, "batch": 16, "match_weight": 0, "seed": 9, "heads": 8,
        "question_only": true, "duplicates": "keep-first", "threads": 2})";
  }
  const TrainConfig c = load_train_config(dir / "configs/run.json");
  EXPECT_EQ(c.options.train, dir / "configs/../data/train.json");  // relative to the file
  EXPECT_EQ(c.options.val, dir / "elsewhere/val.json");
  EXPECT_EQ(c.options.epochs, 7);
  EXPECT_DOUBLE_EQ(c.options.learning_rate, 3e-4);
  EXPECT_EQ(c.options.batch, 16);
  EXPECT_DOUBLE_EQ(c.options.match_weight, 0.0);
  EXPECT_EQ(c.options.seed, 9u);
  EXPECT_EQ(c.options.heads, 8);
  EXPECT_TRUE(c.options.question_only);
  EXPECT_EQ(c.options.duplicates, data::DuplicatePolicy::KeepFirst);
  EXPECT_EQ(c.options.threads, 2);
  EXPECT_EQ(c.options.lr_step, TrainOptions{}.lr_step);  // silent keys keep the defaults
  EXPECT_EQ(c.keys.count("epochs"), 1u);
  EXPECT_EQ(c.keys.count("lr_step"), 0u);

  // What a run keeps in run.json loads back to the same options.
  std::ofstream(dir / "effective.json") << train_config_json(c.options);
  const TrainConfig back = load_train_config(dir / "effective.json");
  EXPECT_EQ(back.options.train, fs::absolute(c.options.train).lexically_normal());
  EXPECT_EQ(back.options.epochs, 7);
  EXPECT_EQ(back.options.duplicates, data::DuplicatePolicy::KeepFirst);
  EXPECT_TRUE(back.options.question_only);
  EXPECT_EQ(back.options.threads, 2);
  EXPECT_EQ(back.options.heads, 8);
  EXPECT_EQ(back.options.seed, 9u);

  const std::pair<const char*, const char*> bad[] = {{R"({"epoch": 3})", "epoch"},
                                                     {R"({"epochs": "3"})", "epochs"},
                                                     {R"({"lr": -1})", "lr"},
                                                     {R"({"question_only": 1})", "question_only"},
                                                     {R"({"duplicates": "all"})", "duplicates"},
                                                     {R"({"train": ""})", "train"}};
  for (const auto& [text, key] : bad) {
    std::ofstream(dir / "bad.json") << text;
    try {
      load_train_config(dir / "bad.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const core::InputError& e) {
      EXPECT_EQ(e.where().field, key) << text;
      EXPECT_EQ(e.where().file, (dir / "bad.json").string());
    }
  }
  std::ofstream(dir / "bad.json") << "[1, 2";
  EXPECT_THROW(load_train_config(dir / "bad.json"), core::InputError);
}

// One declaration makes the flags, the file keys and the merge: a flag given on the command line
// wins, the file wins over defaults, command-line-only options always come from the flags.
TEST(Trainer, FlagsOverrideTheConfigFileOptionByOption) {
  TrainConfig file;
  file.options.epochs = 7;
  file.options.learning_rate = 3e-4;
  file.options.train = "from-file.json";
  file.options.keep_weights = {"a.pt"};
  TrainOptions flags;
  flags.epochs = 2;
  flags.learning_rate = 1e-3;
  flags.train = "from-flag.json";
  flags.resume = true;
  flags.keep_weights = {"b.pt", "c.pt"};
  const TrainOptions merged = merge_train_options(file, flags, [](const std::string& name) {
    return name == "epochs" || name == "keep-weights";
  });
  EXPECT_EQ(merged.epochs, 2);                   // given: the flag
  EXPECT_DOUBLE_EQ(merged.learning_rate, 3e-4);  // not given: the file
  EXPECT_EQ(merged.train, fs::path("from-file.json"));
  EXPECT_EQ(merged.keep_weights, (std::vector<fs::path>{"b.pt", "c.pt"}));
  EXPECT_TRUE(merged.resume);  // never in a file
  // Every option in the table round-trips through a file, none is listed twice.
  std::set<std::string> keys;
  for (const auto& spec : train_option_specs())
    EXPECT_TRUE(keys.insert(spec.key()).second) << spec.key();
  EXPECT_EQ(keys.count("lr_step"), 1u);
  EXPECT_EQ(keys.count("keep_weights"), 1u);
}

// Grounding scores: attention put by hand exactly where the truth says the sound is scores 100 %;
// the trained model's real attention scores whatever it scores, within [0, 1].
TEST(Trainer, GroundingScoresAgainstTheTruth) {
  TempDir dir("trainer_grounding");
  make_data(dir.path());
  train(options(dir.path(), "run", 1));
  StAvqaNet model = load_run_model(dir / "run");
  const auto set = data::load_annotations(dir / "data/annotations/avqa-val.json");
  const auto vocab = data::load_vocabularies(dir / "run/vocab.json");
  auto cache = std::make_shared<const features::FeatureCacheReader>(dir / "data/features.h5");
  const QaDataset dataset(set, vocab.words, vocab.answers, cache, 2);
  Evaluation e = evaluate(model, dataset, 8);
  const GroundingScores real = grounding_scores(e, dataset, dir / "data/truth", {0, 1}, 64);

  // Uniform temporal attention puts on sounding seconds exactly their share: the chance level.
  Evaluation uniform = e;
  for (auto& t : uniform.temporal_visual)
    t = torch::full({2}, 0.5f);
  const GroundingScores flat = grounding_scores(uniform, dataset, dir / "data/truth", {0, 1}, 64);
  EXPECT_NEAR(flat.temporal_mass, flat.temporal_chance, 1e-9);

  // Perfect attention: the patch holding the centre of a visible instrument sounding then, and
  // all temporal weight on sounding seconds.
  for (std::size_t q = 0; q < dataset.size(); ++q) {
    const auto truth =
        nlohmann::json::parse(std::ifstream(dir / "data/truth" / (dataset.video_id(q) + ".json")));
    const double scale = 64.0 / truth["width"].get<double>();
    auto spatial = torch::zeros({2, 16});
    auto temporal = torch::zeros({2});
    int sounding_seconds = 0;
    for (int s = 0; s < 2; ++s) {
      for (const auto& inst : truth["instruments"]) {
        if (!inst["visible"].get<bool>() || inst["sounding_per_second"][s].get<int>() != 1)
          continue;
        const auto& b = inst["box_per_second"][s];
        const double cx = 0.5 * (b[0].get<double>() + b[2].get<double>()) * scale;
        const double cy = 0.5 * (b[1].get<double>() + b[3].get<double>()) * scale;
        spatial[s][static_cast<std::int64_t>(cy / 16) * 4 + static_cast<std::int64_t>(cx / 16)] = 1;
        temporal[s] = 1;
        ++sounding_seconds;
        break;
      }
    }
    e.spatial_attention[q] = spatial;
    e.temporal_visual[q] = sounding_seconds > 0 ? temporal / sounding_seconds : temporal;
  }
  const GroundingScores perfect = grounding_scores(e, dataset, dir / "data/truth", {0, 1}, 64);
  ASSERT_GT(perfect.pointing_segments, 0u) << "the fixed seed gives sounding visible instruments";
  EXPECT_GT(perfect.pointing_accuracy,
            0.6);  // a box centre falls in its own box unless covered by another's cell edge
  EXPECT_NEAR(perfect.temporal_mass, 1.0, 1e-6);
  // A peak on a sounding instrument is a peak on a visible one.
  EXPECT_GE(perfect.pointing_any_instrument, perfect.pointing_accuracy);
  EXPECT_GE(real.pointing_any_instrument, real.pointing_accuracy);
  EXPECT_LE(real.pointing_any_instrument, 1.0);
  // What is scored and what chance is depend on the truth alone, not on the attention.
  EXPECT_EQ(real.pointing_segments, perfect.pointing_segments);
  EXPECT_DOUBLE_EQ(real.pointing_chance, perfect.pointing_chance);

  // Per template: every question once, the right answers as the per-type table counts them, and
  // each question with a scored segment either pointed or missed by its own pointing share.
  ASSERT_EQ(perfect.question_pointing.size(), dataset.size());
  std::size_t scored = 0;
  for (const double share : perfect.question_pointing) {
    EXPECT_LE(share, 1.0);
    scored += share >= 0 ? 1 : 0;
  }
  ASSERT_GT(scored, 0u);
  GroundingScores all_hit = perfect, all_missed = perfect;
  for (std::size_t q = 0; q < dataset.size(); ++q) {
    if (perfect.question_pointing[q] < 0) continue;
    all_hit.question_pointing[q] = 1.0;
    all_missed.question_pointing[q] = 0.0;
  }
  std::size_t questions = 0, correct = 0, pointed = 0, missed = 0;
  for (const TemplateScore& t : template_scores(e, dataset, set, &all_hit)) {
    questions += t.questions;
    correct += t.correct;
    pointed += t.pointed;
    missed += t.missed;
    EXPECT_LE(t.pointed_correct, t.correct);
  }
  EXPECT_EQ(questions, dataset.size());
  EXPECT_EQ(correct, e.accuracy.correct());
  EXPECT_EQ(pointed, scored);
  EXPECT_EQ(missed, 0u);
  for (const TemplateScore& t : template_scores(e, dataset, set, &all_missed))
    EXPECT_EQ(t.pointed, 0u);
  for (const TemplateScore& t : template_scores(e, dataset, set, nullptr))
    EXPECT_EQ(t.pointed + t.missed, 0u);

  // A truth file that lost a field: the error names the file and the field.
  const fs::path broken = dir / "data/truth" / (dataset.video_id(0) + ".json");
  auto doc = nlohmann::json::parse(std::ifstream(broken));
  doc["instruments"][0].erase("sounding_per_second");
  core::write_file_atomically(broken, doc.dump());
  try {
    grounding_scores(e, dataset, dir / "data/truth", {0, 1}, 64);
    ADD_FAILURE() << "a truth file without sounding_per_second was scored";
  } catch (const core::InputError& error) {
    EXPECT_EQ(error.where().file, broken.string());
    EXPECT_EQ(error.where().field, "instruments[0]");
    EXPECT_NE(std::string(error.what()).find("sounding_per_second"), std::string::npos)
        << error.what();
  }
}

// A run trained with position codes and question grounding answers with them: the flags travel
// in config.json (a model rebuilt without them would answer differently: StAvqaNet's tests).
TEST(Trainer, PositionCodesAndQuestionGroundingTravelWithTheRun) {
  TempDir dir("trainer_position_codes");
  make_data(dir.path());
  TrainOptions o = options(dir.path(), "coded", 1);
  o.position_codes = true;
  o.position_code_scale = 0.5;
  o.question_grounding = true;
  train(o);
  const RunConfig coded = load_run_config(o.out);
  EXPECT_TRUE(coded.widths.position_codes);
  EXPECT_DOUBLE_EQ(coded.widths.position_code_scale, 0.5);
  EXPECT_TRUE(coded.widths.question_grounding);
  // The run's weights load into the network its config describes (fc_qg among them).
  EXPECT_TRUE(load_run_model(o.out, coded)->named_parameters().contains("fc_qg.weight"));
  TrainOptions p = options(dir.path(), "plain", 1);
  train(p);
  EXPECT_FALSE(load_run_config(p.out).widths.position_codes);
  EXPECT_FALSE(load_run_config(p.out).widths.question_grounding);
}

TEST(Trainer, QuestionOnlyBaselineSeesNoMedia) {
  TempDir dir("trainer_q");
  make_data(dir.path());
  const auto set = data::load_annotations(dir / "data/annotations/avqa-train.json");
  const auto words = data::WordVocabulary::build({set});
  const data::AnswerVocabulary answers(data::music_avqa_answers());
  auto cache = std::make_shared<const features::FeatureCacheReader>(dir / "data/features.h5");
  const QaDataset dataset(set, words, answers, cache, 2);
  const QaBatch full = dataset.load({0, 1, 2}, true, 5);
  const QaBatch blind = dataset.load({0, 1, 2}, true, 5, /*zero_media=*/true);
  EXPECT_GT(full.visual.abs().sum().item<float>(), 0.f);
  EXPECT_EQ(blind.audio.abs().sum().item<float>(), 0.f);
  EXPECT_EQ(blind.visual.abs().sum().item<float>(), 0.f);
  EXPECT_EQ(blind.visual_negative.abs().sum().item<float>(), 0.f);
  EXPECT_TRUE(torch::equal(blind.question, full.question));
  EXPECT_TRUE(torch::equal(blind.label, full.label));

  TrainOptions o = options(dir.path(), "qonly", 1);
  o.question_only = true;
  train(o);
  const auto config = nlohmann::json::parse(std::ifstream(dir / "qonly/config.json"));
  EXPECT_TRUE(config["question_only"].get<bool>());
  EXPECT_EQ(config["segments"].get<int>(), 1);

  // Question-only runs train on 1x1 zero maps whatever the cache holds. That is only right if a
  // training step on the cache's zero maps is the same step: loss and every gradient.
  {
    const QaDataset no_cache(set, words, answers, nullptr, 2);
    const QaBatch tiny = no_cache.load({0, 1, 2}, true, 5, /*zero_media=*/true);
    ASSERT_EQ(tiny.visual.size(3), 1);
    ASSERT_GT(blind.visual.size(3), 1);
    StAvqaOptions w;
    w.vocab_size = static_cast<std::int64_t>(words.size());
    w.audio_dim = full.audio.size(2);
    w.visual_channels = w.hidden = full.visual.size(2);
    torch::manual_seed(2);
    StAvqaNet net(w);
    net->train();
    auto step = [&](const QaBatch& b) {
      net->zero_grad();
      torch::manual_seed(11);  // the same dropout masks
      const auto loss = training_loss(
          net->forward(b.audio, b.visual, b.question, b.visual_negative), b.label, 0.5);
      loss.backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : net->parameters())
        grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
      return std::pair{loss.item<double>(), grads};
    };
    const auto [large_loss, large_grads] = step(blind);
    const auto [small_loss, small_grads] = step(tiny);
    EXPECT_NEAR(small_loss, large_loss, 1e-6);
    for (std::size_t i = 0; i < large_grads.size(); ++i)
      EXPECT_TRUE(torch::allclose(small_grads[i], large_grads[i], 1e-5, 1e-6)) << i;

    // ... and on one segment of zeros instead of two (what the run recorded above): the same
    // answers, and without dropout the same loss and gradients.
    const QaBatch one = QaDataset(set, words, answers, nullptr, 1).load({0, 1, 2}, true, 5, true);
    ASSERT_EQ(one.visual.size(1), 1);
    ASSERT_EQ(tiny.visual.size(1), 2);
    {
      torch::NoGradGuard no_grad;
      net->eval();
      EXPECT_TRUE(torch::allclose(net->forward(one.audio, one.visual, one.question).logits,
                                  net->forward(tiny.audio, tiny.visual, tiny.question).logits, 1e-5,
                                  1e-6));
    }
    w.dropout = 0;
    torch::manual_seed(3);
    net = StAvqaNet(w);
    net->train();
    const auto [two_loss, two_grads] = step(tiny);
    const auto [one_loss, one_grads] = step(one);
    EXPECT_NEAR(one_loss, two_loss, 1e-6);
    for (std::size_t i = 0; i < two_grads.size(); ++i)
      EXPECT_TRUE(torch::allclose(one_grads[i], two_grads[i], 1e-5, 1e-6)) << i;
  }

  // Without any feature cache (annotations whose videos are not at hand) a question-only run
  // trains too, and its run folder records no features: nothing to extract when answering.
  TrainOptions blind_run = options(dir.path(), "blind", 1);
  blind_run.question_only = true;
  blind_run.cache.clear();
  train(blind_run);
  EXPECT_FALSE(load_run_config(dir / "blind").features.has_value());
  EXPECT_TRUE(load_run_config(dir / "qonly").features.has_value());
  TrainOptions needs_cache = options(dir.path(), "needs", 1);
  needs_cache.cache.clear();
  EXPECT_THROW(train(needs_cache), std::invalid_argument);
}

// robust-eval answers the clean condition exactly as eval does (the same model through the
// training core's interface), and every corruption the report lists changes the inputs it names.
TEST(Trainer, RobustEvaluationIsCleanAsEvalAndListsEveryCondition) {
  TempDir dir("trainer_robust");
  make_data(dir.path());
  train(options(dir.path(), "run", 2));
  EvalOptions e;
  e.run = dir / "run";
  e.annotations = dir / "data/annotations/avqa-val.json";  // the tiny set has no test split
  e.batch = 5;  // batches of the core's loop and of eval's differ: the answers must not
  const EvalReport eval = evaluate_run(e);
  train::RobustEvalOptions r;
  r.radii = {0.1};
  r.relative = true;
  r.snr_db = {0};
  std::vector<std::string> seen;
  const RobustEvalRun robust =
      robust_evaluate_run(e, r, [&](const std::string& label) { seen.push_back(label); });
  const auto& conditions = robust.report.conditions;
  ASSERT_EQ(conditions.size(), 12u);  // clean, 2 attacks, 2 x (zeros, mean, drop), 2 noise, quality
  EXPECT_EQ(seen.size(), conditions.size());
  EXPECT_EQ(conditions[0].kind, "clean");
  EXPECT_NEAR(conditions[0].accuracy, eval.accuracy.accuracy().value(), 1e-12);
  const std::vector<double> per_type =
      train::group_accuracy(conditions[0].correct, robust.types, robust.type_order);
  for (std::size_t t = 0; t < data::kNumQuestionTypes; ++t) {
    const auto expected = eval.accuracy.accuracy(data::kAllQuestionTypes[t]);
    EXPECT_NEAR(per_type[t], expected.value_or(0.0), 1e-12) << robust.type_order[t];
  }
  EXPECT_EQ(robust.types.size(), eval.questions);
  EXPECT_EQ(robust.type_order.size(), data::kNumQuestionTypes);
  // A PGD attack of a tenth of the input's norm on either modality never helps the model.
  EXPECT_LE(conditions[1].accuracy, conditions[0].accuracy);
  EXPECT_LE(conditions[2].accuracy, conditions[0].accuracy);
  EXPECT_EQ(conditions[5].kind, "drop");
  EXPECT_EQ(conditions[5].modality, "audio");

  TrainOptions q = options(dir.path(), "qonly", 1);
  q.question_only = true;
  train(q);
  e.run = dir / "qonly";
  try {
    robust_evaluate_run(e, r);
    ADD_FAILURE() << "a question-only run was attacked";
  } catch (const core::InputError& error) {
    EXPECT_NE(std::string(error.what()).find("question_only"), std::string::npos) << error.what();
  }
}

// --robust crmt: the run keeps phase 1's best weights, phase 2 changes only the head's integration
// weights, and robust-eval adds certified accuracy that never exceeds what the attack leaves.
TEST(Trainer, CrmtRunIsCertifiedAndRobustEvalReportsIt) {
  TempDir dir("trainer_crmt");
  make_data(dir.path());
  TrainOptions o = options(dir.path(), "crmt", 2);
  o.robust = "crmt";
  o.crmt_epochs = 2;
  o.crmt_lr_scale = 100;  // two epochs of a tiny set must move the weights visibly
  train(o);
  EXPECT_TRUE(load_run_config(o.out).widths.crmt_head);
  ASSERT_TRUE(fs::exists(o.out / "crmt.json"));
  const RunConfig config = load_run_config(o.out);
  StAvqaNet phase_one = load_run_model(o.out, config);
  load_model_weights(phase_one, o.out / "best-phase1.pt");
  const StAvqaNet certified = load_run_model(o.out, config);
  const auto before = phase_one->named_parameters();
  std::size_t changed = 0;
  for (const auto& p : certified->named_parameters()) {
    if (torch::equal(p.value(), before[p.key()])) continue;
    ++changed;
    EXPECT_EQ(p.key(), "crmt.integration");
  }
  EXPECT_EQ(changed, 1u);

  EvalOptions e;
  e.run = o.out;
  e.annotations = dir / "data/annotations/avqa-val.json";
  train::RobustEvalOptions r;
  r.radii = {0.02};
  r.relative = true;
  r.missing = false;
  r.snr_db = {};
  r.quality_probability = 0;
  const RobustEvalRun robust = robust_evaluate_run(e, r);
  std::map<std::string, double> accuracy;
  for (const auto& c : robust.report.conditions)
    accuracy[c.kind + "/" + c.modality] = c.accuracy;
  ASSERT_EQ(accuracy.size(), 6u);  // clean, 2 attacks, certified on all inputs and each
  EXPECT_LE(accuracy["certified/audio"], accuracy["pgd-l2/audio"]);
  EXPECT_LE(accuracy["certified/visual"], accuracy["pgd-l2/visual"]);
  EXPECT_LE(accuracy["certified/"],
            std::min(accuracy["certified/audio"], accuracy["certified/visual"]));

  TrainOptions mix = options(dir.path(), "mix", 1);
  mix.robust = "crmt-mix";
  EXPECT_THROW(train(mix), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::net
