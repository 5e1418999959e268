#include "datasets/features/npy_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/features/half_float.h"

namespace avqa::features {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

[[noreturn]] void bad(const std::filesystem::path& path,
                      const std::string& field,
                      const std::string& what) {
  throw core::InputError({path.string(), std::nullopt, field}, what);
}

// The value of `key` in the header dict, as raw text up to the next top-level comma or brace.
std::string header_value(const std::filesystem::path& path,
                         const std::string& header,
                         const std::string& key) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  std::size_t at = std::string::npos;
  for (const auto& q : quoted) {
    if ((at = header.find(q)) != std::string::npos) {
      at += q.size();
      break;
    }
  }
  if (at == std::string::npos) bad(path, key, "is missing from the .npy header");
  at = header.find(':', at);
  if (at == std::string::npos) bad(path, key, "has no value in the .npy header");
  ++at;
  int depth = 0;
  std::size_t end = at;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string value = header.substr(at, end - at);
  value.erase(0, value.find_first_not_of(" \t"));
  value.erase(value.find_last_not_of(" \t") + 1);
  return value;
}

}  // namespace

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, "", "cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0)
    bad(path, "magic", "not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_length = 0;
  std::size_t offset = 0;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) |
                    static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(path, "header", "truncated header");
    for (int i = 0; i < 4; ++i)
      header_length |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i]))
                       << (8 * i);
    offset = 12;
  } else {
    bad(path, "version", "unsupported .npy format version " + std::to_string(major));
  }
  if (offset + header_length > bytes.size())
    bad(path, "header", "header runs past the end of the file");
  const std::string header = bytes.substr(offset, header_length);
  if (header.find('{') == std::string::npos || header.find('}') == std::string::npos)
    bad(path, "header", "header is not a dict");

  const std::string descr = header_value(path, header, "descr");
  const std::string fortran = header_value(path, header, "fortran_order");
  const std::string shape_text = header_value(path, header, "shape");
  if (fortran != "False")
    bad(path, "fortran_order", "only C-ordered arrays are supported, got " + fortran);
  if (descr.size() < 5 || (descr.front() != '\'' && descr.front() != '"'))
    bad(path, "descr", "not a dtype string: " + descr);
  const std::string dtype = descr.substr(1, descr.size() - 2);
  const char order = dtype[0];
  const std::string kind = dtype.substr(1);
  if ((order != '<' && order != '>' && order != '=' && order != '|') ||
      (kind != "f2" && kind != "f4" && kind != "f8")) {
    bad(path, "descr", "unsupported dtype '" + dtype + "' (float16, float32 or float64)");
  }
  const bool swap = order == '>';

  NpyArray array;
  if (shape_text.empty() || shape_text.front() != '(' || shape_text.back() != ')')
    bad(path, "shape", "not a tuple: " + shape_text);
  std::stringstream dims(shape_text.substr(1, shape_text.size() - 2));
  std::string dim;
  while (std::getline(dims, dim, ',')) {
    dim.erase(0, dim.find_first_not_of(" \t"));
    dim.erase(dim.find_last_not_of(" \t") + 1);
    if (dim.empty()) continue;
    if (dim.find_first_not_of("0123456789") != std::string::npos)
      bad(path, "shape", "not a dimension: " + dim);
    array.shape.push_back(std::stoull(dim));
  }
  const std::uint64_t count = std::accumulate(array.shape.begin(), array.shape.end(),
                                              std::uint64_t{1}, std::multiplies<>());
  const std::size_t width = kind == "f2" ? 2 : kind == "f4" ? 4 : 8;
  const std::size_t data_at = offset + header_length;
  if (bytes.size() - data_at < count * width) {
    bad(path, "data",
        "truncated: " + std::to_string(bytes.size() - data_at) + " bytes of data for " +
            std::to_string(count) + " values of " + std::to_string(width) + " bytes");
  }
  array.values.resize(count);
  const char* data = bytes.data() + data_at;
  for (std::uint64_t i = 0; i < count; ++i) {
    char raw[8];
    std::memcpy(raw, data + i * width, width);
    if (swap) std::reverse(raw, raw + width);
    if (width == 2) {
      std::uint16_t h;
      std::memcpy(&h, raw, 2);
      array.values[i] = half_to_float(h);
    } else if (width == 4) {
      std::memcpy(&array.values[i], raw, 4);
    } else {
      double d;
      std::memcpy(&d, raw, 8);
      array.values[i] = static_cast<float>(d);
    }
  }
  return array;
}

void write_npy(const std::filesystem::path& path,
               const std::vector<std::uint64_t>& shape,
               const std::vector<float>& values) {
  std::string dims;
  for (const auto d : shape)
    dims += std::to_string(d) + ", ";
  if (shape.size() > 1)
    dims.erase(dims.size() - 2);
  else if (shape.size() == 1)
    dims.erase(dims.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string bytes(kMagic, 6);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  core::write_file_atomically(path, bytes);
}

}  // namespace avqa::features
