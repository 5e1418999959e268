#include "core/sha256.h"

#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

namespace avqa::core {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShotAcrossBlockBoundaries) {
  std::string data;
  for (int i = 0; i < 300; ++i)
    data += static_cast<char>(i * 7);
  Sha256 hash;
  for (std::size_t i = 0; i < data.size(); i += 13)
    hash.update(data.substr(i, 13));
  EXPECT_EQ(hash.hex_digest(), sha256_hex(data));
}

TEST(Sha256, FilesAndMissingFiles) {
  const auto path =
      std::filesystem::temp_directory_path() / ("avqa_sha_" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_EQ(sha256_file(path), sha256_hex("abc"));
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path), std::runtime_error);
}

}  // namespace
}  // namespace avqa::core
