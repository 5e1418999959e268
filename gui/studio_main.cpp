// avqa-studio: the desktop app. `avqa-studio [--run RUN] [--video VIDEO] [--dataset ANNOTATIONS
// [--predictions P]]` opens them at start; `avqa-studio --bench RUN VIDEO` prints the speed
// figures (question to drawn answer, video to features, longest event-loop stall) and exits.
#include <QApplication>
#include <QCheckBox>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QSettings>
#include <QTabWidget>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/runtime/process_tuning.h"
#include "core/runtime/torch_runtime.h"
#include "gui/studio_views.h"
#include "gui/studio_window.h"

namespace {

// Time spent in the event loop's longest gap while `busy` holds: how long the window froze.
int bench(avqa::gui::StudioWindow& window, const QString& run, const QString& video) {
  avqa::gui::StudioSession& session = window.session();
  QEventLoop loop;
  QObject::connect(&session, &avqa::gui::StudioSession::failed, &loop,
                   [&](const QString& what, const QString& message) {
                     std::fprintf(stderr, "%s: %s\n", qPrintable(what), qPrintable(message));
                     loop.exit(1);
                   });
  QObject::connect(&session, &avqa::gui::StudioSession::runOpened, &loop, [&] { loop.exit(0); });
  QElapsedTimer opening;
  opening.start();
  window.openRun(run);
  if (loop.exec() != 0) return 1;
  std::printf(
      "run opened (config, vocabulary, network, backbone weights read and hashed): %lld ms\n",
      static_cast<long long>(opening.elapsed()));

  QElapsedTimer clock;
  qint64 last_tick = 0, longest_stall = 0;
  QTimer ticker;
  ticker.setInterval(5);
  QObject::connect(&ticker, &QTimer::timeout, [&] {
    const qint64 now = clock.elapsed();
    longest_stall = std::max(longest_stall, now - last_tick);
    last_tick = now;
  });
  QObject::connect(&session, &avqa::gui::StudioSession::videoReady, &loop, [&] { loop.exit(0); });
  clock.start();
  ticker.start();
  window.openVideo(video);
  if (loop.exec() != 0) return 1;
  const qint64 prepare_ms = clock.elapsed();
  ticker.stop();

  // Two template questions every MUSIC-AVQA vocabulary reads; a failed answer fails the bench
  // (an error is fast, and must not pass for an answer).
  int failures = 0;
  QObject::connect(&session, &avqa::gui::StudioSession::failed, &window, [&] { ++failures; });
  std::vector<double> asks;
  for (int i = 0; i < 20; ++i) {
    QElapsedTimer t;
    t.start();
    window.ask(i % 2 == 0 ? "Is the instrument on the left louder than the instrument on the right?"
                          : "Where is the first sounding instrument?");
    window.frameView()->repaint();  // drawn, not just computed
    asks.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
  }
  if (failures > 0 || session.answer() == nullptr) {
    std::fprintf(stderr, "avqa-studio --bench: %d of %zu questions were not answered\n", failures,
                 asks.size());
    return 1;
  }
  std::sort(asks.begin(), asks.end());
  std::printf(
      "question to drawn answer: median %.1f ms, slowest %.1f ms of %zu (target <= 50 ms)\n",
      asks[asks.size() / 2], asks.back(), asks.size());
  const avqa::net::PreparedVideo* v = session.video();
  std::printf(
      "video to features (%zu segments of a %.1f s video: decode, sample, both backbones): "
      "%lld ms\n",
      v->segments.size(), v->clip.real_seconds, static_cast<long long>(prepare_ms));
  std::printf("longest event-loop stall while extracting: %lld ms (target <= 50 ms)\n",
              static_cast<long long>(longest_stall));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  avqa::runtime::tune_process(argv, avqa::runtime::Workload::Compute);
  avqa::gui::choose_media_backend();
  QApplication app(argc, argv);
  QApplication::setOrganizationName("avqa");
  QApplication::setApplicationName("AVQA Studio");
  QCommandLineParser parser;
  parser.setApplicationDescription(
      "AVQA Studio: ask a video questions, see where and when the model looked");
  parser.addHelpOption();
  const QCommandLineOption run({"r", "run"}, "Run folder to open", "RUN");
  const QCommandLineOption video({"v", "video"}, "Video to open", "VIDEO");
  const QCommandLineOption dataset("dataset", "Annotation file for the browser", "JSON");
  const QCommandLineOption predictions("predictions", "Predictions from avqa eval", "JSON");
  const QCommandLineOption threads(
      "threads", "Torch threads (0: all cores); default: Settings > Torch threads, else 0", "N");
  const QCommandLineOption bench_option("bench", "Print the speed figures for --run and --video");
  const QCommandLineOption question("question", "Ask this once the video is ready", "TEXT");
  const QCommandLineOption segment("segment", "Show this model segment", "K", "0");
  const QCommandLineOption mute("mute", "Mute the audio (answers before and after side by side)");
  const QCommandLineOption tab("tab", "Show this tab: ask, dataset or runs", "NAME", "ask");
  const QCommandLineOption screenshot(
      "screenshot", "Save the window to FILE once answered, then quit (works offscreen)", "FILE");
  parser.addOptions({run, video, dataset, predictions, threads, bench_option, question, segment,
                     mute, tab, screenshot});
  parser.process(app);
  // Unattended: an error is printed and ends the program instead of waiting in a dialog.
  if (parser.isSet(bench_option) || parser.isSet(screenshot))
    ::setenv("AVQA_STUDIO_NO_DIALOGS", "1", 1);
  avqa::runtime::configure_torch({parser.isSet(threads) ? parser.value(threads).toInt()
                                                        : QSettings().value("threads", 0).toInt()});

  avqa::gui::StudioWindow window;
  const QStringList tabs = {"ask", "dataset", "runs"};
  if (!tabs.contains(parser.value(tab))) {
    std::fprintf(stderr, "avqa-studio: --tab is one of ask, dataset, runs\n");
    return 2;
  }
  window.tabs()->setCurrentIndex(static_cast<int>(tabs.indexOf(parser.value(tab))));
  if (parser.isSet(bench_option)) {
    if (!parser.isSet(run) || !parser.isSet(video)) {
      std::fprintf(stderr, "avqa-studio --bench needs --run and --video\n");
      return 2;
    }
    return bench(window, parser.value(run), parser.value(video));
  }
  if (parser.isSet(dataset)) window.openDataset(parser.value(dataset), parser.value(predictions));
  if (parser.isSet(question)) {
    QObject::connect(
        &window.session(), &avqa::gui::StudioSession::videoReady, &window,
        [&window, q = parser.value(question), muted = parser.isSet(mute)] {
          window.ask(q);
          if (muted) window.muteAudio()->setChecked(true);
        },
        Qt::SingleShotConnection);
  }
  if (parser.isSet(screenshot)) {
    // After the last answer (the muted one when --mute): show the segment, draw, save, quit.
    QObject::connect(&window.session(), &avqa::gui::StudioSession::answered, &window,
                     [&window, muted = parser.isSet(mute), file = parser.value(screenshot),
                      k = parser.value(segment).toInt()] {
                       if (muted && window.session().answerBefore() == nullptr) return;
                       window.showSegment(k);
                       QTimer::singleShot(100, &window, [&window, file] {
                         const bool saved = window.grab().save(file);
                         std::printf("%s %s\n", saved ? "saved" : "could not save",
                                     qPrintable(file));
                         QApplication::exit(saved ? 0 : 1);
                       });
                     });
    QObject::connect(&window.session(), &avqa::gui::StudioSession::failed, &window,
                     [](const QString& what, const QString& message) {
                       std::fprintf(stderr, "%s: %s\n", qPrintable(what), qPrintable(message));
                       QApplication::exit(1);
                     });
  }
  if (parser.isSet(run)) {
    if (parser.isSet(video)) {
      QObject::connect(
          &window.session(), &avqa::gui::StudioSession::runOpened, &window,
          [&window, v = parser.value(video)] { window.openVideo(v); }, Qt::SingleShotConnection);
    }
    window.openRun(parser.value(run));
  }
  window.resize(1280, 800);
  window.show();
  return QApplication::exec();
}
