#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

// Labelled videos for audio-visual classification, read from the list files the common datasets
// ship: a CSV with a header (`video_id,label`: what `avqa generate --classes` writes), CREMA-D's
// and Kinetics-Sounds' headerless `id,label` lines, AVE's `Category&VideoID&Quality&Start&End`
// (Annotations.txt, '&'-separated), or tab-separated files. The videos themselves go through
// `avqa extract` into a feature cache; the ids must be the cache's (the video file names without
// extension).
namespace avqa::avclass {

struct LabelledVideo {
  std::string video_id;
  std::string label;
};

struct LabelFileOptions {
  /// Columns by 0-based index or by header name; empty: "video_id"/"label" from a header, else
  /// columns 0 and 1 (AVE: VideoID is column 1, the category column 0: give
  /// id_column "1" and label_column "0", or the header names).
  std::string id_column;
  std::string label_column;
};

/// Reads a label file; the separator (',', '&' or tab) is the first of them in the first line;
/// a first line naming the id and label columns is a header. Throws core::InputError naming the
/// file, the line (0-based record) and what is wrong (missing column, empty id or label).
std::vector<LabelledVideo> load_labelled_videos(const std::filesystem::path& file,
                                                const LabelFileOptions& options = {});

/// The classes of a run: every label in order of first appearance in the files given.
std::vector<std::string> class_names(const std::vector<std::vector<LabelledVideo>>& sets);

}  // namespace avqa::avclass
