#include "core/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace avqa::core {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("avqa_atomic_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    ::chmod(dir_.c_str(), 0755);
    fs::remove_all(dir_);
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::size_t files_in_dir() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesAndReplacesWithoutLeavingTemporaries) {
  const fs::path target = dir_ / "vocab.json";
  write_file_atomically(target, "first");
  EXPECT_EQ(read(target), "first");
  write_file_atomically(target, std::string(100000, 'x'));
  EXPECT_EQ(read(target).size(), 100000u);
  EXPECT_EQ(files_in_dir(), 1u);
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::owner_read, fs::perms::owner_read);
}

TEST_F(AtomicFileTest, FailureKeepsTheOldFileAndNamesThePath) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: permissions do not stop writes";
  const fs::path target = dir_ / "keep.json";
  write_file_atomically(target, "old");
  ::chmod(dir_.c_str(), 0555);
  try {
    write_file_atomically(target, "new");
    FAIL() << "expected a failure in a read-only folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(read(target), "old");
}

TEST_F(AtomicFileTest, FailedRenameLeavesTargetAndNoTemporary) {
  // Renaming a file onto a non-empty folder fails even for root.
  const fs::path target = dir_ / "occupied";
  fs::create_directories(target / "inside");
  try {
    write_file_atomically(target, "new");
    FAIL() << "expected the rename to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(files_in_dir(), 1u);  // no temporary left behind
}

TEST_F(AtomicFileTest, MissingFolderIsAnError) {
  EXPECT_THROW(write_file_atomically(dir_ / "no" / "such" / "file", "x"), std::runtime_error);
  EXPECT_EQ(files_in_dir(), 0u);
}

}  // namespace
}  // namespace avqa::core
