#include "avclass/class_labels.h"

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "tests/test_paths.h"

namespace avqa::avclass {
namespace {

using avqa::testing::TempDir;

TEST(LabelFiles, ReadsTheCommonLayouts) {
  TempDir dir("labels");
  // What avqa generate --classes writes: a header.
  core::write_file_atomically(dir / "g.csv", "video_id,label\nsyn00001,violin\nsyn00002,piano\n");
  auto v = load_labelled_videos(dir / "g.csv");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].video_id, "syn00002");
  EXPECT_EQ(v[1].label, "piano");
  // CREMA-D / Kinetics-Sounds style: no header, id then label, ids may carry an extension.
  core::write_file_atomically(dir / "c.csv",
                              "1001_DFA_ANG_XX.flv,ANG\r\n1001_DFA_HAP_XX.flv,HAP\r\n");
  v = load_labelled_videos(dir / "c.csv");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].video_id, "1001_DFA_ANG_XX");
  EXPECT_EQ(v[0].label, "ANG");
  // AVE's Annotations.txt: '&'-separated, a header, the category first.
  core::write_file_atomically(dir / "ave.txt",
                              "Category&VideoID&Quality&StartTime&EndTime\n"
                              "Church bell&RUhOCu3LNXM&good&0&10\n"
                              "Male speech, man speaking&MAAwBcBzZ0c&good&0&10\n");
  v = load_labelled_videos(dir / "ave.txt");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].video_id, "MAAwBcBzZ0c");
  EXPECT_EQ(v[1].label, "Male speech, man speaking");
  // Columns by index on a headerless tab-separated file.
  core::write_file_atomically(dir / "t.tsv", "dog\tclip7\nbird\tclip9\n");
  v = load_labelled_videos(dir / "t.tsv", {"1", "0"});
  EXPECT_EQ(v[0].video_id, "clip7");
  EXPECT_EQ(v[0].label, "dog");
  EXPECT_EQ(class_names({v, {{"x", "cat"}, {"y", "dog"}}}),
            (std::vector<std::string>{"dog", "bird", "cat"}));
}

TEST(LabelFiles, NamesTheFileLineAndFieldOfABadRecord) {
  TempDir dir("labels_bad");
  core::write_file_atomically(dir / "a.csv", "video_id,label\nsyn1,violin\nsyn2,\n");
  try {
    load_labelled_videos(dir / "a.csv");
    FAIL() << "an empty label was accepted";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir / "a.csv").string());
    EXPECT_EQ(e.where().record, 2u);
    EXPECT_EQ(e.where().field, "label");
  }
  core::write_file_atomically(dir / "b.csv", "id,label\nsyn1\n");
  try {
    load_labelled_videos(dir / "b.csv");
    FAIL() << "a short line was accepted";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().record, 1u);
  }
  core::write_file_atomically(dir / "c.csv", "clip,what\nsyn1,violin\n");
  EXPECT_THROW(load_labelled_videos(dir / "c.csv", {"clip", "kind"}), core::InputError);
  core::write_file_atomically(dir / "d.csv", "\n\n");
  EXPECT_THROW(load_labelled_videos(dir / "d.csv"), core::InputError);
}

}  // namespace
}  // namespace avqa::avclass
