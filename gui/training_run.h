#pragma once

#include <QObject>
#include <QProcess>
#include <QString>
#include <filesystem>
#include <vector>

#include "core/train/epoch_metrics.h"

class QTimer;

// The studio's Runs tab without its window: a run folder's options and metrics, and `avqa train`
// started, followed, cancelled and resumed as a child process (never linked in: a training run
// survives the studio, and a crash of one never takes the other down).
namespace avqa::gui {

class TrainingRun : public QObject {
  Q_OBJECT
 public:
  explicit TrainingRun(QObject* parent = nullptr);
  ~TrainingRun() override;

  /// The avqa program: $AVQA_PROGRAM, else `avqa` beside this program (installed) or in the
  /// build tree's tools/, else `avqa` on PATH.
  static QString findProgram();
  void setProgram(const QString& program) { program_ = program; }
  QString program() const { return program_; }

  /// Shows a run folder (its options, config and metrics so far) without starting anything.
  void open(const QString& folder);
  /// `avqa train --config <config> --out <folder>`: a new run.
  void start(const QString& config, const QString& folder);
  /// `avqa train --config <folder>/run.json --out <folder> --resume`: continues the open run
  /// from its last finished epoch (a cancelled or interrupted one).
  void resume();
  /// Stops the training process; the epochs it finished stay, resume() continues.
  void cancel();

  bool running() const;
  QString folder() const { return folder_; }
  const std::vector<train::EpochMetrics>& metrics() const { return metrics_; }
  /// Epochs the run's options ask for (0 when unknown).
  int plannedEpochs() const { return planned_epochs_; }
  /// The run's options (run.json) and model config (config.json), as text to show.
  QString description() const { return description_; }
  /// The process's output so far, progress lines collapsed to their latest state.
  QString log() const { return log_; }

 Q_SIGNALS:
  void metricsChanged();
  void outputLine(const QString& line);
  void started();
  /// The process ended: exit code, and whether cancel() ended it.
  void finished(int exit_code, bool cancelled);
  void failed(const QString& what, const QString& message);

 private:
  void launch(const QStringList& arguments);
  void reload();
  void describe();
  void readOutput();

  QString program_;
  QString folder_;
  std::vector<train::EpochMetrics> metrics_;
  int planned_epochs_ = 0;
  QString description_;
  QString log_;
  QString partial_line_;
  QProcess* process_ = nullptr;
  QTimer* poll_ = nullptr;
  bool cancelling_ = false;
};

}  // namespace avqa::gui
