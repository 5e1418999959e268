#include "gui/question_table.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "tests/test_paths.h"

namespace avqa::gui {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// Four questions in the original's layout (anser, templ_values as a Python literal).
constexpr const char* kAnnotations = R"([
 {"video_id": "v1", "question_id": 1, "type": "[\"Audio\", \"Counting\"]",
  "question_content": "How many instruments are sounding in the video?", "templ_values": "[]",
  "question_deleted": 0, "anser": "two"},
 {"video_id": "v1", "question_id": 2, "type": "[\"Visual\", \"Location\"]",
  "question_content": "Where is the <Object>?", "templ_values": "[\"violin\"]",
  "question_deleted": 0, "anser": "left"},
 {"video_id": "v2", "question_id": 3, "type": "[\"Audio-Visual\", \"Temporal\"]",
  "question_content": "Where is the first sounding instrument?", "templ_values": "[]",
  "question_deleted": 0, "anser": "right"},
 {"video_id": "v2", "question_id": 4, "type": "[\"Audio-Visual\", \"Existential\"]",
  "question_content": "Is this sound from the instrument in the video?", "templ_values": "[]",
  "question_deleted": 0, "anser": "yes"}
])";

struct Fixture {
  TempDir dir{"question_table"};
  fs::path annotations = dir / "data/annotations/avqa-test.json";
  Fixture() {
    fs::create_directories(annotations.parent_path());
    core::write_file_atomically(annotations, kAnnotations);
  }
};

TEST(QuestionTable, FiltersAndAccuracyFollowThePredictions) {
  Fixture f;
  QuestionTable table(f.annotations);
  ASSERT_EQ(table.rows().size(), 4u);
  EXPECT_EQ(table.rows()[1].question, "Where is the violin?");
  EXPECT_EQ(table.accuracy(table.filtered({})).predicted, 0u);  // nothing predicted yet

  core::write_file_atomically(f.dir / "predictions.json", R"([
    {"question_id": 1, "video_id": "v1", "predicted": "two", "answer": "two"},
    {"question_id": 2, "video_id": "v1", "predicted": "right", "answer": "left"},
    {"question_id": 3, "video_id": "v2", "predicted": "right", "answer": "right"}])");
  EXPECT_EQ(table.attach_predictions(f.dir / "predictions.json"), 3u);

  const auto all = table.filtered({});
  EXPECT_EQ(all.size(), 4u);
  const Accuracy a = table.accuracy(all);
  EXPECT_EQ(a.correct, 2u);
  EXPECT_EQ(a.predicted, 3u);
  const auto by_type = table.accuracy_by_type(all);
  EXPECT_EQ(by_type.at(data::QuestionType::VisualLocation).correct, 0u);
  EXPECT_EQ(by_type.at(data::QuestionType::AudioCounting).correct, 1u);
  EXPECT_EQ(by_type.count(data::QuestionType::AudioVisualExistential), 0u);  // unpredicted

  QuestionFilter wrong;
  wrong.correctness = Correctness::Wrong;
  EXPECT_EQ(table.filtered(wrong), (std::vector<std::size_t>{1}));
  QuestionFilter unpredicted;
  unpredicted.correctness = Correctness::Unpredicted;
  EXPECT_EQ(table.filtered(unpredicted), (std::vector<std::size_t>{3}));
  QuestionFilter audio_visual;
  audio_visual.group = data::Modality::AudioVisual;
  EXPECT_EQ(table.filtered(audio_visual), (std::vector<std::size_t>{2, 3}));
  QuestionFilter temporal;
  temporal.type = data::QuestionType::AudioVisualTemporal;
  EXPECT_EQ(table.filtered(temporal), (std::vector<std::size_t>{2}));
  QuestionFilter words;
  words.text = "VIOLIN";  // case-insensitive, in the filled question
  EXPECT_EQ(table.filtered(words), (std::vector<std::size_t>{1}));
  words.text = "v2";  // the video id
  EXPECT_EQ(table.filtered(words).size(), 2u);
  const Accuracy filtered = table.accuracy(table.filtered(audio_visual));
  EXPECT_EQ(filtered.correct, 1u);
  EXPECT_EQ(filtered.predicted, 1u);
}

TEST(QuestionTable, BadPredictionsNameFileRecordAndField) {
  Fixture f;
  QuestionTable table(f.annotations);
  core::write_file_atomically(f.dir / "bad.json",
                              R"([{"question_id": 1, "video_id": "v1", "predicted": "two"},
                                  {"question_id": 2, "video_id": "v1"}])");
  try {
    table.attach_predictions(f.dir / "bad.json");
    FAIL() << "took a prediction without an answer";
  } catch (const core::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad.json"), std::string::npos) << what;
    EXPECT_NE(what.find("predicted"), std::string::npos) << what;
    EXPECT_NE(what.find('1'), std::string::npos) << what;  // the second record, 0-based
  }
  core::write_file_atomically(f.dir / "object.json", R"({"question_id": 1})");
  EXPECT_THROW(table.attach_predictions(f.dir / "object.json"), core::InputError);
  EXPECT_THROW(QuestionTable(f.dir / "missing.json"), core::InputError);
}

TEST(QuestionTable, FindsTheVideoBesideTheAnnotations) {
  Fixture f;
  QuestionTable table(f.annotations);
  EXPECT_FALSE(table.video_file(table.rows()[0]).has_value());
  fs::create_directories(f.dir / "data/videos");
  core::write_file_atomically(f.dir / "data/videos/v1.mp4", "not really a video");
  EXPECT_EQ(table.video_file(table.rows()[0]), f.dir / "data/videos/v1.mp4");
  EXPECT_FALSE(table.video_file(table.rows()[2]).has_value());
}

}  // namespace
}  // namespace avqa::gui
