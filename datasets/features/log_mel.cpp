#include "datasets/features/log_mel.h"

#include <cmath>
#include <cstring>

#include <torch/torch.h>

namespace avqa::features {
namespace {

double hertz_to_mel(double hz) {
  return 1127.0 * std::log(1.0 + hz / 700.0);
}

}  // namespace

int LogMelParams::window_samples() const {
  return static_cast<int>(std::lround(sample_rate * window_seconds));
}
int LogMelParams::hop_samples() const {
  return static_cast<int>(std::lround(sample_rate * hop_seconds));
}
int LogMelParams::fft_length() const {
  int n = 1;
  while (n < window_samples())
    n *= 2;
  return n;
}

std::vector<float> mel_weight_matrix(const LogMelParams& p) {
  const int bins = p.fft_length() / 2 + 1;
  const double nyquist = p.sample_rate / 2.0;
  std::vector<double> bin_mel(static_cast<std::size_t>(bins));
  for (int k = 0; k < bins; ++k)
    bin_mel[static_cast<std::size_t>(k)] = hertz_to_mel(nyquist * k / (bins - 1));
  const double lo = hertz_to_mel(p.min_hz);
  const double hi = hertz_to_mel(p.max_hz);
  std::vector<float> weights(static_cast<std::size_t>(bins) * static_cast<std::size_t>(p.bands),
                             0.f);
  for (int b = 0; b < p.bands; ++b) {
    const double lower = lo + (hi - lo) * b / (p.bands + 1);
    const double center = lo + (hi - lo) * (b + 1) / (p.bands + 1);
    const double upper = lo + (hi - lo) * (b + 2) / (p.bands + 1);
    for (int k = 1; k < bins; ++k) {  // k = 0: the DC bin carries no weight
      const double m = bin_mel[static_cast<std::size_t>(k)];
      const double w =
          std::max(0.0, std::min((m - lower) / (center - lower), (upper - m) / (upper - center)));
      weights[static_cast<std::size_t>(k) * p.bands + static_cast<std::size_t>(b)] =
          static_cast<float>(w);
    }
  }
  return weights;
}

at::Tensor log_mel_spectrogram(const at::Tensor& waveform, const LogMelParams& p) {
  torch::NoGradGuard no_grad;
  const int window = p.window_samples();
  const int hop = p.hop_samples();
  TORCH_CHECK(waveform.dim() == 1, "log_mel_spectrogram expects a 1-D waveform, got ",
              waveform.sizes());
  TORCH_CHECK(waveform.size(0) >= window, "waveform of ", waveform.size(0),
              " samples is shorter than one window");
  // Periodic Hann: 0.5 - 0.5 cos(2 pi n / N), n = 0..N-1.
  const auto hann =
      torch::hann_window(window, /*periodic=*/true, torch::TensorOptions().dtype(torch::kFloat64));
  const auto frames =
      waveform.to(torch::kFloat64).unfold(0, window, hop) * hann;        // [frames, window]
  const auto spectrum = torch::fft::rfft(frames, p.fft_length()).abs();  // [frames, bins]
  const int bins = p.fft_length() / 2 + 1;
  auto weights = torch::from_blob(mel_weight_matrix(p).data(), {bins, p.bands}, torch::kFloat32)
                     .to(torch::kFloat64);
  return torch::log(torch::matmul(spectrum, weights) + p.log_offset).to(torch::kFloat32);
}

at::Tensor vggish_examples(const std::vector<float>& audio,
                           int segments,
                           int samples_per_segment,
                           const LogMelParams& p) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(static_cast<std::int64_t>(audio.size()) >=
                  static_cast<std::int64_t>(segments) * samples_per_segment,
              "audio has ", audio.size(), " samples, fewer than ", segments, " x ",
              samples_per_segment);
  // Enough samples for 96 frames: window + 95 hops (15,600 at 16 kHz).
  const int needed = p.window_samples() + (p.example_frames - 1) * p.hop_samples();
  auto out = torch::empty({segments, 1, p.example_frames, p.bands});
  for (int s = 0; s < segments; ++s) {
    auto piece = torch::zeros({std::max(needed, samples_per_segment)});
    const auto* start =
        audio.data() + static_cast<std::size_t>(s) * static_cast<std::size_t>(samples_per_segment);
    std::memcpy(piece.data_ptr<float>(), start,
                sizeof(float) * static_cast<std::size_t>(samples_per_segment));
    out[s][0] = log_mel_spectrogram(piece.narrow(0, 0, needed), p).narrow(0, 0, p.example_frames);
  }
  return out;
}

at::Tensor mix_log_mel(const at::Tensor& a, const at::Tensor& b, const LogMelParams& p) {
  // clamp_min: exp() rounding must not take a silent pair below the offset's floor.
  return torch::log((torch::exp(a) + torch::exp(b) - p.log_offset).clamp_min(p.log_offset));
}

}  // namespace avqa::features
