// Regular-file checks and whole-file reads (include/ewgs/core/files.h).
#include "ewgs/core/files.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "ewgs/core/data_dir.h"

namespace ewgs {
namespace {

const char* file_type(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a folder";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  return "not a plain file";
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    TORCH_CHECK(err != ENOENT, what, " ", path, " does not exist", data_dir_note(path));
    TORCH_CHECK(false, what, " ", path, " cannot be read: ", std::strerror(err));
  }
  TORCH_CHECK(
      S_ISREG(st.st_mode),
      what,
      " ",
      path,
      " is not a regular file (it is ",
      file_type(st.st_mode),
      ")");
}

std::string read_file_bytes(const std::string& path, const std::string& what) {
  require_regular_file(path, what);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TORCH_CHECK(fd >= 0, "cannot open ", what, " ", path, ": ", std::strerror(errno));
  std::string bytes;
  char buffer[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      const int err = errno;
      ::close(fd);
      TORCH_CHECK(got == 0, "cannot read ", what, " ", path, ": ", std::strerror(err));
      return bytes;
    }
    bytes.append(buffer, static_cast<size_t>(got));
  }
}

ScopedFolder::ScopedFolder(std::string path) : path_(std::move(path)) {
  std::filesystem::create_directories(path_);
}

ScopedFolder::~ScopedFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace ewgs
