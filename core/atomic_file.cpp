#include "core/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "core/input_error.h"

namespace avqa::core {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& action, int err) {
  throw std::runtime_error(path.string() + ": cannot " + action + ": " + std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path folder =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temp = (folder / ("." + path.filename().string() + ".tmpXXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail(path, "create a temporary file in " + folder.string(), errno);

  auto abandon = [&](const std::string& action) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail(path, action, err);
  };
  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("write");
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // mkstemp creates 0600; a data file should get the usual umask-based permissions.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) abandon("set permissions of");
  if (::fsync(fd) != 0) abandon("flush");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "close", err);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, "rename the temporary file onto", err);
  }
}

std::string read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw InputError({path.string(), std::nullopt, ""}, "is a folder, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError({path.string(), std::nullopt, ""}, "cannot open file for reading");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError({path.string(), std::nullopt, ""}, "read error");
  return buffer.str();
}

}  // namespace avqa::core
