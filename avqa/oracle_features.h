#pragma once

#include <filesystem>
#include <string>
#include <vector>

// DIAGNOSTIC, generated data only: a feature cache that holds a clip's ground truth instead of
// what backbones see and hear. ST-AVQA trained on it answers as well as its questions allow when
// the features know everything the generator knows: the ceiling of the question answering part at
// a dataset's size, apart from the backbones. Real data has no truth; such a cache never stands in
// for features, and its metadata says what it is.
namespace avqa::net {

struct OracleFeatureOptions {
  int grid = 7;          ///< the visual maps' rows and columns (7 at 112 px, 14 at 224 px)
  int channels = 512;    ///< the visual maps' channels, as ResNet-18's
  int audio_dims = 128;  ///< the audio feature's size, as VGGish's
};

/// Writes `out` (which must not exist), one video per truth file `truth_dir`/<id>.json of
/// `video_ids`, one segment per second of the clip. Per second, with c the instrument's index in
/// data::music_avqa_instruments():
///   audio [audio_dims]: c = 1 when an instrument of class c sounds (off-screen ones too);
///     22 + c: its loudness, (dBFS of that second's RMS + 60) / 60 clipped to [0, 1];
///     44 + c: its onsets in that second; 66: the voiceover is heard; the rest 0.
///   visual [channels, grid, grid]: channel c = 1 on the cells whose centre lies in the box of a
///     visible instrument of class c; 22 + c the same for those sounding then; the rest 0.
/// The cache's backbones are "oracle-truth", its weights "DIAGNOSTIC: ...". Throws
/// core::InputError naming the truth file and field for an instrument MUSIC-AVQA does not have or
/// a clip of another length than the first.
void write_oracle_cache(const std::filesystem::path& truth_dir,
                        const std::vector<std::string>& video_ids,
                        const std::filesystem::path& out,
                        const OracleFeatureOptions& options = {});

}  // namespace avqa::net
