// Crash-safe file replacement (include/ewgs/train/atomic_file.h).
#include "ewgs/train/atomic_file.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ewgs::train {
namespace {

void fsync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

} // namespace

void write_file_atomically(
    const std::string& path,
    const std::function<void(const std::function<size_t(const void*, size_t)>&)>& write) {
  const std::filesystem::path target(path);
  const std::filesystem::path temporary =
      target.parent_path() / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TORCH_CHECK(fd >= 0, "cannot write ", path, ": ", std::strerror(errno));
  std::string failure;
  try {
    write([&](const void* data, size_t size) -> size_t {
      const char* bytes = static_cast<const char*>(data);
      size_t done = 0;
      while (done < size) {
        const ssize_t n = ::write(fd, bytes + done, size - done);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        TORCH_CHECK(n > 0, "cannot write ", path, ": ", std::strerror(errno));
        done += static_cast<size_t>(n);
      }
      return size;
    });
    TORCH_CHECK(::fsync(fd) == 0, "cannot flush ", path, ": ", std::strerror(errno));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  ::close(fd);
  if (!failure.empty()) {
    std::filesystem::remove(temporary);
    TORCH_CHECK(false, failure);
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::filesystem::remove(temporary);
    TORCH_CHECK(false, "cannot replace ", path, ": ", reason);
  }
  fsync_folder(target.parent_path());
}

} // namespace ewgs::train
