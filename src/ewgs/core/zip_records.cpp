// Zip records through libarchive (zip_records.h).
#include "zip_records.h"

#include <archive.h>
#include <archive_entry.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <memory>

namespace ewgs::detail {
namespace {

/// torch.save stores records uncompressed: more output than this is a
/// compression bomb, not a state dict.
constexpr size_t kMaxExpansion = 4;
constexpr size_t kSlack = size_t{1} << 20;

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

std::string error_of(struct archive* a) {
  const char* text = archive_error_string(a);
  return text == nullptr ? "unknown error" : text;
}

}  // namespace

ZipRecords::Record& ZipRecords::add(const std::string& name, size_t size) {
  TORCH_CHECK(!has(name), "record '", name, "' appears twice in the zip archive");
  names_.push_back(name);
  Record& record = records_[name];
  record.data = c10::GetCPUAllocator()->allocate(size);
  record.size = size;
  return record;
}

ZipRecords::ZipRecords(const void* data, size_t size) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  TORCH_CHECK(a != nullptr, "cannot allocate a zip reader");
  archive_read_support_format_zip_seekable(a.get());
  TORCH_CHECK(
      archive_read_open_memory(a.get(), data, size) == ARCHIVE_OK,
      "not a readable zip archive (truncated or corrupt?): ",
      error_of(a.get()));
  const size_t budget = kMaxExpansion * size + kSlack;
  size_t total = 0;
  struct archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(a.get(), &entry);
    if (status == ARCHIVE_EOF) {
      break;
    }
    TORCH_CHECK(status == ARCHIVE_OK, "corrupt zip archive: ", error_of(a.get()));
    const char* path = archive_entry_pathname(entry);
    const std::string record_name = path == nullptr ? "" : path;
    TORCH_CHECK(
        archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0,
        "record '",
        record_name,
        "' has no size");
    const auto record_size = static_cast<size_t>(archive_entry_size(entry));
    TORCH_CHECK(
        record_size <= budget - total,
        "record '",
        record_name,
        "' claims ",
        record_size,
        " bytes, more than a ",
        size,
        "-byte archive of uncompressed records can hold");
    total += record_size;
    Record& record = add(record_name, record_size);
    char* out = static_cast<char*>(record.data.get());
    size_t done = 0;
    // Read to the end of the entry: libarchive checks the CRC-32 there.
    while (true) {
      char spill[64];
      const bool full = done == record_size;
      const la_ssize_t got = full ? archive_read_data(a.get(), spill, sizeof spill)
                                  : archive_read_data(a.get(), out + done, record_size - done);
      TORCH_CHECK(got >= 0, "record '", record_name, "' is corrupt: ", error_of(a.get()));
      if (got == 0) {
        break;
      }
      TORCH_CHECK(
          !full,
          "record '",
          record_name,
          "' holds more than the ",
          record_size,
          " bytes it declares");
      done += static_cast<size_t>(got);
    }
    TORCH_CHECK(
        done == record_size,
        "record '",
        record_name,
        "' ends after ",
        done,
        " of ",
        record_size,
        " bytes");
  }
}

ZipRecords::ZipRecords(const std::map<std::string, std::string>& records) {
  for (const auto& [name, bytes] : records) {
    Record& record = add(name, bytes.size());
    if (!bytes.empty()) {
      std::memcpy(record.data.get(), bytes.data(), bytes.size());
    }
  }
}

ZipRecords::Record& ZipRecords::find(const std::string& name) {
  const auto it = records_.find(name);
  TORCH_CHECK(
      it != records_.end() && !it->second.taken, "record '", name, "' is missing or already taken");
  return it->second;
}

std::string_view ZipRecords::view(const std::string& name) const {
  const Record& record = const_cast<ZipRecords*>(this)->find(name);
  return {static_cast<const char*>(record.data.get()), record.size};
}

c10::Storage ZipRecords::take_storage(const std::string& name) {
  Record& record = find(name);
  record.taken = true;
  return c10::Storage(
      c10::Storage::use_byte_size_t(),
      static_cast<int64_t>(record.size),
      std::move(record.data),
      c10::GetCPUAllocator(),
      /*resizable=*/false);
}

}  // namespace ewgs::detail
