#include "gui/training_run.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTimer>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

namespace avqa::gui {

namespace fs = std::filesystem;
using json = nlohmann::json;

TrainingRun::TrainingRun(QObject* parent) : QObject(parent), program_(findProgram()) {
  poll_ = new QTimer(this);
  // metrics.jsonl is replaced by rename at each epoch's end: a file watcher would lose it, a
  // cheap poll does not.
  poll_->setInterval(250);
  connect(poll_, &QTimer::timeout, this, &TrainingRun::reload);
}

TrainingRun::~TrainingRun() {
  if (running()) {
    process_->kill();
    process_->waitForFinished(3000);
  }
}

QString TrainingRun::findProgram() {
  if (const char* env = std::getenv("AVQA_PROGRAM"); env != nullptr && *env != '\0')
    return QString::fromLocal8Bit(env);
  const QString here = QCoreApplication::applicationDirPath();
  for (const QString& candidate : {here + "/avqa", here + "/../tools/avqa"}) {
    const QFileInfo info(candidate);
    if (info.isFile() && info.isExecutable()) return info.canonicalFilePath();
  }
  const QString on_path = QStandardPaths::findExecutable("avqa");
  return on_path.isEmpty() ? QStringLiteral("avqa") : on_path;
}

bool TrainingRun::running() const {
  return process_ != nullptr && process_->state() != QProcess::NotRunning;
}

void TrainingRun::open(const QString& folder) {
  if (running()) {
    Q_EMIT failed(tr("Open run"), tr("A training run is in progress; cancel it first"));
    return;
  }
  folder_ = QDir(folder).absolutePath();
  log_.clear();
  metrics_.clear();
  description_.clear();
  reload();
}

void TrainingRun::reload() {
  const fs::path dir = folder_.toStdString();
  try {
    auto metrics = train::read_metrics(dir / "metrics.jsonl");
    const bool changed = metrics.size() != metrics_.size() ||
                         (!metrics.empty() && metrics.back().seconds != metrics_.back().seconds);
    metrics_ = std::move(metrics);
    // run.json and config.json are written when training starts: read again only while they
    // are not shown yet or an epoch ended, not on every poll.
    if (changed || description_.isEmpty()) describe();
    if (changed) Q_EMIT metricsChanged();
  } catch (const std::exception& e) {
    poll_->stop();
    Q_EMIT failed(tr("Metrics"), QString::fromStdString(e.what()));
  }
}

void TrainingRun::describe() {
  const fs::path dir = folder_.toStdString();
  QString text;
  planned_epochs_ = 0;
  for (const char* name : {"run.json", "config.json"}) {
    std::ifstream in(dir / name);
    if (!in) continue;
    const json doc = json::parse(in, nullptr, false);
    if (doc.is_discarded()) continue;
    if (std::string(name) == "run.json" && doc.contains("epochs") &&
        doc["epochs"].is_number_integer())
      planned_epochs_ = doc["epochs"].get<int>();
    text += QString("%1\n%2\n\n").arg(name, QString::fromStdString(doc.dump(2)));
  }
  description_ = text;
}

void TrainingRun::start(const QString& config, const QString& folder) {
  if (running()) {
    Q_EMIT failed(tr("Train"), tr("A training run is in progress; cancel it first"));
    return;
  }
  folder_ = QDir(folder).absolutePath();
  metrics_.clear();
  description_.clear();
  launch({"train", "--config", QFileInfo(config).absoluteFilePath(), "--out", folder_});
}

void TrainingRun::resume() {
  if (running() || folder_.isEmpty()) return;
  launch({"train", "--config", folder_ + "/run.json", "--out", folder_, "--resume"});
}

void TrainingRun::cancel() {
  if (!running()) return;
  cancelling_ = true;
  process_->terminate();  // SIGTERM: the epochs already checkpointed stay
}

void TrainingRun::launch(const QStringList& arguments) {
  delete process_;
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::MergedChannels);
  cancelling_ = false;
  log_ += QString("$ %1 %2\n").arg(program_, arguments.join(' '));
  connect(process_, &QProcess::readyRead, this, &TrainingRun::readOutput);
  connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
    if (error != QProcess::FailedToStart) return;
    poll_->stop();
    Q_EMIT failed(tr("Train"), tr("Cannot start %1: %2 (set AVQA_PROGRAM to the avqa program)")
                                   .arg(program_, process_->errorString()));
  });
  connect(process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    readOutput();
    if (!partial_line_.isEmpty()) {
      log_ += partial_line_ + "\n";
      partial_line_.clear();
    }
    poll_->stop();
    reload();
    const bool cancelled = cancelling_;
    cancelling_ = false;
    Q_EMIT finished(status == QProcess::NormalExit ? code : -1, cancelled);
  });
  process_->start(program_, arguments);
  poll_->start();
  Q_EMIT started();
}

void TrainingRun::readOutput() {
  // Progress lines redraw themselves with '\r': the log keeps the last state of each.
  const QString chunk = QString::fromLocal8Bit(process_->readAll());
  for (const QChar c : chunk) {
    if (c == '\n') {
      log_ += partial_line_ + "\n";
      Q_EMIT outputLine(partial_line_);
      partial_line_.clear();
    } else if (c == '\r') {
      if (!partial_line_.isEmpty()) Q_EMIT outputLine(partial_line_);
      partial_line_.clear();
    } else {
      partial_line_ += c;
    }
  }
}

}  // namespace avqa::gui
