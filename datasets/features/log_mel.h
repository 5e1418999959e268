#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace avqa::features {

/// VGGish's audio front end (vggish_params.py, mel_features.py): 25 ms periodic-Hann frames every
/// 10 ms, zero-padded to a 512-point FFT, magnitude spectrum, 64 HTK-mel bands from 125 to
/// 7500 Hz, log(mel + 0.01); examples of 96 frames (0.96 s).
struct LogMelParams {
  int sample_rate = 16000;
  double window_seconds = 0.025;
  double hop_seconds = 0.010;
  int bands = 64;
  double min_hz = 125.0;
  double max_hz = 7500.0;
  double log_offset = 0.01;
  int example_frames = 96;

  int window_samples() const;
  int hop_samples() const;
  int fft_length() const;  ///< next power of two above the window
};

/// The [fft_length / 2 + 1, bands] mel weight matrix of mel_features.spectrogram_to_mel_matrix
/// (the DC bin gets no weight).
std::vector<float> mel_weight_matrix(const LogMelParams& params = {});

/// [samples] float waveform -> [frames, bands] log-mel; frames = 1 + (samples - window) / hop.
at::Tensor log_mel_spectrogram(const at::Tensor& waveform, const LogMelParams& params = {});

/// One VGGish example per segment, from the start of each segment as the MUSIC-AVQA feature
/// script does (second i -> samples [i * sr, (i + 1) * sr) -> first 96 frames):
/// audio [segments * samples_per_segment] -> [segments, 1, 96, 64]. Segments shorter than
/// 0.96 s are zero-padded.
at::Tensor vggish_examples(const std::vector<float>& audio,
                           int segments,
                           int samples_per_segment,
                           const LogMelParams& params = {});

/// Two sounds played together, in the log-mel domain: x = log(mel + log_offset) per input, their
/// magnitudes added (what a mixture's mel bands hold for sounds that do not cancel), so
/// log(exp(a) + exp(b) - log_offset). a, b: same shape, e.g. examples [B, 1, 96, 64].
at::Tensor mix_log_mel(const at::Tensor& a, const at::Tensor& b, const LogMelParams& params = {});

}  // namespace avqa::features
