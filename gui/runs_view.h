#pragma once

#include <QWidget>

#include "gui/training_run.h"

class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;

namespace avqa::gui {

/// The Runs tab: a run folder's options and metrics, `avqa train` started, followed (loss and
/// accuracy curves redrawn at each epoch), cancelled and resumed. It binds a TrainingRun.
class RunsView : public QWidget {
  Q_OBJECT
 public:
  explicit RunsView(QWidget* parent = nullptr);

  TrainingRun& run() { return run_; }
  void openFolder(const QString& folder);
  /// Starts `avqa train` with the options file into the folder in the boxes.
  void startTraining();

  // For tests: what the tab shows.
  int plottedEpochs() const;
  QString statusText() const;
  QPushButton* resumeButton() const { return resume_; }
  QPushButton* cancelButton() const { return cancel_; }

 Q_SIGNALS:
  /// "Use this run": the Ask tab opens it.
  void useRun(const QString& folder);

 private:
  void redraw();
  void updateButtons();

  TrainingRun run_;
  QLineEdit* folder_ = nullptr;
  QLineEdit* config_ = nullptr;
  QPushButton* start_ = nullptr;
  QPushButton* resume_ = nullptr;
  QPushButton* cancel_ = nullptr;
  QPushButton* use_ = nullptr;
  QLabel* status_ = nullptr;
  QPlainTextEdit* description_ = nullptr;
  QPlainTextEdit* log_ = nullptr;
  QChart* chart_ = nullptr;
  QLineSeries* loss_ = nullptr;
  QLineSeries* train_accuracy_ = nullptr;
  QLineSeries* val_accuracy_ = nullptr;
  QValueAxis* epochs_axis_ = nullptr;
  QValueAxis* loss_axis_ = nullptr;
};

}  // namespace avqa::gui
