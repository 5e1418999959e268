#include "gui/studio_window.h"

#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QMediaPlayer>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "avqa/evaluation.h"
#include "avqa/trainer.h"
#include "core/atomic_file.h"
#include "datasets/annotations.h"
#include "datasets/question_text.h"
#include "gui/runs_view.h"
#include "gui/studio_views.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::gui {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// A generated dataset, its features and a one-epoch run: what the studio opens.
struct TinyRun {
  TempDir dir{"studio"};
  fs::path run = dir / "run";
  fs::path cache;
  fs::path val = dir / "data/annotations/avqa-val.json";  // its words are in the vocabulary
  std::string question;                                   // words the run knows
  TinyRun() {
    avqa::testing::generate_tiny_dataset(dir.path(), 8, 3, 21);
    const features::ExtractOptions x = avqa::testing::extract_tiny_features(dir.path(), 3);
    cache = x.out;
    net::TrainOptions t;
    t.train = dir / "data/annotations/avqa-train.json";
    t.val = dir / "data/annotations/avqa-val.json";
    t.cache = x.out;
    t.out = run;
    t.epochs = 1;
    t.batch = 8;
    t.segments = 3;
    t.progress = false;
    net::train(t);
    const auto first = data::load_annotations(t.train).records.at(0);
    question = data::filled_question(first.question_content, first.templ_values);
  }
};

bool wait_for(QSignalSpy& spy, int ms = 60000) {
  return spy.count() > 0 || spy.wait(ms);
}

TEST(StudioWindow, OpensAsksShowsAttentionReanswersAndBrowses) {
  TinyRun tiny;
  StudioWindow window;
  window.resize(1280, 800);
  window.show();
  StudioSession& session = window.session();
  QSignalSpy opened(&session, &StudioSession::runOpened);
  QSignalSpy ready(&session, &StudioSession::videoReady);
  QSignalSpy answered(&session, &StudioSession::answered);
  QSignalSpy failed(&session, &StudioSession::failed);

  window.openRun(QString::fromStdString(tiny.run.string()));
  ASSERT_TRUE(wait_for(opened)) << window.lastError().toStdString();
  const fs::path video = tiny.dir / "data/videos/syn00001.mp4";
  window.openVideo(QString::fromStdString(video.string()));
  ASSERT_TRUE(wait_for(ready)) << window.lastError().toStdString();

  window.ask(QString::fromStdString(tiny.question));
  ASSERT_EQ(answered.count(), 1) << window.lastError().toStdString();
  const net::AskResult* answer = session.answer();
  ASSERT_NE(answer, nullptr);
  EXPECT_EQ(window.answerText().toStdString(), answer->answer);
  EXPECT_EQ(answer->top5.size(), 5u);
  EXPECT_EQ(session.answerBefore(), nullptr);  // nothing edited yet
  const auto unedited = answer->top5;

  // The heat map follows the segment shown: the attention of segment 0 is not that of segment 2.
  window.showSegment(0);
  const QImage first = window.frameView()->heatMap({64, 64});
  window.showSegment(2);
  const QImage third = window.frameView()->heatMap({64, 64});
  ASSERT_FALSE(first.isNull());
  EXPECT_NE(first, third);
  EXPECT_EQ(window.currentSegment(), 2);
  const auto shots = fs::path(AVQA_TEST_OUTPUT_DIR);
  window.grab().save(QString::fromStdString((shots / "studio-ask.png").string()));

  // Muting re-extracts the audio and re-answers; the unedited answer stays beside it, and the
  // spectrogram pane shows the silence the model is given.
  const QImage heard = session.spectrogram();
  ASSERT_FALSE(heard.isNull());
  window.muteAudio()->setChecked(true);
  ASSERT_TRUE(answered.wait(60000)) << window.lastError().toStdString();
  EXPECT_NE(session.spectrogram(), heard);
  EXPECT_EQ(session.spectrogram().size(), heard.size());
  ASSERT_NE(session.answerBefore(), nullptr);
  EXPECT_EQ(session.answerBefore()->top5, unedited);
  EXPECT_TRUE(session.video()->edit.mute_audio);
  window.grab().save(QString::fromStdString((shots / "studio-muted.png").string()));

  // Export: the view as PNG and the answer as JSON.
  window.exportView(QString::fromStdString((tiny.dir / "view").string()));
  EXPECT_GT(fs::file_size(tiny.dir / "view.png"), 0u);
  EXPECT_GT(fs::file_size(tiny.dir / "view.json"), 0u);

  // The browser on the validation split with the run's predictions.
  net::EvalOptions e;
  e.run = tiny.run;
  e.annotations = tiny.val;
  core::write_file_atomically(tiny.dir / "predictions.json",
                              net::predictions_json(net::evaluate_run(e)));
  window.openDataset(QString::fromStdString(tiny.val.string()),
                     QString::fromStdString((tiny.dir / "predictions.json").string()));
  const int rows = window.browserTable()->model()->rowCount();
  ASSERT_GT(rows, 1) << window.lastError().toStdString();
  EXPECT_NE(window.browserSummary().indexOf("accuracy"), -1)
      << window.browserSummary().toStdString();
  window.browserCorrectnessFilter()->setCurrentIndex(1);  // correct only
  const int correct = window.browserTable()->model()->rowCount();
  window.browserCorrectnessFilter()->setCurrentIndex(2);  // wrong only
  const int wrong = window.browserTable()->model()->rowCount();
  EXPECT_EQ(correct + wrong, rows);
  if (wrong > 0) {
    EXPECT_NE(window.browserSummary().indexOf("accuracy 0.0 %"), -1)
        << "only wrong answers shown: " << window.browserSummary().toStdString();
  }
  window.browserCorrectnessFilter()->setCurrentIndex(0);
  window.browserFilterText()->setText("no such words anywhere");
  EXPECT_EQ(window.browserTable()->model()->rowCount(), 0);
  window.browserFilterText()->clear();
  window.grab().save(QString::fromStdString((shots / "studio-browser.png").string()));
  EXPECT_EQ(failed.count(), 0) << window.lastError().toStdString();
}

TEST(StudioWindow, TemplatesFillFromMenusAndPlaybackFollowsTheTimeline) {
  TinyRun tiny;
  StudioWindow window;
  StudioSession& session = window.session();
  QSignalSpy opened(&session, &StudioSession::runOpened);
  QSignalSpy ready(&session, &StudioSession::videoReady);
  window.openRun(QString::fromStdString(tiny.run.string()));
  ASSERT_TRUE(wait_for(opened)) << window.lastError().toStdString();
  window.openVideo(QString::fromStdString((tiny.dir / "data/videos/syn00001.mp4").string()));
  ASSERT_TRUE(wait_for(ready)) << window.lastError().toStdString();

  // "Is the <Object> louder than the <Object>?": two menus, each filling its own placeholder.
  const QuestionComposer composer;
  const auto& templates = composer.templates();
  const auto louder = std::find_if(templates.begin(), templates.end(), [](const auto& t) {
    return t.text == "Is the <Object> louder than the <Object>?";
  });
  ASSERT_NE(louder, templates.end());
  window.chooseTemplate(static_cast<int>(louder - templates.begin()));
  EXPECT_EQ(window.questionBox()->text(), "Is the <Object> louder than the <Object>?");
  window.fillPlaceholder(1, "piano");
  EXPECT_EQ(window.questionBox()->text(), "Is the <Object> louder than the piano?");
  window.fillPlaceholder(0, "violin");
  EXPECT_EQ(window.questionBox()->text(), "Is the violin louder than the piano?");
  EXPECT_NE(window.questionBox()->completer(), nullptr);
  // Typing completes the word from the run's vocabulary.
  const auto& words = window.session().answerer()->vocabulary().words.words();
  const std::string longest =
      *std::max_element(words.begin(), words.end(), [](const std::string& a, const std::string& b) {
        return (a[0] == '<' ? 0 : a.size()) < (b[0] == '<' ? 0 : b.size());  // not <pad>, <unk>
      });
  ASSERT_GT(longest.size(), 3u);
  const QString typed = "Is the " + QString::fromStdString(longest.substr(0, longest.size() - 1));
  window.questionBox()->setText(typed);
  Q_EMIT window.questionBox()->textEdited(typed);
  EXPECT_TRUE(window.completions().contains("Is the " + QString::fromStdString(longest)))
      << longest << ": " << window.completions().join(" | ").left(300).toStdString();

  // Playback moves the segment on its own and stops when asked.
  window.showSegment(0);
  window.togglePlayback();
  EXPECT_TRUE(window.playing());
  QElapsedTimer clock;
  clock.start();
  while (window.currentSegment() == 0 && clock.elapsed() < 5000)
    QTest::qWait(50);
  EXPECT_GT(window.currentSegment(), 0);
  window.togglePlayback();
  EXPECT_FALSE(window.playing());
}

// Playback's player reads the generated MP4 (H.264 + AAC) with its sound track; whether the
// machine has a loudspeaker does not matter for that.
TEST(StudioWindow, TheMediaPlayerReadsAGeneratedVideoWithItsSound) {
  TempDir dir("studio_media");
  avqa::testing::generate_tiny_dataset(dir.path(), 1, 3, 4);
  StudioWindow window;
  QMediaPlayer* player = window.mediaPlayer();
  ASSERT_NE(player, nullptr);
  QSignalSpy status(player, &QMediaPlayer::mediaStatusChanged);
  player->setSource(
      QUrl::fromLocalFile(QString::fromStdString((dir / "data/videos/syn00000.mp4").string())));
  QElapsedTimer clock;
  clock.start();
  while (player->mediaStatus() != QMediaPlayer::LoadedMedia &&
         player->mediaStatus() != QMediaPlayer::InvalidMedia && clock.elapsed() < 20000)
    QTest::qWait(50);
  ASSERT_EQ(player->mediaStatus(), QMediaPlayer::LoadedMedia)
      << player->errorString().toStdString();
  EXPECT_TRUE(player->hasAudio());
  EXPECT_NEAR(static_cast<double>(player->duration()), 3000.0, 250.0);
}

// The Runs tab: `avqa train` as a child process, its curves growing, cancelled and resumed to the
// end with every epoch once.
TEST(StudioWindow, RunsTabTrainsCancelsAndResumes) {
  TinyRun tiny;
  const fs::path options = tiny.dir / "train.json";
  core::write_file_atomically(
      options, "{\"train\": \"" + (tiny.dir / "data/annotations/avqa-train.json").string() +
                   "\", \"val\": \"" + tiny.val.string() + "\", \"cache\": \"" +
                   tiny.cache.string() +
                   "\", \"epochs\": 12, \"batch\": 8, \"segments\": 3, \"seed\": 5}\n");
  StudioWindow window;
  RunsView* view = window.runsView();
  TrainingRun& run = view->run();
  run.setProgram(AVQA_CLI);
  QSignalSpy metrics(&run, &TrainingRun::metricsChanged);
  QSignalSpy finished(&run, &TrainingRun::finished);
  const fs::path folder = tiny.dir / "new-run";
  run.start(QString::fromStdString(options.string()), QString::fromStdString(folder.string()));
  ASSERT_TRUE(run.running());
  ASSERT_TRUE(metrics.wait(120000)) << run.log().toStdString();
  run.cancel();
  ASSERT_TRUE(finished.wait(60000));
  EXPECT_TRUE(finished.at(0).at(1).toBool()) << "ended by cancel()";
  ASSERT_FALSE(run.metrics().empty());
  const int done = run.metrics().back().epoch;
  EXPECT_LT(done, 12);
  EXPECT_EQ(view->plottedEpochs(), static_cast<int>(run.metrics().size()));
  EXPECT_TRUE(view->resumeButton()->isEnabled());
  EXPECT_EQ(run.plannedEpochs(), 12);
  window.tabs()->setCurrentWidget(view);
  window.resize(1280, 800);
  window.grab().save(
      QString::fromStdString((fs::path(AVQA_TEST_OUTPUT_DIR) / "studio-runs.png").string()));

  run.resume();
  ASSERT_TRUE(finished.wait(300000)) << run.log().toStdString();
  EXPECT_EQ(finished.at(1).at(0).toInt(), 0) << run.log().toStdString();
  EXPECT_FALSE(finished.at(1).at(1).toBool());
  ASSERT_EQ(run.metrics().size(), 12u);
  for (std::size_t k = 0; k < run.metrics().size(); ++k)
    EXPECT_EQ(run.metrics()[k].epoch, static_cast<int>(k) + 1);
  EXPECT_EQ(view->plottedEpochs(), 12);
  EXPECT_FALSE(view->resumeButton()->isEnabled());  // nothing left to resume
  EXPECT_TRUE(fs::exists(folder / "best.pt"));

  // "Answer with this run" opens it in the Ask tab.
  QSignalSpy opened(&window.session(), &StudioSession::runOpened);
  Q_EMIT view->useRun(run.folder());
  ASSERT_TRUE(wait_for(opened)) << window.lastError().toStdString();
  EXPECT_EQ(window.session().runFolder(), run.folder());
}

TEST(StudioWindow, BadFilesGiveErrorsAndCancelStopsPreparation) {
  TinyRun tiny;
  StudioWindow window;
  StudioSession& session = window.session();
  QSignalSpy opened(&session, &StudioSession::runOpened);
  QSignalSpy failed(&session, &StudioSession::failed);
  QSignalSpy cancelled(&session, &StudioSession::cancelled);
  QSignalSpy ready(&session, &StudioSession::videoReady);

  window.openRun(QString::fromStdString((tiny.dir / "data").string()));  // not a run
  ASSERT_TRUE(wait_for(failed));
  EXPECT_NE(window.lastError().indexOf("config.json"), -1) << window.lastError().toStdString();

  window.openRun(QString::fromStdString(tiny.run.string()));
  ASSERT_TRUE(wait_for(opened));
  core::write_file_atomically(tiny.dir / "broken.mp4", "this is not a video");
  window.openVideo(QString::fromStdString((tiny.dir / "broken.mp4").string()));
  ASSERT_TRUE(failed.wait(60000));
  EXPECT_NE(window.lastError().indexOf("broken.mp4"), -1) << window.lastError().toStdString();

  window.openVideo(QString::fromStdString((tiny.dir / "data/videos/syn00002.mp4").string()));
  session.cancel();
  ASSERT_TRUE(wait_for(cancelled));
  EXPECT_EQ(ready.count(), 0);
  EXPECT_EQ(session.video(), nullptr);

  window.ask("Where is the first sounding instrument?");  // no video yet: an error, no crash
  EXPECT_NE(window.lastError().indexOf("video"), -1) << window.lastError().toStdString();
}

}  // namespace
}  // namespace avqa::gui
