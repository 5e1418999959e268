#pragma once

#include <QMainWindow>
#include <memory>
#include <optional>

#include "gui/question_composer.h"
#include "gui/question_table.h"
#include "gui/studio_session.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QStandardItemModel;
class QStringListModel;
class QTableView;
class QTabWidget;
class QTimer;
class QHBoxLayout;
class QMediaPlayer;
class QAudioOutput;

namespace avqa::gui {

class AnswerBars;
class FrameView;
class RunsView;
class TimelineView;

/// Chooses Qt Multimedia's FFmpeg backend unless QT_MEDIA_BACKEND says otherwise: the project
/// decodes with the same FFmpeg, while Debian's default GStreamer backend lacks the elements for
/// these files without further packages (and then stalls). Call before the QApplication exists.
void choose_media_backend();

/// AVQA Studio's main window: a video with the model's attention, the timeline panes, the
/// question box and the modality controls on the Ask tab, the dataset browser and the training
/// runs on their own tabs. It binds a StudioSession, a QuestionTable, a QuestionComposer and a
/// TrainingRun; the work is theirs.
class StudioWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit StudioWindow(QWidget* parent = nullptr);
  ~StudioWindow() override;

  StudioSession& session() { return session_; }
  void openRun(const QString& run);
  void openVideo(const QString& video);
  /// Annotations (+ optional predictions from `avqa eval --predictions`) into the browser.
  void openDataset(const QString& annotations, const QString& predictions = {});
  void ask(const QString& question);
  /// Shows a segment; `seek` also moves playback there (false when playback itself moved).
  void showSegment(int segment, bool seek = true);
  int currentSegment() const;
  /// Starts or pauses playback: with sound where an audio output exists, else segment by
  /// segment on a timer.
  void togglePlayback();
  bool playing() const;
  /// The player of the open video's sound, made on first use (playback makes it only where an
  /// audio output exists).
  QMediaPlayer* mediaPlayer();
  /// Picks a MUSIC-AVQA template (index into QuestionComposer::templates()) for the ask box;
  /// its placeholders get menus of their values.
  void chooseTemplate(int index);
  /// Sets placeholder `slot` of the chosen template to `value` and writes the question.
  void fillPlaceholder(int slot, const QString& value);
  /// Writes <stem>.png (frame + heat map) and <stem>.json (answer, attention).
  void exportView(const QString& stem);

  // For tests: what the window shows.
  QString answerText() const;
  FrameView* frameView() const { return frame_; }
  QTableView* browserTable() const { return table_; }
  QString browserSummary() const;
  QLineEdit* browserFilterText() const { return filter_text_; }
  QComboBox* browserTypeFilter() const { return filter_type_; }
  QComboBox* browserCorrectnessFilter() const { return filter_correct_; }
  QCheckBox* muteAudio() const { return mute_; }
  QLineEdit* questionBox() const { return question_; }
  /// What the question box offers for the text in it now.
  QStringList completions() const;
  RunsView* runsView() const { return runs_; }
  QTabWidget* tabs() const { return tabs_; }
  /// The last error shown (dialogs are skipped when AVQA_STUDIO_NO_DIALOGS is set: tests).
  QString lastError() const { return last_error_; }

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildMenus();
  QWidget* buildAskTab();
  QWidget* buildBrowserTab();
  void refreshAnswer();
  void refreshVideo();
  void refreshBrowser();
  void applyEdit();
  void showError(const QString& what, const QString& message);
  void loadTruth();
  void rememberRecent(const QString& key, const QString& path);
  void ensureMediaPlayer();
  void updateCompletion();
  void completeTypedWord();

  StudioSession session_;
  QuestionComposer composer_;
  int template_ = -1;  // chosen in the template menu, -1 for free text
  std::vector<QString> slot_values_;
  QStringList dataset_questions_;
  QStringList whole_questions_;  // templates and dataset questions, made once per change
  std::optional<QuestionTable> table_data_;
  std::vector<std::size_t> shown_rows_;
  struct Placed {
    QString name;
    std::vector<QRectF> boxes;  // per second
    std::vector<bool> sounding;
  };
  std::vector<Placed> truth_;
  QSize truth_size_;

  FrameView* frame_ = nullptr;
  TimelineView* timeline_ = nullptr;
  AnswerBars* bars_ = nullptr;
  QLabel* answer_ = nullptr;
  QLabel* tokens_ = nullptr;
  QLabel* contribution_ = nullptr;  ///< each branch's share of the answer
  QLabel* status_ = nullptr;
  QLineEdit* question_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* cancel_ = nullptr;
  QCheckBox* mute_ = nullptr;
  QCheckBox* blank_ = nullptr;
  QCheckBox* noise_ = nullptr;
  QSlider* snr_ = nullptr;
  QCheckBox* show_heat_ = nullptr;
  QTimer* player_ = nullptr;
  QMediaPlayer* media_ = nullptr;  // made on first play: tests and quick looks need no audio
  QAudioOutput* audio_out_ = nullptr;
  bool media_playing_ = false;
  QComboBox* templates_ = nullptr;
  QStringListModel* completion_model_ = nullptr;
  QHBoxLayout* slots_ = nullptr;
  RunsView* runs_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  QTableView* table_ = nullptr;
  QStandardItemModel* model_ = nullptr;
  QLineEdit* filter_text_ = nullptr;
  QComboBox* filter_type_ = nullptr;
  QComboBox* filter_group_ = nullptr;
  QComboBox* filter_correct_ = nullptr;
  QLabel* browser_summary_ = nullptr;
  QString last_error_;
};

}  // namespace avqa::gui
