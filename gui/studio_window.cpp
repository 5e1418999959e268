#include "gui/studio_window.h"

#include <QAction>
#include <QApplication>
#include <QAudioDevice>
#include <QAudioOutput>
#include <QCheckBox>
#include <QComboBox>
#include <QCompleter>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMediaDevices>
#include <QMediaPlayer>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSettings>
#include <QShortcut>
#include <QSlider>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QStringListModel>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "datasets/synthetic/truth.h"
#include "datasets/vocabulary.h"
#include "gui/runs_view.h"
#include "gui/studio_views.h"

namespace avqa::gui {

namespace fs = std::filesystem;

namespace {

QString text(const std::string& s) {
  return QString::fromStdString(s);
}

std::vector<float> to_floats(const at::Tensor& t) {
  const auto c = t.contiguous().to(torch::kFloat32);
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

AnswerBars::Answers answers_of(const net::AskResult& r) {
  AnswerBars::Answers out;
  for (const auto& [answer, probability] : r.top5)
    out.emplace_back(text(answer), probability);
  return out;
}

}  // namespace

void choose_media_backend() {
  if (qEnvironmentVariableIsEmpty("QT_MEDIA_BACKEND")) qputenv("QT_MEDIA_BACKEND", "ffmpeg");
}

StudioWindow::StudioWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("AVQA Studio"));
  setAcceptDrops(true);
  tabs_ = new QTabWidget(this);
  tabs_->addTab(buildAskTab(), tr("Ask"));
  tabs_->addTab(buildBrowserTab(), tr("Dataset"));
  runs_ = new RunsView(this);
  tabs_->addTab(runs_, tr("Runs"));
  setCentralWidget(tabs_);
  connect(runs_, &RunsView::useRun, this, [this](const QString& run) {
    openRun(run);
    tabs_->setCurrentIndex(0);
  });
  buildMenus();
  status_ = new QLabel(this);
  statusBar()->addWidget(status_, 1);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 100);
  progress_->setMaximumWidth(220);
  progress_->hide();
  statusBar()->addPermanentWidget(progress_);
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->hide();
  statusBar()->addPermanentWidget(cancel_);
  connect(cancel_, &QPushButton::clicked, &session_, &StudioSession::cancel);

  connect(&session_, &StudioSession::runOpened, this, [this](const QString& run) {
    status_->setText(tr("Run %1").arg(run));
    rememberRecent("recent/run", run);
    if (!runs_->run().running()) runs_->openFolder(run);
    updateCompletion();
  });
  connect(&session_, &StudioSession::progress, this, [this](double f, const QString& stage) {
    progress_->setValue(static_cast<int>(100 * f));
    status_->setText(tr("Preparing the video: %1").arg(stage));
  });
  connect(&session_, &StudioSession::busyChanged, this, [this](bool busy) {
    progress_->setVisible(busy);
    cancel_->setVisible(busy);
    if (busy) progress_->setValue(0);
  });
  connect(&session_, &StudioSession::videoReady, this, [this](const QString& video) {
    status_->setText(tr("Video %1").arg(video));
    rememberRecent("recent/video", video);
    if (media_ != nullptr) {
      media_->stop();
      media_->setSource(QUrl::fromLocalFile(video));
    }
    loadTruth();
    refreshVideo();
  });
  connect(&session_, &StudioSession::cancelled, this,
          [this] { status_->setText(tr("Preparation cancelled")); });
  connect(&session_, &StudioSession::answered, this, &StudioWindow::refreshAnswer);
  connect(&session_, &StudioSession::failed, this, &StudioWindow::showError);

  QSettings settings;
  restoreGeometry(settings.value("window/geometry").toByteArray());
}

StudioWindow::~StudioWindow() {
  QSettings().setValue("window/geometry", saveGeometry());
}

void StudioWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &run..."), QKeySequence(tr("Ctrl+R")), this, [this] {
    const QString run = QFileDialog::getExistingDirectory(this, tr("Run folder"));
    if (!run.isEmpty()) openRun(run);
  });
  file->addAction(tr("&Open video..."), QKeySequence::Open, this, [this] {
    const QString video = QFileDialog::getOpenFileName(
        this, tr("Video"), {}, tr("Videos (*.mp4 *.mkv *.avi *.mov *.webm)"));
    if (!video.isEmpty()) openVideo(video);
  });
  file->addAction(tr("Open &dataset..."), this, [this] {
    const QString annotations =
        QFileDialog::getOpenFileName(this, tr("Annotations"), {}, tr("JSON (*.json)"));
    if (annotations.isEmpty()) return;
    const QString predictions = QFileDialog::getOpenFileName(
        this, tr("Predictions from avqa eval (optional)"), {}, tr("JSON (*.json)"));
    openDataset(annotations, predictions);
  });
  QMenu* recent = file->addMenu(tr("Recent"));
  connect(recent, &QMenu::aboutToShow, this, [this, recent] {
    recent->clear();
    QSettings settings;
    for (const QString& run : settings.value("recent/run").toStringList())
      recent->addAction(tr("Run %1").arg(run), this, [this, run] { openRun(run); });
    for (const QString& video : settings.value("recent/video").toStringList())
      recent->addAction(tr("Video %1").arg(video), this, [this, video] { openVideo(video); });
  });
  file->addAction(tr("&Export view..."), QKeySequence(tr("Ctrl+E")), this, [this] {
    const QString stem = QFileDialog::getSaveFileName(this, tr("Export (PNG + JSON)"));
    if (!stem.isEmpty())
      exportView(QFileInfo(stem).path() + "/" + QFileInfo(stem).completeBaseName());
  });
  file->addSeparator();
  file->addAction(tr("Torch &threads..."), this, [this] {
    bool ok = false;
    const int n = QInputDialog::getInt(
        this, tr("Torch threads"),
        tr("Threads for answering and extraction (0: one per core); used from the next start"),
        QSettings().value("threads", 0).toInt(), 0, 256, 1, &ok);
    if (ok) QSettings().setValue("threads", n);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
}

QWidget* StudioWindow::buildAskTab() {
  auto* page = new QWidget(this);
  auto* layout = new QHBoxLayout(page);
  auto* left = new QVBoxLayout;
  frame_ = new FrameView(page);
  timeline_ = new TimelineView(page);
  left->addWidget(frame_, 3);
  auto* transport = new QHBoxLayout;
  auto* previous = new QPushButton(tr("◀ segment"), page);
  auto* play = new QPushButton(tr("Play / pause"), page);
  auto* next = new QPushButton(tr("segment ▶"), page);
  show_heat_ = new QCheckBox(tr("attention"), page);
  show_heat_->setChecked(true);
  transport->addWidget(previous);
  transport->addWidget(play);
  transport->addWidget(next);
  transport->addStretch();
  transport->addWidget(show_heat_);
  left->addLayout(transport);
  left->addWidget(timeline_, 1);
  layout->addLayout(left, 3);

  auto* right = new QVBoxLayout;
  question_ = new QLineEdit(page);
  question_->setPlaceholderText(tr("Where is the first sounding instrument?"));
  auto* ask_button = new QPushButton(tr("Ask"), page);
  auto* ask_row = new QHBoxLayout;
  ask_row->addWidget(question_, 1);
  ask_row->addWidget(ask_button);
  right->addLayout(ask_row);
  templates_ = new QComboBox(page);
  templates_->addItem(tr("MUSIC-AVQA templates..."));
  for (const auto& t : composer_.templates()) {
    const auto label = data::short_label(t.type);
    templates_->addItem(QString("[%1] %2").arg(
        QString::fromUtf8(label.data(), static_cast<int>(label.size())), text(t.text)));
  }
  right->addWidget(templates_);
  slots_ = new QHBoxLayout;
  right->addLayout(slots_);
  answer_ = new QLabel(page);
  answer_->setStyleSheet("font-size: 20px; font-weight: bold;");
  right->addWidget(answer_);
  tokens_ = new QLabel(page);
  tokens_->setWordWrap(true);
  right->addWidget(tokens_);
  bars_ = new AnswerBars(page);
  right->addWidget(bars_);
  contribution_ = new QLabel(page);
  contribution_->setWordWrap(true);
  contribution_->setToolTip(
      tr("Each branch's Shapley share of the answer's probability: the answer from both, from "
         "the audio or the visual branch alone (the other's fused features zeroed) and from the "
         "question alone"));
  right->addWidget(contribution_);
  auto* modality = new QGroupBox(tr("Modalities"), page);
  auto* form = new QFormLayout(modality);
  mute_ = new QCheckBox(tr("mute the audio"), modality);
  blank_ = new QCheckBox(tr("blank the video"), modality);
  noise_ = new QCheckBox(tr("add noise"), modality);
  snr_ = new QSlider(Qt::Horizontal, modality);
  snr_->setRange(-10, 40);
  snr_->setValue(10);
  auto* snr_label = new QLabel(tr("SNR 10 dB"), modality);
  form->addRow(mute_);
  form->addRow(blank_);
  form->addRow(noise_, snr_);
  form->addRow(snr_label);
  right->addWidget(modality);
  right->addStretch();
  layout->addLayout(right, 2);

  player_ = new QTimer(this);
  player_->setInterval(1000);  // one model segment per second of video at the original's 1 fps
  connect(player_, &QTimer::timeout, this, [this] {
    const net::PreparedVideo* v = session_.video();
    if (v == nullptr || v->segments.empty()) return;
    showSegment((currentSegment() + 1) % static_cast<int>(v->segments.size()));
  });
  connect(play, &QPushButton::clicked, this, &StudioWindow::togglePlayback);
  connect(templates_, &QComboBox::activated, this,
          [this](int index) { chooseTemplate(index - 1); });
  connect(previous, &QPushButton::clicked, this, [this] { showSegment(currentSegment() - 1); });
  connect(next, &QPushButton::clicked, this, [this] { showSegment(currentSegment() + 1); });
  connect(timeline_, &TimelineView::segmentClicked, this, [this](int k) { showSegment(k); });
  connect(show_heat_, &QCheckBox::toggled, frame_, &FrameView::setShowAttention);
  connect(ask_button, &QPushButton::clicked, this, [this] { ask(question_->text()); });
  connect(question_, &QLineEdit::returnPressed, this, [this] { ask(question_->text()); });
  updateCompletion();
  for (QCheckBox* box : {mute_, blank_, noise_})
    connect(box, &QCheckBox::toggled, this, &StudioWindow::applyEdit);
  connect(snr_, &QSlider::valueChanged, this,
          [this, snr_label](int v) { snr_label->setText(tr("SNR %1 dB").arg(v)); });
  connect(snr_, &QSlider::sliderReleased, this, &StudioWindow::applyEdit);
  // Keyboard: space plays, arrows step, Ctrl+Return asks.
  auto* space = new QShortcut(QKeySequence(Qt::Key_Space), frame_);
  space->setContext(Qt::WindowShortcut);
  connect(space, &QShortcut::activated, play, &QPushButton::click);
  auto* left_key = new QShortcut(QKeySequence(Qt::Key_Left), this);
  connect(left_key, &QShortcut::activated, previous, &QPushButton::click);
  auto* right_key = new QShortcut(QKeySequence(Qt::Key_Right), this);
  connect(right_key, &QShortcut::activated, next, &QPushButton::click);
  return page;
}

QWidget* StudioWindow::buildBrowserTab() {
  auto* page = new QWidget(this);
  auto* layout = new QVBoxLayout(page);
  auto* filters = new QHBoxLayout;
  filter_text_ = new QLineEdit(page);
  filter_text_->setPlaceholderText(tr("filter: words of the question, answer or video"));
  filter_type_ = new QComboBox(page);
  filter_type_->addItem(tr("every type"));
  for (const data::QuestionType t : data::kAllQuestionTypes)
    filter_type_->addItem(QString::fromUtf8(data::short_label(t).data(),
                                            static_cast<int>(data::short_label(t).size())));
  filter_group_ = new QComboBox(page);
  filter_group_->addItems({tr("every group"), tr("Audio"), tr("Visual"), tr("Audio-Visual")});
  filter_correct_ = new QComboBox(page);
  filter_correct_->addItems({tr("all"), tr("correct"), tr("wrong"), tr("no prediction")});
  filters->addWidget(filter_text_, 1);
  filters->addWidget(filter_type_);
  filters->addWidget(filter_group_);
  filters->addWidget(filter_correct_);
  layout->addLayout(filters);
  model_ = new QStandardItemModel(this);
  table_ = new QTableView(page);
  table_->setModel(model_);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->horizontalHeader()->setStretchLastSection(true);
  layout->addWidget(table_, 1);
  browser_summary_ = new QLabel(page);
  browser_summary_->setWordWrap(true);
  layout->addWidget(browser_summary_);
  connect(filter_text_, &QLineEdit::textChanged, this, &StudioWindow::refreshBrowser);
  for (QComboBox* box : {filter_type_, filter_group_, filter_correct_})
    connect(box, &QComboBox::currentIndexChanged, this, &StudioWindow::refreshBrowser);
  // A row opens its video at its question.
  connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
    if (!table_data_ || index.row() < 0 || index.row() >= static_cast<int>(shown_rows_.size()))
      return;
    const QuestionRow& row =
        table_data_->rows()[shown_rows_[static_cast<std::size_t>(index.row())]];
    question_->setText(text(row.question));
    if (const auto file = table_data_->video_file(row)) {
      openVideo(text(file->string()));
    } else {
      showError(tr("Open video"),
                tr("No video file for %1 beside the annotations").arg(text(row.video_id)));
    }
    if (auto* tabs = qobject_cast<QTabWidget*>(centralWidget())) tabs->setCurrentIndex(0);
  });
  return page;
}

void StudioWindow::openRun(const QString& run) {
  session_.openRun(run);
}

void StudioWindow::openVideo(const QString& video) {
  session_.openVideo(video);
}

void StudioWindow::openDataset(const QString& annotations, const QString& predictions) {
  try {
    QuestionTable table(annotations.toStdString());
    if (!predictions.isEmpty()) table.attach_predictions(predictions.toStdString());
    table_data_ = std::move(table);
  } catch (const std::exception& e) {
    showError(tr("Open dataset"), text(e.what()));
    return;
  }
  dataset_questions_.clear();
  for (const QuestionRow& r : table_data_->rows())
    dataset_questions_ << text(r.question);
  updateCompletion();
  refreshBrowser();
}

void StudioWindow::refreshBrowser() {
  model_->clear();
  model_->setHorizontalHeaderLabels(
      {tr("video"), tr("type"), tr("question"), tr("truth"), tr("predicted"), tr("")});
  if (!table_data_) return;
  QuestionFilter f;
  if (filter_type_->currentIndex() > 0)
    f.type = data::kAllQuestionTypes[static_cast<std::size_t>(filter_type_->currentIndex() - 1)];
  if (filter_group_->currentIndex() > 0)
    f.group = data::kAllModalities[static_cast<std::size_t>(filter_group_->currentIndex() - 1)];
  f.correctness = static_cast<Correctness>(filter_correct_->currentIndex());
  f.text = filter_text_->text().toStdString();
  shown_rows_ = table_data_->filtered(f);
  for (const std::size_t i : shown_rows_) {
    const QuestionRow& r = table_data_->rows()[i];
    QList<QStandardItem*> items;
    items << new QStandardItem(text(r.video_id))
          << new QStandardItem(text(std::string(data::short_label(r.type))))
          << new QStandardItem(text(r.question)) << new QStandardItem(text(r.truth))
          << new QStandardItem(text(r.predicted.value_or("")))
          << new QStandardItem(r.predicted ? (r.correct() ? "✓" : "✗") : "");
    if (r.predicted)
      items.back()->setForeground(r.correct() ? QColor(30, 140, 60) : QColor(200, 40, 40));
    model_->appendRow(items);
  }
  table_->resizeColumnsToContents();
  QStringList parts;
  for (const auto& [type, a] : table_data_->accuracy_by_type(shown_rows_)) {
    parts << QString("%1 %2 % of %3")
                 .arg(text(std::string(data::short_label(type))))
                 .arg(100.0 * a.value(), 0, 'f', 1)
                 .arg(a.predicted);
  }
  const Accuracy all = table_data_->accuracy(shown_rows_);
  browser_summary_->setText(
      tr("%1 of %2 questions shown").arg(shown_rows_.size()).arg(table_data_->rows().size()) +
      (all.predicted > 0 ? tr("; accuracy %1 % of %2 predicted")
                                   .arg(100.0 * all.value(), 0, 'f', 1)
                                   .arg(all.predicted) +
                               "\n" + parts.join("   ")
                         : QString()));
}

QString StudioWindow::browserSummary() const {
  return browser_summary_->text();
}

void StudioWindow::ask(const QString& question) {
  question_->setText(question);
  session_.ask(question);
}

void StudioWindow::applyEdit() {
  net::ModalityEdit edit;
  edit.mute_audio = mute_->isChecked();
  if (audio_out_ != nullptr) audio_out_->setMuted(edit.mute_audio);
  edit.blank_video = blank_->isChecked();
  if (noise_->isChecked() && !edit.mute_audio) edit.noise_snr_db = snr_->value();
  session_.setEdit(edit);
}

void StudioWindow::loadTruth() {
  truth_.clear();
  truth_size_ = {};
  // Generated data: <dataset>/videos/<id>.mp4 beside <dataset>/truth/<id>.json.
  const fs::path video = session_.videoFile().toStdString();
  const fs::path truth =
      video.parent_path().parent_path() / "truth" / (video.stem().string() + ".json");
  std::error_code ec;
  if (!fs::is_regular_file(truth, ec)) return;
  try {
    const synthetic::SceneTruth t = synthetic::load_truth(truth);
    truth_size_ = QSize(t.width, t.height);
    for (const auto& inst : t.instruments) {
      Placed p;
      p.name = text(inst.name);
      for (const auto& b : inst.boxes_per_second)
        p.boxes.emplace_back(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      p.sounding = inst.sounding_per_second;
      truth_.push_back(std::move(p));
    }
  } catch (const std::exception& e) {
    status_->setText(tr("Truth not shown: %1").arg(text(e.what())));
  }
}

void StudioWindow::refreshVideo() {
  const net::PreparedVideo* v = session_.video();
  if (v == nullptr) return;
  const double seconds = v->clip.real_seconds > 0
                             ? std::min<double>(v->clip.segments, v->clip.real_seconds)
                             : static_cast<double>(v->segments.size());
  timeline_->setSegments(
      v->segment_seconds,
      std::max(seconds, v->segment_seconds.empty() ? 1.0 : v->segment_seconds.back() + 1));
  timeline_->setSpectrogram(session_.spectrogram());
  timeline_->setAttention({}, {});
  std::vector<std::pair<QString, std::vector<bool>>> rows;
  for (const Placed& p : truth_)
    rows.emplace_back(p.name, p.sounding);
  timeline_->setSounding(rows);
  frame_->setAttention({}, 0);
  showSegment(0);
}

void StudioWindow::refreshAnswer() {
  const net::AskResult* r = session_.answer();
  if (r == nullptr) return;
  answer_->setText(text(r->answer));
  QStringList words;
  for (const auto& w : r->pieces.empty() ? r->words : r->pieces)
    words << text(w);
  tokens_->setText(tr("read as: %1").arg(words.join(" · ")));
  std::optional<AnswerBars::Answers> before;
  if (const net::AskResult* b = session_.answerBefore()) before = answers_of(*b);
  bars_->setAnswers(answers_of(*r), before);
  const net::ModalityContribution& c = r->contribution;
  contribution_->setText(
      tr("contribution: audio %1, visual %2 (p = %3 with both, %4 audio alone, %5 visual alone, "
         "%6 question alone)")
          .arg(c.audio, 0, 'f', 2)
          .arg(c.visual, 0, 'f', 2)
          .arg(c.both, 0, 'f', 2)
          .arg(c.audio_only, 0, 'f', 2)
          .arg(c.visual_only, 0, 'f', 2)
          .arg(c.neither, 0, 'f', 2));
  timeline_->setAttention(to_floats(r->temporal_visual), to_floats(r->temporal_audio));
  timeline_->setSpectrogram(session_.spectrogram());  // of the edited sound after an edit
  status_->setText(tr("Answered in %1 ms").arg(session_.lastAskMilliseconds(), 0, 'f', 1));
  showSegment(currentSegment());
}

int StudioWindow::currentSegment() const {
  return timeline_->current();
}

void StudioWindow::showSegment(int segment, bool seek) {
  const net::PreparedVideo* v = session_.video();
  if (v == nullptr || v->segments.empty()) return;
  segment = std::clamp(segment, 0, static_cast<int>(v->segments.size()) - 1);
  if (seek && media_playing_ && segment != timeline_->current())
    media_->setPosition(
        static_cast<qint64>(1000 * v->segment_seconds[static_cast<std::size_t>(segment)]));
  timeline_->setCurrent(segment);
  frame_->setFrame(session_.frame(segment));
  const net::AskResult* r = session_.answer();
  if (r != nullptr && r->spatial_attention.defined() && segment < r->spatial_attention.size(0)) {
    frame_->setAttention(to_floats(r->spatial_attention[segment]), r->grid);
  }
  std::vector<FrameView::TruthBox> boxes;
  const double second = v->segment_seconds[static_cast<std::size_t>(segment)];
  const auto s = static_cast<std::size_t>(second);
  for (const Placed& p : truth_) {
    if (s >= p.boxes.size()) continue;
    boxes.push_back({p.name, p.boxes[s], s < p.sounding.size() && p.sounding[s]});
  }
  frame_->setTruth(boxes, truth_size_);
}

QString StudioWindow::answerText() const {
  return answer_->text();
}

void StudioWindow::exportView(const QString& stem) {
  const net::AskResult* r = session_.answer();
  QImage picture = frame_->grab().toImage();
  if (!picture.save(stem + ".png")) {
    showError(tr("Export"), tr("Cannot write %1.png").arg(stem));
    return;
  }
  QJsonObject doc;
  doc["video"] = session_.videoFile();
  doc["run"] = session_.runFolder();
  doc["question"] = session_.question();
  doc["segment"] = currentSegment();
  if (r != nullptr) {
    doc["answer"] = text(r->answer);
    QJsonArray top;
    for (const auto& [answer, probability] : r->top5)
      top.append(QJsonObject{{"answer", text(answer)}, {"probability", probability}});
    doc["top5"] = top;
    doc["contribution"] =
        QJsonObject{{"audio", r->contribution.audio}, {"visual", r->contribution.visual}};
    QJsonArray visual, audio, spatial;
    for (const float v : to_floats(r->temporal_visual))
      visual.append(v);
    for (const float v : to_floats(r->temporal_audio))
      audio.append(v);
    for (std::int64_t k = 0; k < r->spatial_attention.size(0); ++k) {
      QJsonArray map;
      for (const float v : to_floats(r->spatial_attention[k]))
        map.append(v);
      spatial.append(map);
    }
    doc["temporal_visual"] = visual;
    doc["temporal_audio"] = audio;
    doc["spatial_attention"] = spatial;
    doc["grid"] = r->grid;
  }
  QSaveFile out(stem + ".json");  // temp + rename
  if (!out.open(QIODevice::WriteOnly) || out.write(QJsonDocument(doc).toJson()) < 0 ||
      !out.commit())
    showError(tr("Export"), tr("Cannot write %1.json").arg(stem));
}

void StudioWindow::showError(const QString& what, const QString& message) {
  last_error_ = what + ": " + message;
  status_->setText(last_error_);
  if (std::getenv("AVQA_STUDIO_NO_DIALOGS") == nullptr) QMessageBox::warning(this, what, message);
}

void StudioWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

// A dropped folder is a run, a dropped file a video.
void StudioWindow::dropEvent(QDropEvent* event) {
  for (const QUrl& url : event->mimeData()->urls()) {
    const QFileInfo info(url.toLocalFile());
    if (info.isDir())
      openRun(info.absoluteFilePath());
    else if (info.isFile())
      openVideo(info.absoluteFilePath());
  }
}

void StudioWindow::rememberRecent(const QString& key, const QString& path) {
  QSettings settings;
  QStringList list = settings.value(key).toStringList();
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > 8)
    list.removeLast();
  settings.setValue(key, list);
}

void StudioWindow::ensureMediaPlayer() {
  if (media_ != nullptr) return;
  media_ = new QMediaPlayer(this);
  audio_out_ = new QAudioOutput(this);
  audio_out_->setMuted(mute_->isChecked());
  media_->setAudioOutput(audio_out_);
  // Playback leads: the segment on screen is the last one whose second has begun.
  connect(media_, &QMediaPlayer::positionChanged, this, [this](qint64 ms) {
    const net::PreparedVideo* v = session_.video();
    if (v == nullptr || v->segment_seconds.empty() || !media_playing_) return;
    const auto after = std::upper_bound(v->segment_seconds.begin(), v->segment_seconds.end(),
                                        static_cast<double>(ms) / 1000.0 + 1e-6);
    showSegment(std::max(0, static_cast<int>(after - v->segment_seconds.begin()) - 1), false);
  });
  connect(media_, &QMediaPlayer::playbackStateChanged, this, [this](QMediaPlayer::PlaybackState s) {
    if (s == QMediaPlayer::StoppedState) media_playing_ = false;
  });
  connect(media_, &QMediaPlayer::errorOccurred, this,
          [this](QMediaPlayer::Error, const QString& m) {
            // No sound then, but playback goes on segment by segment.
            status_->setText(tr("Sound unavailable (%1): playing without it").arg(m));
            media_playing_ = false;
            if (!player_->isActive()) player_->start();
          });
  if (!session_.videoFile().isEmpty()) media_->setSource(QUrl::fromLocalFile(session_.videoFile()));
}

void StudioWindow::togglePlayback() {
  if (playing()) {
    player_->stop();
    if (media_ != nullptr) media_->pause();
    media_playing_ = false;
    return;
  }
  if (session_.video() == nullptr) return;
  // With sound only where there is a device to hear it on; otherwise (a server, the offscreen
  // tests) the timer steps one segment per second.
  if (!QMediaDevices::audioOutputs().isEmpty()) {
    ensureMediaPlayer();
    const net::PreparedVideo* v = session_.video();
    media_->setPosition(static_cast<qint64>(
        1000 * v->segment_seconds[static_cast<std::size_t>(std::max(0, currentSegment()))]));
    media_->play();
    media_playing_ = media_->error() == QMediaPlayer::NoError;
  }
  if (!media_playing_) player_->start();
}

QMediaPlayer* StudioWindow::mediaPlayer() {
  ensureMediaPlayer();
  return media_;
}

bool StudioWindow::playing() const {
  return player_->isActive() || media_playing_;
}

void StudioWindow::chooseTemplate(int index) {
  while (QLayoutItem* item = slots_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  slot_values_.clear();
  template_ = index;
  if (index < 0 || index >= static_cast<int>(composer_.templates().size())) {
    template_ = -1;
    templates_->setCurrentIndex(0);
    return;
  }
  templates_->setCurrentIndex(index + 1);
  const std::string& tmpl = composer_.templates()[static_cast<std::size_t>(index)].text;
  const auto placeholders = composer_.placeholders(tmpl);
  slot_values_.resize(placeholders.size());
  for (std::size_t k = 0; k < placeholders.size(); ++k) {
    auto* menu = new QComboBox(this);
    menu->addItem(text(placeholders[k].name));
    for (const std::string& value : placeholders[k].values)
      menu->addItem(text(value));
    menu->setObjectName(QString("placeholder%1").arg(k));
    connect(menu, &QComboBox::activated, this, [this, k, menu](int i) {
      fillPlaceholder(static_cast<int>(k), i == 0 ? QString() : menu->itemText(i));
    });
    slots_->addWidget(menu);
  }
  slots_->addStretch();
  question_->setText(text(tmpl));
  question_->setFocus();
}

void StudioWindow::fillPlaceholder(int slot, const QString& value) {
  if (template_ < 0 || slot < 0 || slot >= static_cast<int>(slot_values_.size())) return;
  slot_values_[static_cast<std::size_t>(slot)] = value;
  if (auto* menu = findChild<QComboBox*>(QString("placeholder%1").arg(slot)))
    menu->setCurrentIndex(std::max(0, menu->findText(value)));
  std::vector<std::string> values;
  for (const QString& v : slot_values_)
    values.push_back(v.toStdString());
  question_->setText(text(QuestionComposer::fill(
      composer_.templates()[static_cast<std::size_t>(template_)].text, values)));
}

// Completion: the word being typed from the run's vocabulary, then the templates (filled and
// not) and the open dataset's questions that contain the text. Only the first part changes as
// one types; the rest is made when a run or dataset opens.
void StudioWindow::updateCompletion() {
  whole_questions_.clear();
  for (const std::string& c : composer_.completions())
    whole_questions_ << text(c);
  whole_questions_ << dataset_questions_;
  whole_questions_.removeDuplicates();
  completeTypedWord();
}

void StudioWindow::completeTypedWord() {
  if (completion_model_ == nullptr) {
    completion_model_ = new QStringListModel(this);
    auto* completer = new QCompleter(completion_model_, question_);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    completer->setFilterMode(Qt::MatchContains);
    completer->setMaxVisibleItems(12);
    question_->setCompleter(completer);
    connect(question_, &QLineEdit::textEdited, this, &StudioWindow::completeTypedWord);
  }
  QStringList candidates;
  if (const net::VideoAnswerer* a = session_.answerer()) {
    for (const std::string& c : QuestionComposer::complete_last_word(
             question_->text().toStdString(), a->vocabulary().words.words()))
      candidates << text(c);
  }
  completion_model_->setStringList(candidates + whole_questions_);
}

QStringList StudioWindow::completions() const {
  return completion_model_ != nullptr ? completion_model_->stringList() : QStringList();
}

}  // namespace avqa::gui
