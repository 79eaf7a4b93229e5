// libFuzzer target: the image-folder scan (root/<split>/<class>/**) and decoding,
// on a small tree of folders, files and links built from the input, then every
// sample read. Names are reduced to a safe alphabet inside the scratch folder.
#include <c10/util/Exception.h>

#include <filesystem>

#include "ewgs/data/image_folder.h"
#include "fuzz_files.h"

namespace {
namespace fs = std::filesystem;

constexpr int kMaxEntries = 24;

/// `raw` as a relative path of at most 4 components of [a-z0-9.] (no "." or "..").
std::string safe_path(const std::string& raw) {
  std::string out;
  std::string part;
  int depth = 0;
  const auto flush = [&] {
    if (!part.empty() && part != "." && part != ".." && depth < 4) {
      out += (out.empty() ? "" : "/") + part;
      ++depth;
    }
    part.clear();
  };
  for (const unsigned char c : raw) {
    if (c == '/') {
      flush();
    } else if (part.size() < 12) {
      const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.";
      part += alphabet[c % 37];
    }
  }
  flush();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string root = ewgs::fuzz::scratch_folder();
  ewgs::fuzz::Parts parts(data + 1, size - 1);
  for (int i = 0; i < kMaxEntries && !parts.done(); ++i) {
    const std::string entry = parts.next();
    if (entry.empty()) {
      continue;
    }
    const size_t split = entry.find('\0');
    const std::string name =
        safe_path(entry.substr(1, split == std::string::npos ? std::string::npos : split - 1));
    const std::string content = split == std::string::npos ? "" : entry.substr(split + 1);
    if (name.empty()) {
      continue;
    }
    const fs::path path = fs::path(root) / name;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    switch (entry[0] % 3) {
      case 0:
        fs::create_directories(path, ec);
        break;
      case 1:
        ewgs::fuzz::write_bytes(
            path.string(), reinterpret_cast<const uint8_t*>(content.data()), content.size());
        break;
      default:
        fs::create_symlink(safe_path(content), path, ec);  // relative, possibly dangling or a loop
        break;
    }
  }
  ewgs::data::ImageFolderOptions options;
  options.threads = 1;
  options.cache =
      (data[0] & 1) != 0 ? ewgs::data::FolderCache::kAuto : ewgs::data::FolderCache::kNever;
  try {
    ewgs::fuzz::read_every_sample(*ewgs::data::open_image_folder(root, "train", options));
  } catch (const c10::Error&) {
  }
  return 0;
}
