// Crash-safe file replacement (atomic_file.h).
#include "ewgs/train/atomic_file.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

namespace ewgs::train {
namespace fs = std::filesystem;
namespace {

void fsync_folder(const fs::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

fs::path temporary_for(const fs::path& target) {
  return target.parent_path() /
         ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()));
}

/// Writes all of `content` to `fd`; returns 0 or the errno of the failure.
int write_all(int fd, std::string_view content) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n < 0 ? errno : ENOSPC;
    }
    done += static_cast<size_t>(n);
  }
  return ::fsync(fd) == 0 ? 0 : errno;
}

std::string failure(const std::string& path, int err, uint64_t needed) {
  std::string message = fmt::format("cannot write {}: {}", path, std::strerror(err));
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    const auto folder = fs::path(path).parent_path();
    const uint64_t free = free_bytes(folder.empty() ? "." : folder.string());
    message += fmt::format(
        "; the file needs {}, the file system holding {} has {} free",
        describe_bytes(needed),
        folder.empty() ? "." : folder.string(),
        free == UINT64_MAX ? std::string("an unknown amount") : describe_bytes(free));
  }
  return message;
}

}  // namespace

void write_file_atomically(
    const std::string& path, std::string_view content, const WriteObserver& observer) {
  const fs::path target(path);
  const fs::path temporary = temporary_for(target);
  if (observer) {
    observer(path, WriteStage::kStarting);
  }
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TORCH_CHECK(fd >= 0, failure(path, errno, content.size()));
  const int err = write_all(fd, content);
  ::close(fd);
  if (err != 0) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    TORCH_CHECK(false, failure(path, err, content.size()));
  }
  if (observer) {
    observer(path, WriteStage::kTemporaryWritten);
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::error_code ignored;
    fs::remove(temporary, ignored);
    TORCH_CHECK(false, "cannot replace ", path, ": ", reason);
  }
  fsync_folder(target.parent_path());
  if (observer) {
    observer(path, WriteStage::kPublished);
  }
}

void publish_file(const std::string& from, const std::string& to, const WriteObserver& observer) {
  if (observer) {
    observer(to, WriteStage::kStarting);
  }
  TORCH_CHECK(
      ::rename(from.c_str(), to.c_str()) == 0,
      "cannot rename ",
      from,
      " to ",
      to,
      ": ",
      std::strerror(errno));
  fsync_folder(fs::path(to).parent_path());
  if (observer) {
    observer(to, WriteStage::kPublished);
  }
}

uint64_t free_bytes(const std::string& folder) {
  struct statvfs st {};
  if (::statvfs(folder.c_str(), &st) != 0) {
    return UINT64_MAX;
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

std::string describe_bytes(uint64_t bytes) {
  if (bytes < 1000) {
    return fmt::format("{} bytes", bytes);
  }
  const char* units[] = {"kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes) / 1000.0;
  size_t unit = 0;
  while (value >= 1000.0 && unit + 1 < std::size(units)) {
    value /= 1000.0;
    ++unit;
  }
  return fmt::format("{:.1f} {} ({} bytes)", value, units[unit], bytes);
}

std::vector<std::string> remove_stale_temporaries(const std::string& folder) {
  static const std::regex kTemporary(R"(\..+\.tmp\.([0-9]{1,9}))");
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch match;
    if (!std::regex_match(name, match, kTemporary)) {
      continue;
    }
    const long pid = std::stol(match[1].str());
    const bool gone =
        pid == ::getpid() || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
    std::error_code remove_ec;
    if (gone && fs::remove(entry.path(), remove_ec)) {
      removed.push_back(name);
    }
  }
  return removed;
}

}  // namespace ewgs::train
