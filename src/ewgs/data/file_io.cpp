// Internal whole-file reads (file_io.h): POSIX reads for small files read by many
// threads, zlib for .gz files.
#include "file_io.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <system_error>

#include "ewgs/core/files.h"
#include "ewgs/core/strings.h"

namespace ewgs::data::detail {
namespace {

std::string errno_text(int err) {
  return std::system_category().message(err);
}

/// Closes a file descriptor on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

}  // namespace

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void read_file(const std::string& path, std::vector<uint8_t>& out) {
  require_regular_file(path, "data file");  // opening a FIFO would block
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  TORCH_CHECK(file.fd >= 0, "cannot open '", path, "': ", errno_text(errno));
  struct stat st {};
  TORCH_CHECK(::fstat(file.fd, &st) == 0, "cannot stat '", path, "': ", errno_text(errno));
  TORCH_CHECK(S_ISREG(st.st_mode), "'", path, "' is not a regular file");
  const auto size = static_cast<size_t>(st.st_size);
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(file.fd, out.data() + done, size - done);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    TORCH_CHECK(got >= 0, "cannot read '", path, "': ", errno_text(errno));
    TORCH_CHECK(got > 0, "'", path, "' ended after ", done, " of ", size, " bytes while reading");
    done += static_cast<size_t>(got);
  }
}

std::vector<uint8_t> read_gzip_file(const std::string& path) {
  TORCH_CHECK(is_file(path), "cannot open '", path, "': no such file");
  gzFile file = ::gzopen(path.c_str(), "rb");
  TORCH_CHECK(file != nullptr, "cannot open '", path, "': ", errno_text(errno));
  ::gzbuffer(file, 1 << 18);
  std::vector<uint8_t> out;
  size_t done = 0;
  std::string error;
  while (true) {
    if (out.size() - done < (size_t{1} << 20)) {
      out.resize(std::max<size_t>(out.size() * 2, size_t{4} << 20));
    }
    const size_t want = std::min<size_t>(out.size() - done, size_t{1} << 30);
    const int got = ::gzread(file, out.data() + done, static_cast<unsigned>(want));
    if (got < 0) {
      int code = 0;
      error = ::gzerror(file, &code);
      break;
    }
    if (got == 0) {
      int code = 0;
      const char* message = ::gzerror(file, &code);
      if (code != Z_OK && code != Z_STREAM_END) {
        error = message;
      }
      break;
    }
    done += static_cast<size_t>(got);
  }
  ::gzclose(file);
  TORCH_CHECK(error.empty(), "cannot decompress '", path, "': ", error);
  out.resize(done);
  out.shrink_to_fit();
  return out;
}

std::vector<uint8_t> read_maybe_gzip_file(const std::string& path) {
  if (ends_with(path, ".gz")) {
    return read_gzip_file(path);
  }
  std::vector<uint8_t> out;
  read_file(path, out);
  return out;
}

}  // namespace ewgs::data::detail
