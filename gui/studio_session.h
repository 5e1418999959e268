#pragma once

#include <QImage>
#include <QObject>
#include <QString>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "avqa/question_answering.h"

// The studio's state without its window: the open run, the open video and the answers, with
// the slow work (opening a run, extracting a video, re-extracting an edited modality) on a
// background thread. Tests drive it directly; the widgets only bind it.
namespace avqa::gui {

class StudioSession : public QObject {
  Q_OBJECT

 public:
  explicit StudioSession(QObject* parent = nullptr);
  ~StudioSession() override;

  /// Opens a run folder (`avqa train` or `avqa import-checkpoint`) in the background:
  /// runOpened or failed follows.
  void openRun(const QString& run);
  /// Samples and extracts a video with the open run's recipe in the background; progress, then
  /// videoReady, failed or cancelled. A question already asked is answered again.
  void openVideo(const QString& video);
  /// Stops the preparation in flight (the run and the previous video stay).
  void cancel();
  /// Answers at once on the prepared video (answered or failed follows before it returns).
  void ask(const QString& question);
  /// Mute, blank or add noise: the changed modality is extracted again in the background, then
  /// the question re-answered; answerBefore() keeps the unedited answer beside it.
  void setEdit(const net::ModalityEdit& edit);

  bool busy() const { return busy_; }
  QString runFolder() const { return run_; }
  QString videoFile() const { return video_ ? video_path_ : QString(); }
  QString question() const { return question_; }
  const net::VideoAnswerer* answerer() const { return answerer_.get(); }
  /// The prepared video as the model sees it now (edits applied); null before one is open.
  const net::PreparedVideo* video() const {
    return edited_ ? &*edited_ : video_ ? &*video_ : nullptr;
  }
  const net::ModalityEdit& edit() const { return edit_; }
  /// The last answer (with the edit) and the same question on the unedited video.
  const net::AskResult* answer() const { return answer_ ? &*answer_ : nullptr; }
  const net::AskResult* answerBefore() const { return before_ ? &*before_ : nullptr; }
  /// The frame of model segment `k` (RGB), empty for a question-only run without media.
  QImage frame(int k) const;
  /// The clip's log-mel spectrogram as an image: time to the right, low bands at the bottom.
  QImage spectrogram() const { return spectrogram_; }
  /// Milliseconds the last ask took, question to result.
  double lastAskMilliseconds() const { return last_ask_ms_; }

 Q_SIGNALS:
  void runOpened(const QString& run);
  void progress(double fraction, const QString& stage);
  void videoReady(const QString& video);
  void cancelled();
  void answered();
  void failed(const QString& what, const QString& message);
  void busyChanged(bool busy);

 private:
  using CancelFlag = std::shared_ptr<std::atomic<bool>>;
  /// Runs `job` on a worker thread with its own cancel flag (a newer job cancels and awaits it).
  void startJob(std::function<void(const CancelFlag&)> job);
  void finishJob();
  void answerNow();

  QString run_;
  QString video_path_;
  QString question_;
  std::shared_ptr<net::VideoAnswerer> answerer_;
  std::optional<net::PreparedVideo> video_;   // as extracted
  std::optional<net::PreparedVideo> edited_;  // with edit_ applied
  net::ModalityEdit edit_;
  std::optional<net::AskResult> answer_;
  std::optional<net::AskResult> before_;
  QImage spectrogram_;
  double last_ask_ms_ = 0;
  bool busy_ = false;
  CancelFlag cancel_;
  QThread* worker_ = nullptr;
};

}  // namespace avqa::gui
