#include "gui/studio_views.h"

#include <QMouseEvent>
#include <QPainter>
#include <algorithm>
#include <cmath>

namespace avqa::gui {

namespace {

// Blue -> cyan -> yellow -> red, as attention plots in the AVQA papers use.
QColor heat_color(float v) {
  v = std::clamp(v, 0.f, 1.f);
  const float r = std::clamp(1.5f - std::abs(4 * v - 3), 0.f, 1.f);
  const float g = std::clamp(1.5f - std::abs(4 * v - 2), 0.f, 1.f);
  const float b = std::clamp(1.5f - std::abs(4 * v - 1), 0.f, 1.f);
  return QColor::fromRgbF(r, g, b);
}

const QColor kVisualColor(255, 140, 0);
const QColor kAudioColor(30, 110, 220);

}  // namespace

FrameView::FrameView(QWidget* parent) : QWidget(parent) {
  setMinimumSize(224, 224);
}

void FrameView::setFrame(const QImage& frame) {
  frame_ = frame;
  update();
}

void FrameView::setAttention(std::vector<float> weights, int grid) {
  attention_ = std::move(weights);
  grid_ = grid;
  update();
}

void FrameView::setTruth(std::vector<TruthBox> boxes, QSize truth_size) {
  truth_ = std::move(boxes);
  truth_size_ = truth_size;
  update();
}

void FrameView::setShowAttention(bool show) {
  show_attention_ = show;
  update();
}

QImage FrameView::heatMap(QSize size) const {
  if (grid_ <= 0 || attention_.size() != static_cast<std::size_t>(grid_ * grid_)) return {};
  const auto [lo, hi] = std::minmax_element(attention_.begin(), attention_.end());
  QImage cells(grid_, grid_, QImage::Format_ARGB32);
  for (int y = 0; y < grid_; ++y) {
    for (int x = 0; x < grid_; ++x) {
      const float v =
          *hi > *lo ? (attention_[static_cast<std::size_t>(y * grid_ + x)] - *lo) / (*hi - *lo)
                    : 0.f;
      QColor c = heat_color(v);
      c.setAlphaF(0.05 + 0.6 * v);  // cold cells let the frame show through
      cells.setPixelColor(x, y, c);
    }
  }
  return cells.scaled(size, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
}

void FrameView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(24, 24, 28));
  const int side = std::min(width(), height());
  const QRect target((width() - side) / 2, (height() - side) / 2, side, side);
  if (frame_.isNull()) {
    p.setPen(Qt::gray);
    p.drawText(rect(), Qt::AlignCenter, tr("Open a run, then a video"));
    return;
  }
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  p.drawImage(target, frame_);
  if (show_attention_) {
    const QImage heat = heatMap(target.size());
    if (!heat.isNull()) p.drawImage(target, heat);
  }
  if (truth_size_.isValid()) {
    const double sx = target.width() / static_cast<double>(truth_size_.width());
    const double sy = target.height() / static_cast<double>(truth_size_.height());
    for (const TruthBox& t : truth_) {
      const QRectF r(target.left() + t.box.left() * sx, target.top() + t.box.top() * sy,
                     t.box.width() * sx, t.box.height() * sy);
      p.setPen(QPen(t.sounding ? QColor(80, 255, 120) : QColor(200, 200, 200),
                    t.sounding ? 2.5 : 1.0, t.sounding ? Qt::SolidLine : Qt::DashLine));
      p.setBrush(Qt::NoBrush);
      p.drawRect(r);
      p.drawText(r.topLeft() + QPointF(3, 14), t.name);
    }
  }
}

TimelineView::TimelineView(QWidget* parent) : QWidget(parent) {
  setMinimumHeight(170);
}

void TimelineView::setSegments(std::vector<double> seconds, double clip_seconds) {
  seconds_ = std::move(seconds);
  clip_seconds_ = clip_seconds > 0 ? clip_seconds : 10;
  current_ = 0;
  update();
}

void TimelineView::setSpectrogram(const QImage& image) {
  spectrogram_ = image;
  update();
}

void TimelineView::setAttention(std::vector<float> visual, std::vector<float> audio) {
  visual_ = std::move(visual);
  audio_ = std::move(audio);
  update();
}

void TimelineView::setSounding(std::vector<std::pair<QString, std::vector<bool>>> rows) {
  sounding_ = std::move(rows);
  // Spectrogram, attention and one row per instrument, above the second labels.
  setMinimumHeight(56 + 6 + 64 + 6 + 14 * static_cast<int>(sounding_.size()) + 20);
  update();
}

void TimelineView::setCurrent(int segment) {
  current_ = segment;
  update();
}

double TimelineView::xOf(double second) const {
  constexpr int kLabel = 90;
  return kLabel + (width() - kLabel - 8) * second / clip_seconds_;
}

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(250, 250, 252));
  p.setRenderHint(QPainter::Antialiasing);
  const double segment_width =
      clip_seconds_ > 0 && !seconds_.empty() ? (xOf(clip_seconds_) - xOf(0)) / clip_seconds_ : 0;
  int y = 4;
  const auto label = [&](const QString& text, int top, int h) {
    p.setPen(QColor(60, 60, 60));
    p.drawText(QRect(4, top, 84, h), Qt::AlignVCenter | Qt::AlignLeft, text);
  };
  // Spectrogram pane.
  constexpr int kSpec = 56;
  label(tr("log-mel"), y, kSpec);
  if (!spectrogram_.isNull())
    p.drawImage(QRectF(xOf(0), y, xOf(clip_seconds_) - xOf(0), kSpec), spectrogram_);
  y += kSpec + 6;
  // Temporal attention pane: a pair of bars per model segment.
  constexpr int kAttention = 64;
  // Its label is the legend: which colour is which modality's attention.
  label(tr("attention"), y, kAttention / 2);
  p.setPen(kVisualColor);
  p.drawText(QRect(4, y + kAttention / 2 - 4, 84, 16), Qt::AlignLeft, tr("visual"));
  p.setPen(kAudioColor);
  p.drawText(QRect(4, y + kAttention / 2 + 12, 84, 16), Qt::AlignLeft, tr("audio"));
  const float top =
      std::max(visual_.empty() ? 0.f : *std::max_element(visual_.begin(), visual_.end()),
               audio_.empty() ? 0.f : *std::max_element(audio_.begin(), audio_.end()));
  for (std::size_t k = 0; k < seconds_.size(); ++k) {
    const double x = xOf(seconds_[k]);
    const double bar = std::max(2.0, segment_width * 0.38);
    const auto draw = [&](const std::vector<float>& values, double dx, const QColor& c) {
      if (k >= values.size() || top <= 0) return;
      const double h = (kAttention - 4) * values[k] / top;
      p.fillRect(QRectF(x + dx, y + kAttention - h, bar, h), c);
    };
    draw(visual_, segment_width * 0.08, kVisualColor);
    draw(audio_, segment_width * 0.08 + bar, kAudioColor);
  }
  y += kAttention + 6;
  // Who sounds when (generated data).
  constexpr int kRow = 14;
  for (const auto& [name, seconds] : sounding_) {
    label(name, y, kRow);
    for (std::size_t s = 0; s < seconds.size(); ++s) {
      if (!seconds[s]) continue;
      p.fillRect(QRectF(xOf(static_cast<double>(s)), y + 2, xOf(1) - xOf(0) - 1, kRow - 4),
                 QColor(70, 170, 90));
    }
    y += kRow;
  }
  // Segment ticks and the current segment.
  p.setPen(QColor(120, 120, 120));
  for (std::size_t k = 0; k < seconds_.size(); ++k) {
    const double x = xOf(seconds_[k]);
    p.drawLine(QPointF(x, height() - 14), QPointF(x, height() - 8));
    p.drawText(QPointF(x + 2, height() - 1), QString::number(seconds_[k], 'g', 3) + "s");
  }
  if (current_ >= 0 && current_ < static_cast<int>(seconds_.size())) {
    const double x = xOf(seconds_[static_cast<std::size_t>(current_)]);
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(255, 200, 0, 60));
    p.drawRect(QRectF(x, 0, std::max(3.0, segment_width), height() - 14));
  }
}

void TimelineView::mousePressEvent(QMouseEvent* event) {
  const double x = event->position().x();
  for (int k = static_cast<int>(seconds_.size()) - 1; k >= 0; --k) {
    if (x >= xOf(seconds_[static_cast<std::size_t>(k)])) {
      setCurrent(k);
      Q_EMIT segmentClicked(k);
      return;
    }
  }
}

AnswerBars::AnswerBars(QWidget* parent) : QWidget(parent) {
  setMinimumHeight(130);
}

void AnswerBars::setAnswers(Answers now, std::optional<Answers> before) {
  now_ = std::move(now);
  before_ = std::move(before);
  update();
}

void AnswerBars::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  const int columns = before_ ? 2 : 1;
  const int column_width = width() / columns;
  const auto draw = [&](const Answers& answers, int x0, const QString& title) {
    p.setPen(palette().text().color());
    p.drawText(QRect(x0 + 4, 2, column_width - 8, 18), Qt::AlignLeft, title);
    constexpr int kRow = 26;
    for (std::size_t j = 0; j < answers.size(); ++j) {
      const int y = 22 + static_cast<int>(j) * kRow;
      const int full = column_width - 70;
      p.fillRect(QRect(x0 + 4, y + 14, static_cast<int>(full * answers[j].second), 8),
                 j == 0 ? QColor(40, 150, 80) : QColor(150, 170, 190));
      p.setPen(palette().text().color());
      p.drawText(QRect(x0 + 4, y, full, 14), Qt::AlignLeft, answers[j].first);
      p.drawText(QRect(x0 + full + 8, y + 6, 56, 16), Qt::AlignLeft,
                 QString::number(100.0 * answers[j].second, 'f', 1) + " %");
    }
  };
  if (before_) draw(*before_, 0, tr("before"));
  draw(now_, before_ ? column_width : 0, before_ ? tr("after the change") : tr("answer"));
}

}  // namespace avqa::gui
