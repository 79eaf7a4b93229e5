// Extract-once helper for data archives (include/ewgs/data/archive.h), on libarchive.
#include "ewgs/data/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <c10/util/Exception.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "ewgs/core/files.h"

namespace ewgs::data {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

std::string error_of(struct archive* a) {
  const char* text = archive_error_string(a);
  return text == nullptr ? "unknown error" : text;
}

/// Whether the member name `p` is absolute or has a ".." component.
bool unsafe_name(const fs::path& p) {
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) {
    return true;
  }
  for (const auto& part : p) {
    if (part == "..") {
      return true;
    }
  }
  return false;
}

/// Whether a link at `member` to the relative `target` resolves outside the folder.
bool leaves_folder(const fs::path& member, const fs::path& target) {
  if (target.is_absolute()) {
    return true;
  }
  const fs::path resolved = (member.parent_path() / target).lexically_normal();
  return !resolved.empty() && *resolved.begin() == "..";
}

/// Refuses a member that could write or point outside the extraction folder.
void check_member(struct archive_entry* entry, const std::string& archive) {
  const char* raw = archive_entry_pathname(entry);
  const std::string name = raw == nullptr ? "" : raw;
  TORCH_CHECK(!name.empty(), "archive '", archive, "' has a member without a name");
  TORCH_CHECK(
      !unsafe_name(name),
      "archive '",
      archive,
      "': member '",
      name,
      "' escapes the extraction folder (an absolute path or a '..'); refusing to extract the "
      "archive");
  const mode_t type = archive_entry_filetype(entry);
  if (const char* link = archive_entry_hardlink(entry)) {
    TORCH_CHECK(
        !unsafe_name(link),
        "archive '",
        archive,
        "': hard link '",
        name,
        "' -> '",
        link,
        "' escapes the extraction folder");
  } else if (type == AE_IFLNK) {
    const char* target = archive_entry_symlink(entry);
    TORCH_CHECK(
        target != nullptr && !leaves_folder(name, target),
        "archive '",
        archive,
        "': symbolic link '",
        name,
        "' -> '",
        target == nullptr ? "" : target,
        "' points outside the extraction folder; refusing to extract the archive");
  } else {
    TORCH_CHECK(
        type == AE_IFREG || type == AE_IFDIR,
        "archive '",
        archive,
        "': member '",
        name,
        "' is neither a file, a folder nor a link; data archives hold files and folders");
  }
}

/// Extracts every member of `archive` under `into`, checking each one first.
void extract_into(const std::string& archive, const fs::path& into) {
  ArchivePtr in(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  TORCH_CHECK(
      archive_read_open_filename(in.get(), archive.c_str(), 1 << 16) == ARCHIVE_OK,
      "cannot read archive '",
      archive,
      "': ",
      error_of(in.get()));
  ArchivePtr out(archive_write_disk_new(), archive_write_free);
  archive_write_disk_set_options(
      out.get(), ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  struct archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(in.get(), &entry);
    if (status == ARCHIVE_EOF) {
      break;
    }
    TORCH_CHECK(status >= ARCHIVE_WARN, "archive '", archive, "' is corrupt: ", error_of(in.get()));
    check_member(entry, archive);
    const std::string name = archive_entry_pathname(entry);
    const auto written = [&](int status) {
      TORCH_CHECK(
          status >= ARCHIVE_WARN,
          "cannot extract '",
          name,
          "' of archive '",
          archive,
          "': ",
          error_of(out.get()));
    };
    archive_entry_set_pathname(entry, (into / name).c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      archive_entry_set_hardlink(entry, (into / link).c_str());
    }
    written(archive_write_header(out.get(), entry));
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while (true) {
      const int read = archive_read_data_block(in.get(), &block, &size, &offset);
      if (read == ARCHIVE_EOF) {
        break;
      }
      TORCH_CHECK(
          read >= ARCHIVE_WARN,
          "archive '",
          archive,
          "': member '",
          name,
          "' is corrupt: ",
          error_of(in.get()));
      written(archive_write_data_block(out.get(), block, size, offset));
    }
    written(archive_write_finish_entry(out.get()));
  }
}

/// 16 hex digits of FNV-1a over the archive's canonical path, size and
/// modification time: a changed or different source gets its own folder.
std::string source_key(const std::string& archive) {
  struct stat st {};
  TORCH_CHECK(::stat(archive.c_str(), &st) == 0, "archive '", archive, "' does not exist");
  const std::string identity = fs::canonical(archive).string() + "\n" + std::to_string(st.st_size) +
                               "\n" + std::to_string(st.st_mtim.tv_sec) + "." +
                               std::to_string(st.st_mtim.tv_nsec);
  uint64_t hash = 1469598103934665603ULL;
  for (const unsigned char c : identity) {
    hash = (hash ^ c) * 1099511628211ULL;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace

std::string default_cache_dir() {
  if (!env("EWGS_CACHE_DIR").empty()) {
    return env("EWGS_CACHE_DIR");
  }
  if (!env("XDG_CACHE_HOME").empty()) {
    return env("XDG_CACHE_HOME") + "/ewgs";
  }
  if (!env("HOME").empty()) {
    return env("HOME") + "/.cache/ewgs";
  }
  return "/tmp/ewgs-cache";
}

std::string extract_once(
    const std::string& archive, const std::string& folder, const std::string& cache_dir) {
  require_regular_file(archive, "archive");
  const fs::path target = fs::path(cache_dir) / (folder + "-" + source_key(archive));
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    return target.string();
  }
  fs::create_directories(cache_dir, ec);
  TORCH_CHECK(!ec, "cannot create cache folder '", cache_dir, "': ", ec.message());
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  const fs::path scratch =
      fs::path(cache_dir) /
      (".extract-" + folder + "-" + std::to_string(::getpid()) + "-" + std::to_string(stamp));
  fs::create_directories(scratch, ec);
  TORCH_CHECK(!ec, "cannot create folder '", scratch.string(), "': ", ec.message());
  try {
    extract_into(archive, scratch);
  } catch (...) {
    fs::remove_all(scratch, ec);
    throw;
  }
  const fs::path extracted = scratch / folder;
  if (!fs::is_directory(extracted, ec)) {
    fs::remove_all(scratch, ec);
    TORCH_CHECK(false, "archive '", archive, "' has no top folder '", folder, "'");
  }
  fs::rename(extracted, target, ec);
  const std::string rename_error = ec.message();
  std::error_code exists_ec;
  // A failed rename is fine when another process placed the folder first.
  const bool placed = !ec || fs::is_directory(target, exists_ec);
  fs::remove_all(scratch, ec);
  TORCH_CHECK(
      placed, "cannot move '", extracted.string(), "' to '", target.string(), "': ", rename_error);
  return target.string();
}

}  // namespace ewgs::data
