#include "gui/studio_session.h"

#include <QMetaObject>
#include <chrono>
#include <exception>
#include <utility>

#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "core/input_error.h"
#include "datasets/features/log_mel.h"

namespace avqa::gui {

namespace {

// The spectrogram pane's picture: log-mel bands, time to the right, low bands at the bottom,
// in a dark-to-warm colour ramp.
QImage spectrogram_image(const media::SampledClip& clip, int sample_rate) {
  if (clip.audio.empty()) return {};
  features::LogMelParams params;
  params.sample_rate = sample_rate;
  const auto waveform = torch::from_blob(const_cast<float*>(clip.audio.data()),
                                         {static_cast<std::int64_t>(clip.audio.size())});
  const auto mel = features::log_mel_spectrogram(waveform, params).contiguous();  // [frames, bands]
  if (mel.size(0) == 0) return {};
  const float lo = mel.min().item<float>();
  const float hi = mel.max().item<float>();
  const auto frames = static_cast<int>(mel.size(0));
  const auto bands = static_cast<int>(mel.size(1));
  QImage image(frames, bands, QImage::Format_RGB32);
  const float* m = mel.data_ptr<float>();
  for (int t = 0; t < frames; ++t) {
    for (int b = 0; b < bands; ++b) {
      const float v = hi > lo ? (m[t * bands + b] - lo) / (hi - lo) : 0.f;
      image.setPixel(t, bands - 1 - b,
                     qRgb(static_cast<int>(255 * std::min(1.f, 1.6f * v)),
                          static_cast<int>(255 * v * v), static_cast<int>(90 * (1 - v) + 40 * v)));
    }
  }
  return image;
}

QString message_of(const std::exception& e) {
  return QString::fromStdString(e.what());
}

}  // namespace

StudioSession::StudioSession(QObject* parent) : QObject(parent) {}

StudioSession::~StudioSession() {
  if (cancel_) cancel_->store(true);
  if (worker_ != nullptr) worker_->wait();
}

void StudioSession::startJob(std::function<void(const CancelFlag&)> job) {
  if (worker_ != nullptr) {  // one job at a time: the newest wins
    cancel_->store(true);
    worker_->wait();
  }
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  busy_ = true;
  Q_EMIT busyChanged(true);
  worker_ = QThread::create([job = std::move(job), cancel = cancel_] { job(cancel); });
  QThread* started = worker_;
  connect(started, &QThread::finished, this, [this, started] {
    started->deleteLater();
    if (worker_ == started) finishJob();
  });
  started->start();
}

void StudioSession::finishJob() {
  worker_ = nullptr;
  busy_ = false;
  Q_EMIT busyChanged(false);
}

void StudioSession::openRun(const QString& run) {
  startJob([this, run](const CancelFlag&) {
    try {
      auto opened = std::make_shared<net::VideoAnswerer>(
          net::VideoAnswerer::Options{run.toStdString(), {}, {}});
      QMetaObject::invokeMethod(this, [this, run, opened] {
        answerer_ = opened;
        run_ = run;
        video_.reset();
        edited_.reset();
        answer_.reset();
        before_.reset();
        spectrogram_ = {};
        Q_EMIT runOpened(run);
      });
    } catch (const std::exception& e) {
      const QString message = message_of(e);
      QMetaObject::invokeMethod(this, [this, message] { Q_EMIT failed(tr("Open run"), message); });
    }
  });
}

void StudioSession::openVideo(const QString& video) {
  if (!answerer_) {
    Q_EMIT failed(tr("Open video"),
                  tr("Open a run first: it says how the video's features are made."));
    return;
  }
  const std::shared_ptr<net::VideoAnswerer> answerer = answerer_;
  const net::ModalityEdit edit = edit_;
  startJob([this, video, answerer, edit](const CancelFlag& cancel) {
    try {
      const auto report = [this, cancel](double fraction, const std::string& stage) {
        QMetaObject::invokeMethod(this, [this, fraction, s = QString::fromStdString(stage)] {
          Q_EMIT progress(fraction, s);
        });
        return !cancel->load();
      };
      net::PreparedVideo prepared = answerer->prepare(video.toStdString(), {}, report);
      std::optional<net::PreparedVideo> changed;
      if (edit.audio_changed() || edit.visual_changed()) changed = answerer->edited(prepared, edit);
      const auto& recipe = answerer->config().features;
      QImage picture = spectrogram_image(
          edit.audio_changed() ? net::edited_clip(prepared.clip, edit) : prepared.clip,
          recipe ? recipe->sample_rate : 16000);
      QMetaObject::invokeMethod(this, [this, video, prepared = std::move(prepared),
                                       changed = std::move(changed), picture]() mutable {
        video_ = std::move(prepared);
        edited_ = std::move(changed);
        video_path_ = video;
        spectrogram_ = picture;
        answer_.reset();
        before_.reset();
        Q_EMIT videoReady(video);
        if (!question_.isEmpty()) answerNow();
      });
    } catch (const net::PreparationCancelled&) {
      QMetaObject::invokeMethod(this, [this] { Q_EMIT cancelled(); });
    } catch (const std::exception& e) {
      const QString message = message_of(e);
      QMetaObject::invokeMethod(this,
                                [this, message] { Q_EMIT failed(tr("Open video"), message); });
    }
  });
}

void StudioSession::cancel() {
  if (cancel_) cancel_->store(true);
}

void StudioSession::ask(const QString& question) {
  question_ = question.trimmed();
  answerNow();
}

void StudioSession::answerNow() {
  if (!answerer_ || !video_) {
    Q_EMIT failed(tr("Ask"), tr("Open a run and a video first."));
    return;
  }
  if (question_.isEmpty()) return;
  try {
    const auto start = std::chrono::steady_clock::now();
    const net::EncodedQuestion q = answerer_->encode(question_.toStdString());
    answer_ = answerer_->answer(*video(), q);
    if (edited_)
      before_ = answerer_->answer(*video_, q);
    else
      before_.reset();
    last_ask_ms_ =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    Q_EMIT answered();
  } catch (const std::exception& e) {
    answer_.reset();
    before_.reset();
    Q_EMIT failed(tr("Ask"), message_of(e));
  }
}

void StudioSession::setEdit(const net::ModalityEdit& edit) {
  edit_ = edit;
  if (!answerer_ || !video_) return;
  const std::shared_ptr<net::VideoAnswerer> answerer = answerer_;
  const net::PreparedVideo original = *video_;
  startJob([this, answerer, original, edit](const CancelFlag&) {
    try {
      std::optional<net::PreparedVideo> changed;
      if (edit.audio_changed() || edit.visual_changed()) changed = answerer->edited(original, edit);
      // The spectrogram pane shows the sound the model is given now.
      const auto& recipe = answerer->config().features;
      QImage picture = spectrogram_image(
          edit.audio_changed() ? net::edited_clip(original.clip, edit) : original.clip,
          recipe ? recipe->sample_rate : 16000);
      QMetaObject::invokeMethod(this, [this, changed = std::move(changed), picture]() mutable {
        edited_ = std::move(changed);
        spectrogram_ = picture;
        if (!question_.isEmpty()) answerNow();
      });
    } catch (const std::exception& e) {
      const QString message = message_of(e);
      QMetaObject::invokeMethod(this, [this, message] { Q_EMIT failed(tr("Modality"), message); });
    }
  });
}

QImage StudioSession::frame(int k) const {
  const net::PreparedVideo* v = video();
  if (v == nullptr || v->clip.frames.empty() || k < 0 || k >= static_cast<int>(v->segments.size()))
    return {};
  const int size = v->clip.frame_size;
  const std::uint8_t* pixels =
      v->clip.frames.data() + static_cast<std::size_t>(v->segments[static_cast<std::size_t>(k)]) *
                                  static_cast<std::size_t>(size * size * 3);
  // The blanked video shows black frames: what the model saw.
  std::vector<std::uint8_t> black;
  if (v->edit.blank_video) {
    black.assign(static_cast<std::size_t>(size * size * 3), 0);
    pixels = black.data();
  }
  return QImage(pixels, size, size, size * 3, QImage::Format_RGB888).copy();
}

}  // namespace avqa::gui
