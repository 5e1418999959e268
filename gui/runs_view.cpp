#include "gui/runs_view.h"

#include <QChart>
#include <QChartView>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>

namespace avqa::gui {

RunsView::RunsView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  auto path_row = [this](QLineEdit*& edit, const QString& placeholder, auto browse) {
    auto* row = new QHBoxLayout;
    edit = new QLineEdit(this);
    edit->setPlaceholderText(placeholder);
    auto* button = new QPushButton(tr("Browse..."), this);
    connect(button, &QPushButton::clicked, this, browse);
    row->addWidget(edit, 1);
    row->addWidget(button);
    return row;
  };
  form->addRow(tr("Run folder"),
               path_row(folder_, tr("a folder from avqa train or avqa import-checkpoint"), [this] {
                 const QString dir = QFileDialog::getExistingDirectory(this, tr("Run folder"));
                 if (!dir.isEmpty()) openFolder(dir);
               }));
  form->addRow(
      tr("Options for a new run"),
      path_row(config_, tr("a JSON file of avqa train options (see avqa train --help)"), [this] {
        const QString file =
            QFileDialog::getOpenFileName(this, tr("Training options"), {}, tr("JSON (*.json)"));
        if (!file.isEmpty()) config_->setText(file);
      }));
  layout->addLayout(form);
  auto* buttons = new QHBoxLayout;
  start_ = new QPushButton(tr("Start training"), this);
  resume_ = new QPushButton(tr("Resume"), this);
  cancel_ = new QPushButton(tr("Cancel"), this);
  use_ = new QPushButton(tr("Answer with this run"), this);
  status_ = new QLabel(this);
  for (QPushButton* b : {start_, resume_, cancel_, use_})
    buttons->addWidget(b);
  buttons->addWidget(status_, 1);
  layout->addLayout(buttons);

  chart_ = new QChart;
  chart_->setTitle(tr("Training"));
  loss_ = new QLineSeries(chart_);
  loss_->setName(tr("train loss"));
  train_accuracy_ = new QLineSeries(chart_);
  train_accuracy_->setName(tr("train accuracy %"));
  val_accuracy_ = new QLineSeries(chart_);
  val_accuracy_->setName(tr("val accuracy %"));
  epochs_axis_ = new QValueAxis(chart_);
  epochs_axis_->setTitleText(tr("epoch"));
  epochs_axis_->setLabelFormat("%d");
  loss_axis_ = new QValueAxis(chart_);
  loss_axis_->setTitleText(tr("loss"));
  auto* percent_axis = new QValueAxis(chart_);
  percent_axis->setTitleText(tr("accuracy %"));
  percent_axis->setRange(0, 100);
  chart_->addAxis(epochs_axis_, Qt::AlignBottom);
  chart_->addAxis(loss_axis_, Qt::AlignLeft);
  chart_->addAxis(percent_axis, Qt::AlignRight);
  for (QLineSeries* s : {loss_, train_accuracy_, val_accuracy_}) {
    chart_->addSeries(s);
    s->attachAxis(epochs_axis_);
    s->attachAxis(s == loss_ ? loss_axis_ : percent_axis);
    s->setPointsVisible(true);
  }
  auto* view = new QChartView(chart_, this);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumHeight(260);

  description_ = new QPlainTextEdit(this);
  description_->setReadOnly(true);
  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(2000);
  auto* top = new QSplitter(Qt::Horizontal, this);
  top->addWidget(description_);
  top->addWidget(view);
  top->setStretchFactor(1, 2);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(top);
  split->addWidget(log_);
  split->setStretchFactor(0, 3);
  layout->addWidget(split, 1);

  connect(start_, &QPushButton::clicked, this, &RunsView::startTraining);
  connect(resume_, &QPushButton::clicked, &run_, &TrainingRun::resume);
  connect(cancel_, &QPushButton::clicked, &run_, &TrainingRun::cancel);
  connect(use_, &QPushButton::clicked, this, [this] { Q_EMIT useRun(run_.folder()); });
  connect(&run_, &TrainingRun::metricsChanged, this, &RunsView::redraw);
  connect(&run_, &TrainingRun::started, this, [this] {
    folder_->setText(run_.folder());
    log_->setPlainText(run_.log());
    status_->setText(tr("Training..."));
    updateButtons();
  });
  connect(&run_, &TrainingRun::outputLine, this,
          [this](const QString& line) { status_->setText(line.trimmed().left(120)); });
  connect(&run_, &TrainingRun::finished, this, [this](int code, bool cancelled) {
    log_->setPlainText(run_.log());
    log_->moveCursor(QTextCursor::End);
    redraw();
    status_->setText(cancelled ? tr("Cancelled after epoch %1: Resume continues")
                                     .arg(run_.metrics().empty() ? 0 : run_.metrics().back().epoch)
                     : code == 0 ? tr("Finished")
                                 : tr("avqa train stopped with code %1 (see the log)").arg(code));
    updateButtons();
  });
  connect(&run_, &TrainingRun::failed, this, [this](const QString& what, const QString& message) {
    status_->setText(what + ": " + message);
    updateButtons();
  });
  QSettings settings;
  config_->setText(settings.value("runs/options").toString());
  updateButtons();
}

void RunsView::openFolder(const QString& folder) {
  folder_->setText(folder);
  run_.open(folder);
  redraw();
  status_->setText(run_.metrics().empty()
                       ? tr("No finished epoch yet")
                       : tr("%1 of %2 epochs finished")
                             .arg(run_.metrics().size())
                             .arg(run_.plannedEpochs() > 0 ? QString::number(run_.plannedEpochs())
                                                           : QStringLiteral("?")));
  updateButtons();
}

void RunsView::startTraining() {
  if (config_->text().isEmpty() || folder_->text().isEmpty()) {
    status_->setText(tr("Choose an options file and a new run folder first"));
    return;
  }
  QSettings().setValue("runs/options", config_->text());
  run_.start(config_->text(), folder_->text());
}

void RunsView::redraw() {
  const auto& m = run_.metrics();
  QList<QPointF> loss, train, val;
  double top_loss = 0.0;
  for (const train::EpochMetrics& p : m) {
    loss << QPointF(p.epoch, p.train_loss);
    train << QPointF(p.epoch, 100 * p.train_accuracy);
    val << QPointF(p.epoch, 100 * p.val_accuracy);
    top_loss = std::max(top_loss, p.train_loss);
  }
  loss_->replace(loss);
  train_accuracy_->replace(train);
  val_accuracy_->replace(val);
  const int epochs = std::max({run_.plannedEpochs(), m.empty() ? 1 : m.back().epoch, 1});
  // Whole epochs on the axis, at most about ten labels.
  epochs_axis_->setRange(1, std::max(epochs, 2));
  epochs_axis_->setTickType(QValueAxis::TicksDynamic);
  epochs_axis_->setTickAnchor(0);
  epochs_axis_->setTickInterval(std::max(1, (epochs + 9) / 10));
  loss_axis_->setRange(0, top_loss > 0 ? top_loss * 1.1 : 1.0);
  description_->setPlainText(run_.description());
  if (!m.empty() && run_.running())
    status_->setText(tr("Epoch %1 of %2: val accuracy %3 %")
                         .arg(m.back().epoch)
                         .arg(run_.plannedEpochs())
                         .arg(100 * m.back().val_accuracy, 0, 'f', 1));
}

void RunsView::updateButtons() {
  const bool running = run_.running();
  start_->setEnabled(!running);
  cancel_->setEnabled(running);
  const bool unfinished =
      !run_.folder().isEmpty() && !run_.metrics().empty() &&
      (run_.plannedEpochs() == 0 || run_.metrics().back().epoch < run_.plannedEpochs());
  resume_->setEnabled(!running && unfinished);
  use_->setEnabled(!running && !run_.folder().isEmpty());
}

int RunsView::plottedEpochs() const {
  return static_cast<int>(val_accuracy_->count());
}

QString RunsView::statusText() const {
  return status_->text();
}

}  // namespace avqa::gui
