#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace avqa::testing {

/// A hand-written fixture under tests/fixtures.
inline std::filesystem::path fixture(const std::string& relative) {
  return std::filesystem::path(AVQA_TEST_FIXTURES) / relative;
}

/// ../shared/data/music-avqa beside the checkout (AVQA_SHARED_DIR overrides at run time).
/// Empty when absent, as on a user's fresh clone: tests then GTEST_SKIP with a message.
inline std::filesystem::path music_avqa_dir() {
  const char* env = std::getenv("AVQA_SHARED_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(env && *env ? env : AVQA_SHARED_DIR) / "data/music-avqa";
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? dir : std::filesystem::path();
}

/// Points the SentencePiece client at the avqa-spm this build made (see sentence_piece.h).
inline void use_built_sentence_piece_helper() {
  ::setenv("AVQA_SPM", AVQA_SPM_HELPER, 1);
}

/// A fresh, empty folder for one test, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("avqa_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace avqa::testing

/// Skips the current test, visibly, when the shared MUSIC-AVQA annotations are not present.
#define AVQA_REQUIRE_MUSIC_AVQA(dir_var)                                                       \
  const std::filesystem::path dir_var = ::avqa::testing::music_avqa_dir();                     \
  if (dir_var.empty()) {                                                                       \
    GTEST_SKIP()                                                                               \
        << "MUSIC-AVQA annotations not found (../shared/data/music-avqa beside the "           \
           "checkout, or set AVQA_SHARED_DIR); the hand-written fixtures cover the same code"; \
  }
