// Runs the real `avqa` executable: exit codes and messages are part of its contract.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/original_checkpoint.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "datasets/annotations.h"
#include "datasets/features/feature_cache.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"

namespace {

using avqa::testing::fixture;
namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs avqa with `args`, under `env` (VAR=value ...) and otherwise without the settings avqa
// chooses itself, so each call tunes its own process as a user's would.
// The tool as a user starts it: without the tuning this test process (or the user's shell) put
// in the environment, so the tool makes its own choices (kernels, waiting, malloc) every time.
constexpr const char* kPlainEnv =
    "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OPENBLAS_CORETYPE -u AVQA_PROCESS_TUNED "
    "-u AVQA_OPENBLAS_CHOSE -u AVQA_WAIT_REASON -u MALLOC_MMAP_MAX_ -u MALLOC_MMAP_THRESHOLD_ "
    "-u MALLOC_TRIM_THRESHOLD_ -u GLIBC_TUNABLES ";

Result avqa(const std::string& args, const std::string& env = "") {
  const std::string command = kPlainEnv + env + " " + std::string(AVQA_CLI) + " " + args + " 2>&1";
  Result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
    result.output += buffer.data();
  const int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

TEST(AvqaCli, HelpListsEveryCommand) {
  const Result top = avqa("--help");
  EXPECT_EQ(top.code, 0) << top.output;
  for (const char* cmd : {"data", "env", "bench", "--threads"})
    EXPECT_TRUE(contains(top.output, cmd)) << cmd;
  const Result data = avqa("data --help");
  EXPECT_EQ(data.code, 0);
  for (const char* cmd : {"stats", "vocab", "check"})
    EXPECT_TRUE(contains(data.output, cmd)) << cmd;
  const Result vocab = avqa("data vocab --help");
  for (const char* opt : {"--from", "--out", "--answers", "--unk", "--max-length"}) {
    EXPECT_TRUE(contains(vocab.output, opt)) << opt;
  }
}

TEST(AvqaCli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(avqa("").code, 2);
  EXPECT_EQ(avqa("frobnicate").code, 2);
  EXPECT_EQ(avqa("data stats").code, 2);  // FILE is required
  EXPECT_EQ(avqa("data stats --duplicates sometimes x.json").code, 2);
}

TEST(AvqaCli, CheckAcceptsTheValidFixture) {
  const Result r = avqa("data check " + quoted(fixture("annotations/valid.json")));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "5 records")) << r.output;
}

TEST(AvqaCli, EveryBadFixtureGivesItsErrorAndExitCodeTwo) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"placeholder_mismatch.json",
       "record 1: field 'templ_values': question has 2 placeholder(s)"},
      {"unknown_type.json", "record 0: field 'type': unknown question type"},
      {"wrong_json_types.json", "record 0: field 'question_id': must be an integer"},
      {"truncated.json", "truncated.json: invalid JSON at line 3"},
      {"duplicate_ids.json",
       "record 2: field 'question_id': question_id 7 already used by record 0"},
      {"no_such_file.json", "no_such_file.json: cannot open file"},
  };
  for (const auto& [file, message] : cases) {
    for (const std::string command : {"data check ", "data stats --duplicates error "}) {
      const Result r = avqa(command + quoted(fixture("annotations/" + file)));
      EXPECT_EQ(r.code, 2) << command << file << "\n" << r.output;
      EXPECT_TRUE(contains(r.output, message)) << command << file << "\n" << r.output;
    }
  }
}

TEST(AvqaCli, CheckListsSeveralErrorsOfOneFile) {
  const Result r = avqa("data check " + quoted(fixture("annotations/wrong_json_types.json")));
  EXPECT_EQ(r.code, 2);
  for (const char* part :
       {"record 1: field 'video_id'", "record 1: field 'templ_values'",
        "record 1: field 'question_deleted'", "record 2: record must be a JSON object"}) {
    EXPECT_TRUE(contains(r.output, part)) << part << "\n" << r.output;
  }
}

TEST(AvqaCli, DuplicatePolicyCanAllowDuplicates) {
  const Result r = avqa("data check --duplicates keep-first " +
                        quoted(fixture("annotations/duplicate_ids.json")));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "2 records (1 duplicate question_ids")) << r.output;
}

TEST(AvqaCli, StatsAsJson) {
  const Result r = avqa("data stats --json " + quoted(fixture("annotations/valid.json")));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  EXPECT_EQ(json[0]["records"].get<int>(), 5);
  EXPECT_EQ(json[0]["questions_per_type"]["AV-Temp"].get<int>(), 1);
}

TEST(AvqaCli, VocabWritesAFileThatLoadsAndChecksOtherFiles) {
  const fs::path out =
      fs::temp_directory_path() / ("avqa_cli_vocab_" + std::to_string(::getpid()) + ".json");
  const Result r =
      avqa("data vocab --from " + quoted(fixture("annotations/valid.json")) + " --answers " +
           quoted(fixture("annotations/answers.json")) + " --out " + quoted(out));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "8 answers")) << r.output;
  const auto vocab = avqa::data::load_vocabularies(out);
  EXPECT_EQ(vocab.answers.size(), 8u);
  EXPECT_EQ(vocab.words.word(0), "<pad>");

  const Result word = avqa("data check --vocab " + quoted(out) + " " +
                           quoted(fixture("annotations/unknown_word.json")));
  EXPECT_EQ(word.code, 2);
  EXPECT_TRUE(contains(
      word.output, "record 0: field 'question_content': unknown word(s) 'banjoist', 'standing'"))
      << word.output;
  const Result answer = avqa("data check --vocab " + quoted(out) + " " +
                             quoted(fixture("annotations/unknown_answer.json")));
  EXPECT_EQ(answer.code, 2);
  EXPECT_TRUE(contains(answer.output, "record 0: field 'anser': answer 'underwater'"))
      << answer.output;

  const Result stray =
      avqa("data vocab --from " + quoted(fixture("annotations/unknown_answer.json")) +
           " --answers " + quoted(fixture("annotations/answers.json")) + " --out " + quoted(out));
  EXPECT_EQ(stray.code, 2);
  EXPECT_TRUE(contains(stray.output, "field 'anser'")) << stray.output;
  EXPECT_EQ(avqa::data::load_vocabularies(out).answers.size(), 8u);  // the earlier file is intact
  fs::remove(out);
}

TEST(AvqaCli, GenerateWritesADatasetThatDataStatsReads) {
  const fs::path out =
      fs::temp_directory_path() / ("avqa_cli_generate_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const Result r =
      avqa("generate --out " + quoted(out) + " --videos 3 --seconds 2 --seed 4 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "wrote 3 videos")) << r.output;
  const Result stats = avqa("data stats " + quoted(out / "annotations/avqa-train.json"));
  EXPECT_EQ(stats.code, 0) << stats.output;
  EXPECT_TRUE(contains(stats.output, "Audio-Visual")) << stats.output;

  const Result again =
      avqa("generate --out " + quoted(out) + " --videos 3 --seconds 2 --seed 4 --quiet");
  EXPECT_EQ(again.code, 2);
  EXPECT_TRUE(contains(again.output, "not empty; pass --overwrite")) << again.output;
  EXPECT_EQ(
      avqa("generate --out " + quoted(out) + " --videos 3 --seconds 2 --seed 4 --quiet --overwrite")
          .code,
      0);
  fs::remove_all(out);
}

TEST(AvqaCli, GenerateRejectsBadArguments) {
  const fs::path out =
      fs::temp_directory_path() / ("avqa_cli_generate_bad_" + std::to_string(::getpid()));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--split 0.5,0.5", "--split"},
      {"--instruments 0-9", "--instruments"},
      {"--instruments many", "--instruments"},
      {"--imbalance 3", "--imbalance"},
      {"--classes 3 --imbalance 0.5 --ambiguous-audio 0.7", "--ambiguous-audio"},
      {"--ambiguous-audio 0.2", "--ambiguous-audio needs --classes"},
      {"--videos 0", "--videos"},
      {"--ensemble-max 12", "--ensemble-max"},
      {"--ensemble-rate 1.5", "--ensemble-rate"},
      {"--voiceover-rate 2", "--voiceover-rate"},
      {"--shared-backgrounds -1", "--shared-backgrounds"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = avqa("generate --out " + quoted(out) + " " + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, message)) << args << "\n" << r.output;
  }
  const Result font =
      avqa("generate --out " + quoted(out) + " --videos 1 --soundfont /nonexistent.sf2");
  EXPECT_NE(font.code, 0);
  EXPECT_TRUE(contains(font.output, "fluid-soundfont-gm")) << font.output;
  EXPECT_FALSE(fs::exists(out));
  // Voiceovers need the espeak-ng program: without it on PATH the error says what to install
  // and how to do without, before anything is written.
  const Result speech = avqa("generate --out " + quoted(out) + " --videos 1", "PATH=/nonexistent");
  EXPECT_NE(speech.code, 0);
  EXPECT_TRUE(contains(speech.output, "apt-get install espeak-ng")) << speech.output;
  EXPECT_TRUE(contains(speech.output, "--voiceover-rate 0")) << speech.output;
  EXPECT_FALSE(fs::exists(out));
}

// The cell probe on a dataset without annotations, or a cache that is not there: exit 2 and the
// message names the file.
TEST(AvqaCli, ProbeCellsNamesWhatIsMissing) {
  const fs::path out = fs::temp_directory_path() / ("avqa_cli_probe_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const Result no_data = avqa("cache probe-cells " + quoted(out / "features.h5") + " --data " +
                              quoted(out / "nothing"));
  EXPECT_EQ(no_data.code, 2) << no_data.output;
  EXPECT_TRUE(contains(no_data.output, (out / "nothing/annotations/avqa-train.json").string()))
      << no_data.output;
  ASSERT_EQ(avqa("generate --out " + quoted(out / "data") + " --videos 3 --seconds 2 --quiet").code,
            0);
  const Result no_cache =
      avqa("cache probe-cells " + quoted(out / "features.h5") + " --data " + quoted(out / "data"));
  EXPECT_EQ(no_cache.code, 2) << no_cache.output;
  EXPECT_TRUE(contains(no_cache.output, (out / "features.h5").string())) << no_cache.output;
  fs::remove_all(out);
}

// `avqa cache oracle` writes a cache of every generated clip that says it holds the truth, not
// features; a folder without truth/ and an existing --out are refused naming them, exit 2.
TEST(AvqaCli, CacheOracleWritesALabelledDiagnosticCache) {
  const fs::path out =
      fs::temp_directory_path() / ("avqa_cli_oracle_" + std::to_string(::getpid()));
  fs::remove_all(out);
  ASSERT_EQ(avqa("generate --out " + quoted(out / "data") +
                 " --videos 3 --seconds 2 --seed 5 --voiceover-rate 0 --quiet")
                .code,
            0);
  const Result r = avqa("cache oracle --data " + quoted(out / "data") + " --out " +
                        quoted(out / "oracle.h5") + " --grid 4");
  ASSERT_EQ(r.code, 0) << r.output;
  const avqa::features::FeatureCacheReader cache(out / "oracle.h5");
  EXPECT_EQ(cache.layout().video_ids,
            (std::vector<std::string>{"syn00000", "syn00001", "syn00002"}));
  ASSERT_EQ(cache.layout().modalities.size(), 2u);
  for (const auto& m : cache.layout().modalities) {
    EXPECT_EQ(m.backbone, "oracle-truth") << m.name;
    EXPECT_TRUE(contains(m.weights, "DIAGNOSTIC")) << m.name << ": " << m.weights;
    if (m.name == "visual") {
      ASSERT_EQ(m.segment_shape.size(), 3u);
      EXPECT_EQ(m.segment_shape[1], 4u);
      EXPECT_EQ(m.segment_shape[2], 4u);
    }
  }
  const Result again =
      avqa("cache oracle --data " + quoted(out / "data") + " --out " + quoted(out / "oracle.h5"));
  EXPECT_EQ(again.code, 2) << again.output;
  EXPECT_TRUE(contains(again.output, (out / "oracle.h5").string())) << again.output;
  const Result no_truth =
      avqa("cache oracle --data " + quoted(out / "nothing") + " --out " + quoted(out / "other.h5"));
  EXPECT_EQ(no_truth.code, 2) << no_truth.output;
  EXPECT_TRUE(contains(no_truth.output, (out / "nothing").string())) << no_truth.output;
  EXPECT_FALSE(fs::exists(out / "other.h5"));
  fs::remove_all(out);
}

TEST(AvqaCli, RobustEvalRefusesBadOptionsAndNamesAMissingRun) {
  EXPECT_EQ(avqa("robust-eval --run r --annotations a.json --radii -1").code, 2);
  EXPECT_EQ(avqa("robust-eval --run r --annotations a.json --norm l1").code, 2);
  EXPECT_EQ(avqa("robust-eval --run r --annotations a.json --quality 2").code, 2);
  const fs::path missing = fs::temp_directory_path() / "avqa_cli_no_such_run";
  const Result r = avqa("robust-eval --run " + quoted(missing) + " --annotations a.json");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, missing.string())) << r.output;
}

// The robust training methods and their benchmark refuse what they cannot run, by name.
TEST(AvqaCli, RobustTrainingAndItsBenchmarkRefuseBadOptions) {
  Result r = avqa("train --train t.json --val v.json --out o --question-only --robust crmt-typo");
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.output, "crmt-mix")) << r.output;  // the choices are listed
  EXPECT_NE(
      avqa("train --train t.json --val v.json --out o --question-only --robust crmt --crmt-rho -1")
          .code,
      0);
  r = avqa("bench robust --out o");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "--avqa-config")) << r.output;
  EXPECT_EQ(avqa("bench robust --out o --data d").code, 2);  // --data without --cache
  r = avqa("bench robust --out o --avqa-config c.json --methods none,fancy");
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.output, "fancy")) << r.output;
}

// kill -9 in the middle of an extraction, then --resume: nothing finished is lost, the result
// equals an uninterrupted run, and `cache verify` accepts it.
TEST(AvqaCli, ExtractSurvivesKillNineAndResumes) {
  const fs::path dir =
      fs::temp_directory_path() / ("avqa_cli_extract_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_EQ(
      avqa("generate --out " + quoted(dir / "data") + " --videos 24 --seconds 3 --seed 2 --quiet")
          .code,
      0);
  const std::string args =
      " --videos " + quoted(dir / "data/videos") + " --seconds 3 --jobs 1 --threads 1";
  const std::string log = (dir / "log.txt").string();
  const std::string killer =
      // The same environment as the runs it is compared with: other BLAS kernels round otherwise.
      "sh -c '" + std::string(kPlainEnv) + AVQA_CLI + " extract --out " +
      (dir / "killed.h5").string() + args + " 2> " + log +
      " & pid=$!; while kill -0 $pid 2>/dev/null && ! grep -q \"extract: [1-9]\" " + log +
      "; do sleep 0.02; done; kill -9 $pid; wait $pid; exit 0'";
  ASSERT_EQ(std::system(killer.c_str()), 0);
  std::size_t done_before = 0;
  {
    const avqa::features::FeatureCacheReader killed(dir / "killed.h5");  // readable after kill -9
    for (const auto s : killed.status())
      done_before += s == avqa::features::VideoStatus::Done;
  }
  EXPECT_GT(done_before, 0u);
  EXPECT_LT(done_before, 24u) << "the extraction finished before it could be killed";
  EXPECT_EQ(avqa("cache verify " + quoted(dir / "killed.h5")).code, 2);  // incomplete

  const Result resumed = avqa("extract --out " + quoted(dir / "killed.h5") + args + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, std::to_string(done_before) + " already done"))
      << resumed.output;
  EXPECT_EQ(avqa("cache verify " + quoted(dir / "killed.h5")).code, 0);
  ASSERT_EQ(avqa("extract --out " + quoted(dir / "clean.h5") + args).code, 0);
  const avqa::features::FeatureCacheReader killed(dir / "killed.h5");
  const avqa::features::FeatureCacheReader clean(dir / "clean.h5");
  for (std::size_t v = 0; v < 24; ++v) {
    EXPECT_EQ(killed.read("visual", v), clean.read("visual", v)) << v;
    EXPECT_EQ(killed.read("audio", v), clean.read("audio", v)) << v;
  }
  const Result info = avqa("cache info " + quoted(dir / "clean.h5"));
  EXPECT_TRUE(contains(info.output, "24 done")) << info.output;
  EXPECT_TRUE(contains(info.output, "random-init")) << info.output;
  fs::remove_all(dir);
}

TEST(AvqaCli, ImportAndExportOriginalCheckpoints) {
  const fs::path dir = fs::temp_directory_path() / ("avqa_cli_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  torch::manual_seed(0);
  avqa::net::StAvqaNet net;
  avqa::checkpoint::write_torch_state_dict(dir / "avst.pt", avqa::net::to_original_layout(net));
  const std::string train = quoted(fixture("annotations/valid.json"));
  const Result imported = avqa("import-checkpoint " + quoted(dir / "avst.pt") +
                               " --train-annotations " + train + " --out " + quoted(dir / "run"));
  ASSERT_EQ(imported.code, 0) << imported.output;
  EXPECT_TRUE(contains(imported.output, "imported 45 tensors")) << imported.output;
  EXPECT_TRUE(contains(imported.output, "139 tensors in the file are not used")) << imported.output;
  // The vocabularies as the original's dataloader builds them from the training file.
  const auto set = avqa::data::load_annotations(fixture("annotations/valid.json"),
                                                {avqa::data::DuplicatePolicy::KeepAll});
  const auto vocab = avqa::data::load_vocabularies(dir / "run/vocab.json");
  EXPECT_EQ(vocab.words.words(), avqa::data::WordVocabulary::build({set}).words());
  const auto named = avqa::data::AnswerVocabulary::build({set}).answers();
  ASSERT_EQ(vocab.answers.size(), 42u);  // as wide as the checkpoint's head
  for (std::size_t i = 0; i < named.size(); ++i)
    EXPECT_EQ(vocab.answers.answer(static_cast<std::int64_t>(i)), named[i]);
  EXPECT_EQ(vocab.answers.answer(41), "<unused-41>");
  EXPECT_EQ(avqa("import-checkpoint " + quoted(dir / "avst.pt") + " --train-annotations " + train +
                 " --out " + quoted(dir / "run"))
                .code,
            2);  // never over an existing run

  // export-checkpoint takes the run folder back to the original's layout, weights unchanged.
  const Result exported =
      avqa("export-checkpoint " + quoted(dir / "run") + " --out " + quoted(dir / "again.pt"));
  ASSERT_EQ(exported.code, 0) << exported.output;
  const auto again = avqa::checkpoint::read_torch_state_dict(dir / "again.pt");
  EXPECT_EQ(again.size(), 184u);
  const auto params = net->named_parameters();
  std::size_t compared = 0;
  for (const auto& [name, tensor] : again) {
    if (params.contains(name.substr(7))) {
      EXPECT_TRUE(torch::equal(tensor, params[name.substr(7)])) << name;
      ++compared;
    }
  }
  EXPECT_EQ(compared, params.size());

  std::ofstream(dir / "broken.pt") << "PK not really";
  const Result broken = avqa("import-checkpoint " + quoted(dir / "broken.pt") +
                             " --train-annotations " + train + " --out " + quoted(dir / "x"));
  EXPECT_EQ(broken.code, 2);
  EXPECT_TRUE(contains(broken.output, "broken.pt")) << broken.output;

  // A broken run folder is bad input (exit 2) naming the file and the key.
  auto config = nlohmann::json::parse(std::ifstream(dir / "run/config.json"));
  config.erase("answers");
  std::ofstream(dir / "run/config.json") << config.dump();
  const Result eval = avqa("eval --run " + quoted(dir / "run") + " --annotations " + train);
  EXPECT_EQ(eval.code, 2) << eval.output;
  EXPECT_TRUE(contains(eval.output, "config.json")) << eval.output;
  EXPECT_TRUE(contains(eval.output, "answers")) << eval.output;
  const Result not_a_run = avqa("eval --run " + quoted(dir) + " --annotations " + train);
  EXPECT_EQ(not_a_run.code, 2) << not_a_run.output;
  fs::remove_all(dir);
}

// The original ST-AVQA code (../shared/peer, MIT) and avqa on the same checkpoint and the same
// .npy features: every answer the same, every probability within 1e-5.
TEST(AvqaCli, ImportedCheckpointAnswersAsTheOriginalCode) {
  const fs::path peer = fs::path(AVQA_SHARED_DIR) / "peer/music-avqa/net_grd_avst";
  if (!fs::exists(peer / "net_avst.py"))
    GTEST_SKIP() << peer << " is absent (the original code lives in ../shared)";
  std::string python;
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string probe = std::string(candidate) +
                              " -c 'import torch, torchvision, numpy, pandas, munch, PIL' "
                              ">/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    GTEST_SKIP() << "python3 with torch, torchvision, numpy, pandas, munch and PIL is not "
                    "installed (tools/install-deps.sh installs them)";
  }
  const fs::path dir =
      fs::temp_directory_path() / ("avqa_cli_original_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path script = fs::path(AVQA_SOURCE_DIR) / "tests/interop/original_predictions.py";
  ASSERT_EQ(std::system((python + " " + quoted(script) + " " + quoted(peer) + " " + quoted(dir) +
                         " > " + quoted(dir / "python.log") + " 2>&1")
                            .c_str()),
            0)
      << std::ifstream(dir / "python.log").rdbuf();

  const Result imported =
      avqa("import-npy --audio-dir " + quoted(dir / "audio") + " --visual-dir " +
           quoted(dir / "visual") + " --dtype f32 --out " + quoted(dir / "features.h5"));
  ASSERT_EQ(imported.code, 0) << imported.output;
  const Result run =
      avqa("import-checkpoint " + quoted(dir / "avst.pt") + " --train-annotations " +
           quoted(dir / "data/json/avqa-train.json") + " --out " + quoted(dir / "run"));
  ASSERT_EQ(run.code, 0) << run.output;
  const Result eval =
      avqa("eval --run " + quoted(dir / "run") + " --annotations " +
           quoted(dir / "data/json/avqa-test.json") + " --cache " + quoted(dir / "features.h5") +
           " --duplicates keep-all --predictions " + quoted(dir / "ours.json"));
  ASSERT_EQ(eval.code, 0) << eval.output;

  const auto original = nlohmann::json::parse(std::ifstream(dir / "predictions.json"));
  const auto ours = nlohmann::json::parse(std::ifstream(dir / "ours.json"));
  const auto vocab = avqa::data::load_vocabularies(dir / "run/vocab.json");
  EXPECT_EQ(vocab.words.words(), original["words"].get<std::vector<std::string>>());
  ASSERT_EQ(ours.size(), original["predictions"].size());
  for (std::size_t q = 0; q < ours.size(); ++q) {
    const auto& theirs = original["predictions"][q];
    const auto& mine = ours[q];
    EXPECT_EQ(mine["question_id"], theirs["question_id"]);
    const auto index = theirs["index"].get<std::int64_t>();
    EXPECT_EQ(mine["predicted"].get<std::string>(), vocab.answers.answer(index)) << q;
    for (const auto& top : mine["top5"]) {
      const auto k = vocab.answers.index(top["answer"].get<std::string>());
      EXPECT_NEAR(top["probability"].get<double>(),
                  theirs["probabilities"][static_cast<std::size_t>(k)].get<double>(), 1e-5)
          << "question " << q << ", answer " << top["answer"];
    }
  }
  fs::remove_all(dir);
}

// `avqa env` says which BLAS kernels, OpenMP waiting and memory reuse the tool runs with, and who
// chose them.
TEST(AvqaCli, EnvReportsKernelsAndWaitingAndRespectsTheUser) {
  const Result tuned = avqa("env");
  ASSERT_EQ(tuned.code, 0) << tuned.output;
  EXPECT_TRUE(contains(tuned.output, "BLAS kernels: OpenBLAS")) << tuned.output;
  EXPECT_TRUE(contains(tuned.output, "GOMP_SPINCOUNT=200000, set by avqa")) << tuned.output;
  EXPECT_TRUE(contains(tuned.output, "Freed memory: kept")) << tuned.output;
  const Result user = avqa(
      "env", "OMP_WAIT_POLICY=ACTIVE OPENBLAS_CORETYPE=Haswell MALLOC_TRIM_THRESHOLD_=1000000");
  ASSERT_EQ(user.code, 0) << user.output;
  EXPECT_TRUE(contains(user.output, "OpenBLAS Haswell (OPENBLAS_CORETYPE=Haswell set by the user)"))
      << user.output;
  EXPECT_TRUE(
      contains(user.output, "OMP_WAIT_POLICY=ACTIVE GOMP_SPINCOUNT=(unset) (set by the user)"))
      << user.output;
  EXPECT_TRUE(contains(user.output,
                       "Freed memory: as glibc does, glibc's malloc settings set by "
                       "the user"))
      << user.output;
}

TEST(AvqaCli, StatsOnTheRealTestSetPrintsThePerTypeTable) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  const Result r = avqa("data stats " + quoted(dir / "json_update/avqa-test.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* part :
       {"records 9129", "duplicate question_ids: none", "Temporal", "822", "Overall"}) {
    EXPECT_TRUE(contains(r.output, part)) << part << "\n" << r.output;
  }
}

}  // namespace
