#include "avclass/robust_benchmark.h"

#include <fstream>

#include <gtest/gtest.h>

#include "core/input_error.h"
#include "tests/test_paths.h"

namespace avqa::avclass {
namespace {

RobustBenchmarkRow row(const std::string& method,
                       double clean,
                       std::vector<double> audio,
                       std::vector<double> visual) {
  RobustBenchmarkRow r{method, {{"clean", "clean", "", 0, {clean, clean}}}, {2.0, 2.0}};
  const std::vector<double> radii{0.05, 0.1, 0.2};
  for (std::size_t k = 0; k < radii.size(); ++k) {
    const std::string r100 = std::to_string(static_cast<int>(100 * radii[k]));
    r.conditions.push_back(
        {"pgd audio " + r100, "pgd-l2", "audio", radii[k], {audio[k], audio[k]}});
    r.conditions.push_back(
        {"pgd visual " + r100, "pgd-l2", "visual", radii[k], {visual[k], visual[k]}});
  }
  return r;
}

// The summary finds the modality joint training loses most on, the first radius where it keeps
// half its clean accuracy or less, and judges each method there against the issue's target.
TEST(RobustBenchmark, SummaryJudgesEachMethodAtTheRadiusWhereJointLosesHalf) {
  RobustBenchmark b{"classification", {}};
  b.rows.push_back(row("none", 0.80, {0.75, 0.70, 0.60}, {0.60, 0.40, 0.20}));
  RobustBenchmarkRow crmt = row("crmt", 0.79, {0.70, 0.60, 0.50}, {0.70, 0.55, 0.40});
  crmt.conditions.push_back({"certified visual 10", "certified", "visual", 0.1, {0.30, 0.34}});
  b.rows.push_back(crmt);
  b.rows.push_back(row("adv", 0.70, {0.70, 0.70, 0.70}, {0.70, 0.65, 0.60}));
  b.rows.push_back(row("crmt-mix", 0.85, {0.80, 0.75, 0.70}, {0.80, 0.50, 0.40}));
  const std::string md = robust_benchmark_markdown(b);
  EXPECT_NE(md.find("| classification, test accuracy % | joint | crmt | adv | crmt-mix |"),
            std::string::npos)
      << md;
  // The certified row exists for CRMT alone.
  EXPECT_NE(md.find("| certified visual 10 | – | 32.0 ± 2.8 | – | – |"), std::string::npos) << md;
  EXPECT_NE(md.find("**visual**"), std::string::npos) << md;
  EXPECT_NE(md.find("at 10 % of its norm (80.0 % clean -> 40.0 %)"), std::string::npos) << md;
  // crmt: clean -1 point, +15 under attack: met. adv: +25 under attack but clean -10: not met.
  EXPECT_NE(md.find("| crmt | 79.0 ± 0.0 | -1.0 | 55.0 ± 0.0 | +15.0 | 32.0 ± 2.8 | met |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| adv | 70.0 ± 0.0 | -10.0 | 65.0 ± 0.0 | +25.0 | – | not met |"),
            std::string::npos)
      << md;
  // A gain in clean accuracy keeps it within 2 points; +10 under attack exactly is enough.
  EXPECT_NE(md.find("| crmt-mix | 85.0 ± 0.0 | +5.0 | 50.0 ± 0.0 | +10.0 | – | met |"),
            std::string::npos)
      << md;

  // Where joint training never halves, the largest radius stands in, and says so.
  RobustBenchmark mild{"ST-AVQA", {row("none", 0.80, {0.75, 0.70, 0.60}, {0.78, 0.76, 0.70})}};
  const std::string m = robust_benchmark_markdown(mild);
  EXPECT_NE(m.find("**audio**"), std::string::npos) << m;
  EXPECT_NE(m.find("never loses half"), std::string::npos) << m;

  avqa::testing::TempDir dir("robust_benchmark_plot");
  write_robust_benchmark_plot(b, dir / "robust.png");
  EXPECT_TRUE(std::filesystem::exists(dir / "robust-audio.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "robust-visual.png"));
}

// A run folder left by a benchmark with another training attack is refused, not reused: its
// accuracy would be reported under the new settings.
TEST(RobustBenchmark, RefusesARunFolderTrainedWithAnotherAttack) {
  avqa::testing::TempDir dir("robust_benchmark_other_attack");
  std::filesystem::create_directories(dir / "adv-seed1");
  {
    std::ofstream run(dir / "adv-seed1" / "run.json");
    run << R"({"task": "classify", "robust": "adv", "robust_ball": "joint", "robust_radius": 0.05})";
  }
  RobustBenchmarkOptions o;
  o.data = dir / "no-data";
  o.out = dir.path();
  o.methods = {"adv"};
  o.seeds = 1;
  o.adv_ball = "per-modality";
  auto message = [&] {
    try {
      run_robust_benchmark(o);
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string ball = message();
  EXPECT_NE(ball.find("run.json"), std::string::npos) << ball;
  EXPECT_NE(ball.find("robust_ball"), std::string::npos) << ball;
  o.adv_ball = "joint";
  o.adv_radius = 0.1;
  const std::string radius = message();
  EXPECT_NE(radius.find("robust_radius"), std::string::npos) << radius;
  o.adv_radius = 0.05;
  o.adv_clean_weight = 1;
  const std::string clean_weight = message();
  EXPECT_NE(clean_weight.find("robust_clean_weight"), std::string::npos) << clean_weight;
  o.adv_clean_weight = 0;
  o.adv_modalities = "audio";
  const std::string modalities = message();
  EXPECT_NE(modalities.find("robust_modalities"), std::string::npos) << modalities;
}

}  // namespace
}  // namespace avqa::avclass
