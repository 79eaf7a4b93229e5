// Whole-file reads that refuse what is not a regular file (a FIFO would block
// forever, a folder or device makes no sense as input), with errors naming the file;
// scratch folders that do not outlive their scope.
#pragma once

#include <string>

namespace ewgs {

/// Errors unless `path` is an existing regular file (links are followed).
/// `what` names the role in the message, e.g. "checkpoint".
///
/// Example: require_regular_file("/tmp/fifo", "checkpoint") throws
///   "checkpoint /tmp/fifo is not a regular file (it is a FIFO)".
void require_regular_file(const std::string& path, const std::string& what);

/// The bytes of the regular file at `path` (checked as above).
std::string read_file_bytes(const std::string& path, const std::string& what);

/// A scratch folder: created (with its parents) on construction, removed with
/// everything in it on destruction, also when an error unwinds the scope.
class ScopedFolder {
 public:
  explicit ScopedFolder(std::string path);
  ~ScopedFolder();
  ScopedFolder(const ScopedFolder&) = delete;
  ScopedFolder& operator=(const ScopedFolder&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ewgs
