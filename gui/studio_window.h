#pragma once

#include <QMainWindow>
#include <memory>
#include <optional>

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
class QTableView;
class QTimer;

namespace avqa::gui {

class AnswerBars;
class FrameView;
class TimelineView;

/// AVQA Studio's main window: a video with the model's attention, the timeline panes, the
/// question box and the modality controls on one tab, the dataset browser on the other. It binds
/// a StudioSession and a QuestionTable; the work is theirs.
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
  void showSegment(int segment);
  int currentSegment() const;
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

  StudioSession session_;
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
