// Run directory files and the epoch commit (run_directory.h).
#include "ewgs/train/run_directory.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <filesystem>

namespace ewgs::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kLast = "last.pt";
constexpr const char* kBest = "best.pt";
constexpr const char* kPending = "best.pt.pending";

uint64_t size_if_present(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

}  // namespace

RunDirectory::RunDirectory(std::string dir, WriteObserver observer, bool created)
    : dir_(std::move(dir)), observer_(std::move(observer)), created_(created) {}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : dir_(std::move(other.dir_)),
      observer_(std::move(other.observer_)),
      created_(other.created_),
      keep_(other.keep_),
      writes_(other.writes_) {
  other.created_ = false;
}

RunDirectory::~RunDirectory() {
  if (created_ && !keep_) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

RunDirectory RunDirectory::for_new_run(const std::string& dir, WriteObserver observer) {
  for (const char* name : {kLast, kBest}) {
    TORCH_CHECK(
        !fs::exists(fs::path(dir) / name),
        "run directory ",
        dir,
        " already holds a run (",
        name,
        "); continue it with --resume ",
        dir,
        " or choose another --run-dir");
  }
  std::error_code ec;
  const bool created = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  TORCH_CHECK(!ec, "cannot create run directory ", dir, ": ", ec.message());
  TORCH_CHECK(fs::is_directory(dir, ec), "run directory ", dir, " is not a folder");
  RunDirectory out(dir, std::move(observer), created);
  out.remove_leftovers();
  // No last.pt: nothing committed, so no pending best can belong to this run.
  fs::remove(out.path(kPending), ec);
  return out;
}

RunDirectory RunDirectory::for_resume(const std::string& dir, WriteObserver observer) {
  TORCH_CHECK(
      fs::exists(fs::path(dir) / kLast), "cannot resume ", dir, ": it has no last.pt checkpoint");
  RunDirectory out(dir, std::move(observer), /*created=*/false);
  out.remove_leftovers();
  return out;
}

RunDirectory RunDirectory::for_follower(const std::string& dir) {
  RunDirectory out(dir, {}, /*created=*/false);
  out.writes_ = false;
  return out;
}

void RunDirectory::remove_leftovers() const {
  remove_stale_temporaries(dir_);
}

std::string RunDirectory::path(const std::string& name) const {
  return (fs::path(dir_) / name).string();
}

void RunDirectory::write(const std::string& name, std::string_view content) const {
  if (!writes_) {
    return;
  }
  write_file_atomically(path(name), content, observer_);
}

void RunDirectory::check_room(uint64_t checkpoint_bytes) const {
  if (!writes_) {
    return;
  }
  uint64_t present = 0;
  for (const char* name : {kLast, kBest, kPending}) {
    present += size_if_present(path(name));
  }
  const uint64_t peak = 4 * checkpoint_bytes;
  const uint64_t needed = peak > present ? peak - present : 0;
  const uint64_t free = free_bytes(dir_);
  TORCH_CHECK(
      free == UINT64_MAX || free >= needed,
      "run directory ",
      dir_,
      ": its file system has ",
      describe_bytes(free),
      " free but the run needs ",
      describe_bytes(needed),
      " more for its checkpoints (4 x ",
      describe_bytes(checkpoint_bytes),
      ": last.pt, best.pt and a copy of each while it is replaced); free some space or choose "
      "another --run-dir");
}

void RunDirectory::commit(std::string_view checkpoint, bool best) const {
  if (!writes_) {
    return;
  }
  if (best) {
    write(kPending, checkpoint);
  }
  write(kLast, checkpoint);
  if (best) {
    publish_file(path(kPending), path(kBest), observer_);
  }
}

std::string RunDirectory::recover(const TrainProgress& committed) const {
  const std::string pending = path(kPending);
  if (!writes_ || !fs::exists(pending)) {
    return "";
  }
  int64_t pending_epoch = -1;
  try {
    pending_epoch = read_checkpoint_header(pending).progress.epoch;
  } catch (const c10::Error&) {
    pending_epoch = -1;  // unreadable: it cannot be what last.pt committed
  }
  if (pending_epoch >= 0 && pending_epoch == committed.best_epoch) {
    publish_file(pending, path(kBest), observer_);
    return fmt::format(
        "finished an interrupted commit: best.pt is now the checkpoint of epoch {}", pending_epoch);
  }
  fs::remove(pending);
  return fmt::format("removed best.pt.pending: its epoch never committed to last.pt");
}

}  // namespace ewgs::train
