#include "core/train/epoch_metrics.h"

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "tests/test_paths.h"

namespace avqa::train {
namespace {

using avqa::testing::TempDir;

TEST(ReadMetrics, ReadsEpochLinesAndTreatsAMissingFileAsNoEpochs) {
  TempDir dir("metrics");
  EXPECT_TRUE(read_metrics(dir / "metrics.jsonl").empty());
  core::write_file_atomically(
      dir / "metrics.jsonl",
      R"({"epoch": 1, "lr": 0.0003, "train_loss": 2.5, "train_accuracy": 0.25, "val_accuracy": 0.3, "seconds": 4.5}
{"epoch": 2, "lr": 0.0003, "train_loss": 1.5, "train_accuracy": 0.5, "val_accuracy": 0.4, "seconds": 4.0}

)");
  const auto m = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].epoch, 2);
  EXPECT_DOUBLE_EQ(m[0].train_loss, 2.5);
  EXPECT_DOUBLE_EQ(m[1].val_accuracy, 0.4);
  EXPECT_DOUBLE_EQ(m[0].learning_rate, 0.0003);
}

TEST(ReadMetrics, NamesTheFileLineAndFieldOfABadLine) {
  TempDir dir("metrics_bad");
  core::write_file_atomically(
      dir / "m.jsonl",
      R"({"epoch": 1, "lr": 1, "train_loss": 1, "train_accuracy": 0, "val_accuracy": 0, "seconds": 1}
{"epoch": 2, "lr": 1, "train_loss": "high", "train_accuracy": 0, "val_accuracy": 0, "seconds": 1}
)");
  try {
    read_metrics(dir / "m.jsonl");
    FAIL() << "a bad line was accepted";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir / "m.jsonl").string());
    EXPECT_EQ(e.where().record, 1u);  // the second line
    EXPECT_EQ(e.where().field, "train_loss");
  }
  core::write_file_atomically(dir / "n.jsonl", "not json\n");
  EXPECT_THROW(read_metrics(dir / "n.jsonl"), core::InputError);
}

}  // namespace
}  // namespace avqa::train
