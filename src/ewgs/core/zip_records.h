// Internal: the records of a torch.save zip archive, read whole by libarchive and
// checked against the CRC-32 the archive stores for each one, so a flipped byte in
// a .pth file is an error rather than a different weight.
#pragma once

#include <c10/core/Storage.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ewgs::detail {

class ZipRecords {
 public:
  /// Every record of the zip archive in `data[0, size)`. Errors name the
  /// record where it applies (callers add the file): not a readable zip
  /// archive, a record that fails its CRC-32 check, a name given twice, more
  /// data than the archive can hold uncompressed.
  ZipRecords(const void* data, size_t size);
  /// Records given by name (tests and fuzzing skip the zip layer).
  explicit ZipRecords(const std::map<std::string, std::string>& records);

  /// Names in archive order.
  const std::vector<std::string>& names() const { return names_; }
  bool has(const std::string& name) const { return records_.count(name) != 0; }
  /// The bytes of record `name` (it must exist and not be taken).
  std::string_view view(const std::string& name) const;
  /// Moves the bytes of record `name` into a CPU storage; once per record.
  c10::Storage take_storage(const std::string& name);

 private:
  struct Record {
    c10::DataPtr data;
    size_t size = 0;
    bool taken = false;
  };
  Record& find(const std::string& name);
  Record& add(const std::string& name, size_t size);

  std::vector<std::string> names_;
  std::map<std::string, Record> records_;
};

}  // namespace ewgs::detail
