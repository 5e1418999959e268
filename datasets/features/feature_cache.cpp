#include "datasets/features/feature_cache.h"

#include <H5Cpp.h>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "core/input_error.h"
#include "datasets/features/half_float.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void bad_cache(const fs::path& path,
                            const std::string& field,
                            const std::string& what) {
  throw core::InputError({path.string(), std::nullopt, field}, what);
}

// IEEE binary16 as an HDF5 type (h5py reads it as numpy float16).
H5::FloatType half_type() {
  H5::FloatType t(H5::PredType::IEEE_F32LE);
  H5Tset_fields(t.getId(), 15, 10, 5, 0, 10);
  H5Tset_size(t.getId(), 2);
  H5Tset_ebias(t.getId(), 15);
  H5Tset_precision(t.getId(), 16);
  return t;
}

H5::DataType file_type(StorageType storage) {
  return storage == StorageType::Float16 ? H5::DataType(half_type())
                                         : H5::DataType(H5::PredType::IEEE_F32LE);
}

void write_string_attribute(H5::H5Object& object,
                            const std::string& name,
                            const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, std::max<std::size_t>(1, value.size()));
  H5::Attribute attribute = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attribute.write(type, value.empty() ? std::string(1, '\0') : value);
}

template <typename T>
void write_scalar_attribute(H5::H5Object& object,
                            const std::string& name,
                            const H5::PredType& type,
                            T value) {
  H5::Attribute attribute = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attribute.write(type, &value);
}

std::string read_string_attribute(const H5::H5Object& object, const std::string& name) {
  H5::Attribute attribute = object.openAttribute(name);
  H5::StrType type = attribute.getStrType();
  std::string value;
  attribute.read(type, value);
  value.erase(std::find(value.begin(), value.end(), '\0'), value.end());
  return value;
}

template <typename T>
T read_scalar_attribute(const H5::H5Object& object,
                        const std::string& name,
                        const H5::PredType& type) {
  T value{};
  object.openAttribute(name).read(type, &value);
  return value;
}

std::vector<hsize_t> dataset_dims(std::size_t videos,
                                  const CacheLayout& layout,
                                  const ModalityLayout& m) {
  std::vector<hsize_t> dims = {videos, static_cast<hsize_t>(layout.segments)};
  dims.insert(dims.end(), m.segment_shape.begin(), m.segment_shape.end());
  return dims;
}

// Reads the layout back from an open file.
CacheLayout read_layout(const H5::H5File& file, const fs::path& path) {
  CacheLayout layout;
  try {
    const int schema = read_scalar_attribute<int>(file, "schema_version", H5::PredType::NATIVE_INT);
    if (schema > kCacheSchemaVersion) {
      bad_cache(path, "schema_version",
                "cache schema " + std::to_string(schema) + " is newer than this build reads (" +
                    std::to_string(kCacheSchemaVersion) + ")");
    }
    layout.segments = read_scalar_attribute<int>(file, "segments", H5::PredType::NATIVE_INT);
    layout.fps = read_scalar_attribute<double>(file, "fps", H5::PredType::NATIVE_DOUBLE);
    layout.sample_rate = read_scalar_attribute<int>(file, "sample_rate", H5::PredType::NATIVE_INT);
    layout.storage = parse_storage_type(read_string_attribute(file, "storage"));
    const std::string modalities = read_string_attribute(file, "modalities");
    std::size_t start = 0;
    while (start < modalities.size()) {
      const std::size_t comma = modalities.find(',', start);
      ModalityLayout m;
      m.name =
          modalities.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      const H5::DataSet data = file.openDataSet(m.name);
      const H5::DataSpace space = data.getSpace();
      std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
      space.getSimpleExtentDims(dims.data());
      m.segment_shape.assign(dims.begin() + 2, dims.end());
      m.backbone = read_string_attribute(file, m.name + "_backbone");
      m.weights = read_string_attribute(file, m.name + "_weights");
      layout.modalities.push_back(m);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    const H5::DataSet ids = file.openDataSet("video_ids");
    const H5::StrType id_type = ids.getStrType();
    hsize_t count = 0;
    ids.getSpace().getSimpleExtentDims(&count);
    const std::size_t width = id_type.getSize();
    std::vector<char> raw(count * width);
    ids.read(raw.data(), id_type);
    for (hsize_t i = 0; i < count; ++i) {
      std::string id(raw.data() + i * width, width);
      id.erase(std::find(id.begin(), id.end(), '\0'), id.end());
      layout.video_ids.push_back(id);
    }
    const int attributes = file.getNumAttrs();
    for (int a = 0; a < attributes; ++a) {
      const H5::Attribute attribute = file.openAttribute(static_cast<unsigned>(a));
      const std::string name = attribute.getName();
      if (name.rfind("info_", 0) == 0)
        layout.attributes[name.substr(5)] = read_string_attribute(file, name);
    }
  } catch (const H5::Exception& e) {
    bad_cache(path, "", "not a feature cache written by avqa (" + e.getDetailMsg() + ")");
  }
  return layout;
}

std::vector<std::uint8_t> read_bytes(const H5::H5File& file, const char* name, std::size_t count) {
  std::vector<std::uint8_t> values(count);
  file.openDataSet(name).read(values.data(), H5::PredType::NATIVE_UINT8);
  return values;
}

}  // namespace

const char* to_string(StorageType type) {
  return type == StorageType::Float16 ? "float16" : "float32";
}

StorageType parse_storage_type(const std::string& text) {
  if (text == "f16" || text == "float16") return StorageType::Float16;
  if (text == "f32" || text == "float32") return StorageType::Float32;
  throw std::invalid_argument("unknown feature storage type '" + text + "' (f16 or f32)");
}

std::uint64_t ModalityLayout::segment_size() const {
  return std::accumulate(segment_shape.begin(), segment_shape.end(), std::uint64_t{1},
                         std::multiplies<>());
}

struct FeatureCacheWriter::Impl {
  fs::path path;
  CacheLayout layout;
  H5::H5File file;
  std::vector<VideoStatus> status;

  void set_status(std::size_t video, VideoStatus value) {
    H5::DataSet data = file.openDataSet("status");
    H5::DataSpace space = data.getSpace();
    const hsize_t start = video;
    const hsize_t count = 1;
    space.selectHyperslab(H5S_SELECT_SET, &count, &start);
    const H5::DataSpace one(1, &count);
    const auto byte = static_cast<std::uint8_t>(value);
    data.write(&byte, H5::PredType::NATIVE_UINT8, one, space);
    status[video] = value;
  }
};

FeatureCacheWriter::FeatureCacheWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureCacheWriter::FeatureCacheWriter(FeatureCacheWriter&&) noexcept = default;
FeatureCacheWriter& FeatureCacheWriter::operator=(FeatureCacheWriter&&) noexcept = default;
FeatureCacheWriter::~FeatureCacheWriter() = default;

FeatureCacheWriter FeatureCacheWriter::create(const fs::path& path, const CacheLayout& layout) {
  if (fs::exists(path))
    bad_cache(path, "", "already exists; pass --resume to finish it or choose another file");
  if (layout.video_ids.empty())
    throw std::invalid_argument("a feature cache needs at least one video");
  H5::Exception::dontPrint();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->layout = layout;
  const std::size_t n = layout.video_ids.size();
  try {
    impl->file = H5::H5File(path.string(), H5F_ACC_EXCL);
    H5::H5File& f = impl->file;
    write_scalar_attribute(f, "schema_version", H5::PredType::NATIVE_INT, kCacheSchemaVersion);
    write_scalar_attribute(f, "segments", H5::PredType::NATIVE_INT, layout.segments);
    write_scalar_attribute(f, "fps", H5::PredType::NATIVE_DOUBLE, layout.fps);
    write_scalar_attribute(f, "sample_rate", H5::PredType::NATIVE_INT, layout.sample_rate);
    write_string_attribute(f, "storage", to_string(layout.storage));
    std::string names;
    for (const auto& m : layout.modalities)
      names += (names.empty() ? "" : ",") + m.name;
    write_string_attribute(f, "modalities", names);
    for (const auto& [key, value] : layout.attributes)
      write_string_attribute(f, "info_" + key, value);

    // Small per-video arrays: contiguous, allocated and zero-filled now (status 0 = pending).
    const hsize_t count = n;
    const H5::DataSpace vector_space(1, &count);
    H5::DSetCreatPropList small;
    small.setAllocTime(H5D_ALLOC_TIME_EARLY);
    small.setFillTime(H5D_FILL_TIME_ALLOC);
    std::size_t width = 1;
    for (const auto& id : layout.video_ids)
      width = std::max(width, id.size() + 1);
    H5::StrType id_type(H5::PredType::C_S1, width);
    std::vector<char> ids(n * width, '\0');
    for (std::size_t i = 0; i < n; ++i)
      std::copy(layout.video_ids[i].begin(), layout.video_ids[i].end(), ids.begin() + i * width);
    f.createDataSet("video_ids", id_type, vector_space).write(ids.data(), id_type);
    f.createDataSet("status", H5::PredType::STD_U8LE, vector_space, small);
    f.createDataSet("has_audio", H5::PredType::STD_U8LE, vector_space, small);
    f.createDataSet("real_seconds", H5::PredType::IEEE_F32LE, vector_space, small);

    // Features: one chunk per segment, every chunk allocated now, so writing a video later
    // only fills raw data at known places and never touches the file's structure.
    for (const auto& m : layout.modalities) {
      const auto dims = dataset_dims(n, layout, m);
      std::vector<hsize_t> chunk = dims;
      chunk[0] = 1;
      chunk[1] = 1;
      H5::DSetCreatPropList plist;
      plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
      plist.setAllocTime(H5D_ALLOC_TIME_EARLY);
      plist.setFillTime(H5D_FILL_TIME_NEVER);
      f.createDataSet(m.name, file_type(layout.storage),
                      H5::DataSpace(static_cast<int>(dims.size()), dims.data()), plist);
      write_string_attribute(f, m.name + "_backbone", m.backbone);
      write_string_attribute(f, m.name + "_weights", m.weights);
    }
    f.flush(H5F_SCOPE_GLOBAL);
  } catch (const H5::Exception& e) {
    std::error_code ec;
    fs::remove(path, ec);
    throw std::runtime_error(path.string() +
                             ": cannot create the feature cache: " + e.getDetailMsg());
  }
  impl->status.assign(n, VideoStatus::Pending);
  return FeatureCacheWriter(std::move(impl));
}

FeatureCacheWriter FeatureCacheWriter::resume(const fs::path& path, const CacheLayout& layout) {
  H5::Exception::dontPrint();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  try {
    impl->file = H5::H5File(path.string(), H5F_ACC_RDWR);
  } catch (const H5::Exception& e) {
    bad_cache(path, "", "cannot open the feature cache to resume it: " + e.getDetailMsg());
  }
  impl->layout = read_layout(impl->file, path);
  const CacheLayout& had = impl->layout;
  if (had.video_ids != layout.video_ids) {
    bad_cache(path, "video_ids",
              "the cache was created for another list of videos (" +
                  std::to_string(had.video_ids.size()) + " vs " +
                  std::to_string(layout.video_ids.size()) + "); extract into a new cache");
  }
  if (had.segments != layout.segments || had.fps != layout.fps || had.storage != layout.storage) {
    bad_cache(path, "segments", "the cache was created with other sampling or storage settings");
  }
  if (had.modalities.size() != layout.modalities.size())
    bad_cache(path, "modalities", "other modalities");
  for (std::size_t i = 0; i < had.modalities.size(); ++i) {
    const auto& a = had.modalities[i];
    const auto& b = layout.modalities[i];
    if (a.name != b.name || a.segment_shape != b.segment_shape || a.backbone != b.backbone ||
        a.weights != b.weights) {
      bad_cache(path, a.name,
                "the cache holds " + a.name + " features of " + a.backbone + " (" + a.weights +
                    "), not of " + b.backbone + " (" + b.weights + ")");
    }
  }
  const auto raw = read_bytes(impl->file, "status", had.video_ids.size());
  for (const std::uint8_t s : raw)
    impl->status.push_back(s == 1   ? VideoStatus::Done
                           : s == 2 ? VideoStatus::Failed
                                    : VideoStatus::Pending);
  return FeatureCacheWriter(std::move(impl));
}

const CacheLayout& FeatureCacheWriter::layout() const {
  return impl_->layout;
}
std::vector<VideoStatus> FeatureCacheWriter::status() const {
  return impl_->status;
}

void FeatureCacheWriter::write(std::size_t video, const VideoFeatures& features) {
  Impl& s = *impl_;
  const CacheLayout& layout = s.layout;
  if (video >= layout.video_ids.size()) throw std::out_of_range("video index outside the cache");
  for (const auto& m : layout.modalities) {
    const auto it = features.modalities.find(m.name);
    const std::size_t expected = static_cast<std::size_t>(layout.segments) * m.segment_size();
    if (it == features.modalities.end() || it->second.size() != expected) {
      throw std::invalid_argument(
          layout.video_ids[video] + ": " + m.name + " features have " +
          std::to_string(it == features.modalities.end() ? 0 : it->second.size()) +
          " values, the cache expects " + std::to_string(expected));
    }
    H5::DataSet data = s.file.openDataSet(m.name);
    H5::DataSpace space = data.getSpace();
    const auto dims = dataset_dims(layout.video_ids.size(), layout, m);
    std::vector<hsize_t> start(dims.size(), 0);
    std::vector<hsize_t> count = dims;
    start[0] = video;
    count[0] = 1;
    space.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
    const H5::DataSpace memory(static_cast<int>(count.size()), count.data());
    if (layout.storage == StorageType::Float16) {
      std::vector<std::uint16_t> half(it->second.size());
      std::transform(it->second.begin(), it->second.end(), half.begin(), float_to_half);
      data.write(half.data(), half_type(), memory, space);
    } else {
      data.write(it->second.data(), H5::PredType::NATIVE_FLOAT, memory, space);
    }
  }
  const hsize_t one = 1;
  const hsize_t at = video;
  const H5::DataSpace scalar(1, &one);
  for (const char* name : {"real_seconds", "has_audio"}) {
    H5::DataSet data = s.file.openDataSet(name);
    H5::DataSpace space = data.getSpace();
    space.selectHyperslab(H5S_SELECT_SET, &one, &at);
    if (std::string(name) == "real_seconds") {
      data.write(&features.real_seconds, H5::PredType::NATIVE_FLOAT, scalar, space);
    } else {
      const std::uint8_t flag = features.has_audio ? 1 : 0;
      data.write(&flag, H5::PredType::NATIVE_UINT8, scalar, space);
    }
  }
  // Data first, then the flag that says it is complete, each flushed: a crash between the two
  // leaves the video pending, never half-written and marked done.
  s.file.flush(H5F_SCOPE_GLOBAL);
  s.set_status(video, VideoStatus::Done);
  s.file.flush(H5F_SCOPE_GLOBAL);
}

void FeatureCacheWriter::mark_failed(std::size_t video) {
  impl_->set_status(video, VideoStatus::Failed);
  impl_->file.flush(H5F_SCOPE_GLOBAL);
}

struct FeatureCacheReader::Impl {
  fs::path path;
  H5::H5File file;
  CacheLayout layout;
  std::vector<VideoStatus> status;
  std::vector<float> real_seconds;
  std::vector<std::uint8_t> has_audio;
  std::unordered_map<std::string, std::size_t> index;
  std::map<std::string, H5::DataSet> datasets;
  mutable std::mutex mutex;  // HDF5's C++ objects are not safe to share between threads
};

FeatureCacheReader::FeatureCacheReader(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  H5::Exception::dontPrint();
  Impl& s = *impl_;
  s.path = path;
  if (!fs::is_regular_file(path)) bad_cache(path, "", "no such feature cache");
  try {
    s.file = H5::H5File(path.string(), H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    bad_cache(path, "", "not an HDF5 file: " + e.getDetailMsg());
  }
  s.layout = read_layout(s.file, path);
  const std::size_t n = s.layout.video_ids.size();
  try {
    const auto raw = read_bytes(s.file, "status", n);
    for (const std::uint8_t b : raw)
      s.status.push_back(b == 1   ? VideoStatus::Done
                         : b == 2 ? VideoStatus::Failed
                                  : VideoStatus::Pending);
    s.has_audio = read_bytes(s.file, "has_audio", n);
    s.real_seconds.resize(n);
    s.file.openDataSet("real_seconds").read(s.real_seconds.data(), H5::PredType::NATIVE_FLOAT);
    for (const auto& m : s.layout.modalities)
      s.datasets.emplace(m.name, s.file.openDataSet(m.name));
  } catch (const H5::Exception& e) {
    bad_cache(path, "", "damaged feature cache: " + e.getDetailMsg());
  }
  for (std::size_t i = 0; i < n; ++i)
    s.index.emplace(s.layout.video_ids[i], i);
}

FeatureCacheReader::~FeatureCacheReader() = default;

const CacheLayout& FeatureCacheReader::layout() const {
  return impl_->layout;
}
const std::vector<VideoStatus>& FeatureCacheReader::status() const {
  return impl_->status;
}

std::optional<std::size_t> FeatureCacheReader::find(const std::string& video_id) const {
  const auto it = impl_->index.find(video_id);
  if (it == impl_->index.end()) return std::nullopt;
  return it->second;
}

float FeatureCacheReader::real_seconds(std::size_t video) const {
  return impl_->real_seconds.at(video);
}
bool FeatureCacheReader::has_audio(std::size_t video) const {
  return impl_->has_audio.at(video) != 0;
}

std::vector<float> FeatureCacheReader::read(const std::string& modality,
                                            std::size_t video,
                                            const std::vector<int>& segments) const {
  const Impl& s = *impl_;
  const auto m = std::find_if(s.layout.modalities.begin(), s.layout.modalities.end(),
                              [&](const ModalityLayout& x) { return x.name == modality; });
  if (m == s.layout.modalities.end())
    bad_cache(s.path, modality, "the cache has no " + modality + " features");
  if (video >= s.status.size()) throw std::out_of_range("video index outside the cache");
  if (s.status[video] != VideoStatus::Done) {
    bad_cache(
        s.path, modality,
        "video " + s.layout.video_ids[video] + " has no features (" +
            (s.status[video] == VideoStatus::Failed ? "extraction failed" : "not extracted yet") +
            ")");
  }
  std::vector<int> wanted = segments;
  if (wanted.empty()) {
    wanted.resize(static_cast<std::size_t>(s.layout.segments));
    std::iota(wanted.begin(), wanted.end(), 0);
  }
  for (const int w : wanted) {
    if (w < 0 || w >= s.layout.segments) {
      throw std::out_of_range("segment " + std::to_string(w) + " outside 0.." +
                              std::to_string(s.layout.segments - 1));
    }
  }
  const std::size_t size = m->segment_size();
  std::vector<float> out(wanted.size() * size);
  const auto dims = dataset_dims(s.layout.video_ids.size(), s.layout, *m);
  std::vector<hsize_t> start(dims.size(), 0);
  std::vector<hsize_t> count = dims;
  count[0] = 1;
  count[1] = 1;
  // One read for all segments: a union of hyperslabs (in file order) into a [k, ...] buffer.
  std::vector<int> order = wanted;
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<hsize_t> memory_dims = count;
  memory_dims[1] = order.size();
  const H5::DataSpace memory(static_cast<int>(memory_dims.size()), memory_dims.data());
  std::vector<std::uint16_t> half(s.layout.storage == StorageType::Float16 ? order.size() * size
                                                                           : 0);
  std::vector<float> full(s.layout.storage == StorageType::Float32 ? order.size() * size : 0);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    const H5::DataSet& data = s.datasets.at(modality);
    H5::DataSpace space = data.getSpace();
    space.selectNone();
    for (const int segment : order) {
      start[0] = video;
      start[1] = static_cast<hsize_t>(segment);
      space.selectHyperslab(H5S_SELECT_OR, count.data(), start.data());
    }
    if (s.layout.storage == StorageType::Float16) {
      data.read(half.data(), half_type(), memory, space);
    } else {
      data.read(full.data(), H5::PredType::NATIVE_FLOAT, memory, space);
    }
  }
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    const std::size_t row = static_cast<std::size_t>(
        std::lower_bound(order.begin(), order.end(), wanted[k]) - order.begin());
    float* target = out.data() + k * size;
    if (s.layout.storage == StorageType::Float16) {
      half_to_float_n(half.data() + row * size, target, size);
    } else {
      std::copy_n(full.data() + row * size, size, target);
    }
  }
  return out;
}

std::vector<std::string> verify_cache(const FeatureCacheReader& reader) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < reader.status().size(); ++i) {
    const std::string& id = reader.layout().video_ids[i];
    if (reader.status()[i] != VideoStatus::Done) {
      problems.push_back("video " + id + " " +
                         (reader.status()[i] == VideoStatus::Failed ? "failed to extract"
                                                                    : "is not extracted yet"));
      continue;
    }
    for (const auto& m : reader.layout().modalities) {
      const auto values = reader.read(m.name, i);
      if (!std::all_of(values.begin(), values.end(), [](float x) { return std::isfinite(x); }))
        problems.push_back("video " + id + ": " + m.name + " features hold NaN or infinity");
    }
  }
  return problems;
}

}  // namespace avqa::features
