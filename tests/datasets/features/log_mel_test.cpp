// The VGGish front end against values computed here, independently, from its definition.
#include "datasets/features/log_mel.h"

#include <cmath>
#include <complex>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace avqa::features {
namespace {

double mel(double hz) {
  return 1127.0 * std::log(1.0 + hz / 700.0);
}

// The definition, straight: periodic Hann frames of 400 samples every 160, zero-padded DFT of
// 512 points, magnitude, triangular HTK-mel weights 125-7500 Hz without DC, log(x + 0.01).
std::vector<double> reference_frame(const std::vector<float>& x, int frame) {
  std::vector<double> windowed(512, 0.0);
  for (int n = 0; n < 400; ++n) {
    windowed[static_cast<std::size_t>(n)] =
        x[static_cast<std::size_t>(frame * 160 + n)] * (0.5 - 0.5 * std::cos(2 * M_PI * n / 400));
  }
  std::vector<double> magnitude(257);
  for (int k = 0; k < 257; ++k) {
    std::complex<double> sum = 0;
    for (int n = 0; n < 512; ++n)
      sum += windowed[static_cast<std::size_t>(n)] * std::polar(1.0, -2 * M_PI * k * n / 512);
    magnitude[static_cast<std::size_t>(k)] = std::abs(sum);
  }
  std::vector<double> out(64);
  const double lo = mel(125);
  const double hi = mel(7500);
  for (int b = 0; b < 64; ++b) {
    const double l = lo + (hi - lo) * b / 65;
    const double c = lo + (hi - lo) * (b + 1) / 65;
    const double u = lo + (hi - lo) * (b + 2) / 65;
    double energy = 0;
    for (int k = 1; k < 257; ++k) {
      const double m = mel(8000.0 * k / 256);
      energy += magnitude[static_cast<std::size_t>(k)] *
                std::max(0.0, std::min((m - l) / (c - l), (u - m) / (u - c)));
    }
    out[static_cast<std::size_t>(b)] = std::log(energy + 0.01);
  }
  return out;
}

std::vector<float> test_signal(int samples) {
  std::vector<float> x(static_cast<std::size_t>(samples));
  for (int n = 0; n < samples; ++n) {
    const double t = n / 16000.0;
    x[static_cast<std::size_t>(n)] = static_cast<float>(
        0.5 * std::sin(2 * M_PI * 440 * t) + 0.2 * std::sin(2 * M_PI * 3000 * t) +
        0.05 * std::sin(2 * M_PI * 97 * t * t * 50));
  }
  return x;
}

TEST(LogMel, ParametersAreVggish) {
  const LogMelParams p;
  EXPECT_EQ(p.window_samples(), 400);
  EXPECT_EQ(p.hop_samples(), 160);
  EXPECT_EQ(p.fft_length(), 512);
  const auto w = mel_weight_matrix(p);
  ASSERT_EQ(w.size(), 257u * 64u);
  for (int b = 0; b < 64; ++b)
    EXPECT_EQ(w[static_cast<std::size_t>(b)], 0.f);  // no DC
}

TEST(LogMel, MatchesTheDefinitionFrameByFrame) {
  const auto x = test_signal(16000);
  const auto spectrum = log_mel_spectrogram(
      torch::from_blob(const_cast<float*>(x.data()), {16000}, torch::kFloat32).clone());
  ASSERT_EQ(spectrum.size(0), 1 + (16000 - 400) / 160);  // 98 frames
  ASSERT_EQ(spectrum.size(1), 64);
  for (const int frame : {0, 37, 97}) {
    const auto expected = reference_frame(x, frame);
    for (int b = 0; b < 64; ++b) {
      EXPECT_NEAR(spectrum[frame][b].item<float>(), expected[static_cast<std::size_t>(b)], 1e-4)
          << "frame " << frame << " band " << b;
    }
  }
}

TEST(LogMel, OneExamplePerSegmentFromItsStart) {
  std::vector<float> audio(3 * 16000, 0.f);
  const auto x = test_signal(16000);
  std::copy(x.begin(), x.end(), audio.begin() + 16000);  // only the middle second sounds
  const auto examples = vggish_examples(audio, 3, 16000);
  ASSERT_EQ(examples.sizes(), (std::vector<std::int64_t>{3, 1, 96, 64}));
  EXPECT_NEAR(examples[0].max().item<float>(), std::log(0.01), 1e-5);  // silence: log(0 + 0.01)
  const auto expected = reference_frame(x, 5);
  EXPECT_NEAR(examples[1][0][5][10].item<float>(), expected[10], 1e-4);
}

TEST(MixLogMel, IsTheLogMelOfTheTwoSoundsPlayedTogether) {
  const auto t = torch::arange(16000, torch::kFloat64) / 16000.0;
  const auto low = (0.3 * torch::sin(2 * M_PI * 440.0 * t)).to(torch::kFloat32);
  const auto high = (0.2 * torch::sin(2 * M_PI * 3000.0 * t)).to(torch::kFloat32);
  const auto a = log_mel_spectrogram(low);
  const auto b = log_mel_spectrogram(high);
  const auto together = log_mel_spectrogram(low + high);
  const auto mixed = mix_log_mel(a, b);
  // Tones in bands apart add their magnitudes: the mixture is what the sum's spectrogram shows
  // (up to where the window's leakage of one meets the other, out of phase).
  const auto error = (mixed - together).abs();
  EXPECT_LT(error.mean().item<double>(), 0.01) << error.mean().item<double>();
  EXPECT_LT(error.max().item<double>(), 0.1);
  // Naively adding the logs would be far off.
  EXPECT_GT((a + b - together).abs().mean().item<double>(), 1.0);
  // Louder than either alone where either sounds, and silence changes nothing.
  EXPECT_TRUE((mixed >= torch::maximum(a, b) - 1e-5).all().item<bool>());
  const auto silence = torch::full_like(a, std::log(0.01));
  EXPECT_LT((mix_log_mel(a, silence) - a).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::allclose(mix_log_mel(a, b), mix_log_mel(b, a)));
}

}  // namespace
}  // namespace avqa::features
