#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/input_error.h"
#include "datasets/features/npy_file.h"
#include "datasets/features/npy_import.h"
#include "tests/test_paths.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// A .npy file byte for byte: magic, version, little-endian header length, header, data.
void write_raw(const fs::path& path,
               const std::string& header,
               const std::string& data,
               char version = 1) {
  std::string padded = header;
  while ((10 + padded.size() + 1) % 64 != 0)
    padded += ' ';
  padded += '\n';
  std::string bytes = std::string("\x93NUMPY", 6) + version + '\0';
  bytes += static_cast<char>(padded.size() & 0xFF);
  bytes += static_cast<char>(padded.size() >> 8);
  std::ofstream(path, std::ios::binary) << bytes << padded << data;
}

std::string floats(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values)
    out.append(reinterpret_cast<const char*>(&v), 4);
  return out;
}

TEST(Npy, ReadsWhatNumpyWrites) {
  TempDir dir("npy");
  write_raw(dir / "a.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            floats({1, 2, 3, 4, 5, 6.5f}));
  const NpyArray a = read_npy(dir / "a.npy");
  EXPECT_EQ(a.shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(a.values, (std::vector<float>{1, 2, 3, 4, 5, 6.5f}));
  // float64 and big-endian float32 are converted.
  double d[2] = {0.25, -8};
  write_raw(dir / "d.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            std::string(reinterpret_cast<char*>(d), 16));
  EXPECT_EQ(read_npy(dir / "d.npy").values, (std::vector<float>{0.25f, -8.f}));
  std::string big = floats({3.5f});
  std::reverse(big.begin(), big.end());
  write_raw(dir / "b.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", big);
  EXPECT_EQ(read_npy(dir / "b.npy").values, std::vector<float>{3.5f});
  write_npy(dir / "w.npy", {2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(read_npy(dir / "w.npy").shape, (std::vector<std::uint64_t>{2, 2}));
}

TEST(Npy, MalformedHeadersNameTheField) {
  TempDir dir("npy_bad");
  const std::string data = floats({1, 2});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "descr"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "fortran_order"},
      {"{'descr': '<f4', 'fortran_order': False, }", "shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "shape"},
      {"{'fortran_order': False, 'shape': (2,), }", "descr"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "data"},  // 2 values for 3
      {"not a dict at all", "header"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const fs::path p = dir / ("bad" + std::to_string(i) + ".npy");
    write_raw(p, cases[i].first, data);
    try {
      read_npy(p);
      FAIL() << "accepted: " << cases[i].first;
    } catch (const core::InputError& e) {
      EXPECT_EQ(e.where().field, cases[i].second) << e.what();
    }
  }
  std::ofstream(dir / "text.npy") << "hello";
  EXPECT_THROW(read_npy(dir / "text.npy"), core::InputError);
  write_raw(dir / "v9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 9);
  EXPECT_THROW(read_npy(dir / "v9.npy"), core::InputError);
}

TEST(NpyImport, OriginalLayoutIntoTheCacheWithBadFilesReported) {
  TempDir dir("npy_import");
  fs::create_directories(dir / "vggish");
  fs::create_directories(dir / "res18");
  for (int v = 0; v < 3; ++v) {
    std::vector<float> a(4 * 128), r(4 * 8 * 2 * 2);
    for (std::size_t i = 0; i < a.size(); ++i)
      a[i] = static_cast<float>(v) + static_cast<float>(i % 16) / 16.f;
    for (std::size_t i = 0; i < r.size(); ++i)
      r[i] = static_cast<float>(v) - static_cast<float>(i % 8) / 8.f;
    write_npy(dir / "vggish" / ("0000000" + std::to_string(v) + ".npy"), {4, 128}, a);
    write_npy(dir / "res18" / ("0000000" + std::to_string(v) + ".npy"), {4, 8, 2, 2}, r);
  }
  write_npy(dir / "res18/00000009.npy", {3, 8, 2, 2},
            std::vector<float>(3 * 32));  // other T; no audio file
  ImportOptions o;
  o.audio_dir = dir / "vggish";
  o.visual_dir = dir / "res18";
  o.out = dir / "features.h5";
  o.progress = false;
  const ExtractSummary s = import_npy(o);
  EXPECT_EQ(s.extracted, 3u);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].first, "00000009");
  const FeatureCacheReader reader(o.out);
  EXPECT_EQ(reader.layout().segments, 4);
  const auto audio = reader.read("audio", *reader.find("00000002"));
  EXPECT_EQ(audio[17], 2.f + 1.f / 16.f);
  EXPECT_EQ(reader.layout().modalities[0].weights, "unknown (imported .npy files)");
  EXPECT_EQ(reader.status()[*reader.find("00000009")], VideoStatus::Failed);
}

}  // namespace
}  // namespace avqa::features
