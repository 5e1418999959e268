#pragma once

#include <QImage>
#include <QRect>
#include <QString>
#include <QWidget>
#include <optional>
#include <utility>
#include <vector>

// The studio's drawing widgets. They hold only what they draw; StudioWindow fills them.
namespace avqa::gui {

/// A frame with the model's spatial attention over it as a heat map, and on generated data the
/// truth boxes of the visible instruments (solid where the instrument sounds in that second).
class FrameView : public QWidget {
  Q_OBJECT
 public:
  struct TruthBox {
    QString name;
    QRectF box;  ///< in the frame's pixels as generated (truth width x height)
    bool sounding = false;
  };
  explicit FrameView(QWidget* parent = nullptr);
  void setFrame(const QImage& frame);
  /// grid x grid attention weights, row-major (empty: none).
  void setAttention(std::vector<float> weights, int grid);
  void setTruth(std::vector<TruthBox> boxes, QSize truth_size);
  void setShowAttention(bool show);
  QSize sizeHint() const override { return {448, 448}; }
  /// The heat map alone, grid cells scaled to `size` (for tests and export).
  QImage heatMap(QSize size) const;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  QImage frame_;
  std::vector<float> attention_;
  int grid_ = 0;
  std::vector<TruthBox> truth_;
  QSize truth_size_;
  bool show_attention_ = true;
};

/// The time axis in layered panes: the spectrogram, the temporal attention per segment (visual
/// and audio), and on generated data who sounds when; the current segment highlighted. A click
/// picks a segment.
class TimelineView : public QWidget {
  Q_OBJECT
 public:
  explicit TimelineView(QWidget* parent = nullptr);
  void setSegments(std::vector<double> seconds, double clip_seconds);
  void setSpectrogram(const QImage& image);
  void setAttention(std::vector<float> visual, std::vector<float> audio);
  /// One row per instrument: its name and which seconds it sounds.
  void setSounding(std::vector<std::pair<QString, std::vector<bool>>> rows);
  void setCurrent(int segment);
  int current() const { return current_; }
  QSize sizeHint() const override { return {640, 230}; }

 Q_SIGNALS:
  void segmentClicked(int segment);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  double xOf(double second) const;
  std::vector<double> seconds_;
  double clip_seconds_ = 10;
  QImage spectrogram_;
  std::vector<float> visual_, audio_;
  std::vector<std::pair<QString, std::vector<bool>>> sounding_;
  int current_ = 0;
};

/// The top-5 answers as horizontal bars, and beside them the same question's before an edit.
class AnswerBars : public QWidget {
  Q_OBJECT
 public:
  using Answers = std::vector<std::pair<QString, float>>;
  explicit AnswerBars(QWidget* parent = nullptr);
  void setAnswers(Answers now, std::optional<Answers> before);
  QSize sizeHint() const override { return {320, 170}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  Answers now_;
  std::optional<Answers> before_;
};

}  // namespace avqa::gui
