#include "avqa/robust_evaluation.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/test_paths.h"

namespace avqa::net {
namespace {

using avqa::testing::TempDir;

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t big_endian(const std::string& bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t k = 0; k < 4; ++k)
    v = (v << 8) | static_cast<unsigned char>(bytes.at(at + k));
  return v;
}

train::RobustReport report_with(double audio_attacked) {
  train::RobustReport r;
  r.modalities = {"audio", "visual"};
  r.steps = 4;
  const auto correct = torch::ones({4}, torch::kBool);
  r.conditions = {{"clean", "", 0, correct, 0.5},
                  {"pgd-l2", "audio", 0.1, correct, audio_attacked, true},
                  {"pgd-l2", "visual", 0.1, correct, 0.3, true},
                  {"zeros", "audio", 0, correct, 0.4}};
  return r;
}

TEST(AttackPlot, DrawsAPngOfItsSizeThatFollowsTheAccuracies) {
  TempDir dir("attack_plot");
  write_attack_plot(report_with(0.2), dir / "a.png");
  write_attack_plot(report_with(0.45), dir / "b.png");
  const std::string a = read_bytes(dir / "a.png");
  ASSERT_GT(a.size(), 24u);
  EXPECT_EQ(a.substr(1, 3), "PNG");
  EXPECT_EQ(big_endian(a, 16), 640u);  // IHDR width
  EXPECT_EQ(big_endian(a, 20), 380u);  // and height
  EXPECT_NE(a, read_bytes(dir / "b.png"));
  EXPECT_FALSE(std::filesystem::exists(dir / "a.png.tmp"));
  // A CRMT run's certified accuracy is drawn beside the attacks.
  train::RobustReport certified = report_with(0.2);
  certified.conditions.push_back(
      {"certified", "visual", 0.1, torch::ones({4}, torch::kBool), 0.1, true});
  write_attack_plot(certified, dir / "certified.png");
  EXPECT_NE(read_bytes(dir / "certified.png"), a);

  train::RobustReport no_attack = report_with(0.2);
  no_attack.conditions.erase(no_attack.conditions.begin() + 1, no_attack.conditions.begin() + 3);
  EXPECT_THROW(write_attack_plot(no_attack, dir / "c.png"), std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir / "c.png"));
}

}  // namespace
}  // namespace avqa::net
