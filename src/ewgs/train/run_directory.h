// The files of a training run and how they change: every write is atomic, an
// epoch's checkpoints commit as one unit, and a crash at any point leaves a
// state that the next start or resume completes or rolls back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ewgs/train/atomic_file.h"
#include "ewgs/train/checkpoint.h"

namespace ewgs::train {

/// A run directory: config.toml, last.pt, best.pt, metrics.jsonl, summary.json.
///
/// An epoch commits in this order:
///   1. best.pt.pending  (only when the epoch is the best so far)
///   2. last.pt          the commit point: its progress says which epoch is best
///   3. best.pt.pending -> best.pt
/// so best.pt always holds the checkpoint that last.pt names as best. After a
/// crash, recover() finishes step 3 when last.pt committed the pending
/// checkpoint, and deletes it otherwise.
class RunDirectory {
 public:
  /// The folder of a new run: an error when it holds a run already; created
  /// when missing. Leftovers of crashed writes are removed.
  static RunDirectory for_new_run(const std::string& dir, WriteObserver observer = {});
  /// The folder of a run to resume: it must hold last.pt. Temporary files of
  /// crashed writes are removed.
  static RunDirectory for_resume(const std::string& dir, WriteObserver observer = {});

  /// The run directory as seen by a rank other than 0 of a multi-process run:
  /// it names the files (a resume reads last.pt) but writes, checks and
  /// recovers nothing; rank 0 owns the folder.
  static RunDirectory for_follower(const std::string& dir);
  RunDirectory(RunDirectory&& other) noexcept;
  RunDirectory& operator=(RunDirectory&&) = delete;
  /// Removes the folder when this object created it and keep() was not
  /// called: a run rejected during start-up leaves nothing behind.
  ~RunDirectory();

  const std::string& dir() const { return dir_; }
  /// False for a follower's view (for_follower).
  bool writes() const { return writes_; }
  std::string path(const std::string& name) const;

  /// Start-up is over: the folder stays whatever happens next.
  void keep() { keep_ = true; }

  /// Writes `content` to `name` atomically.
  void write(const std::string& name, std::string_view content) const;

  /// Errors, naming the folder and both sizes, unless its file system has
  /// room for the checkpoints of a run whose checkpoint is
  /// `checkpoint_bytes` long: last.pt, best.pt and, while they are replaced,
  /// a pending best and a temporary copy (files already there count).
  void check_room(uint64_t checkpoint_bytes) const;

  /// Commits an epoch (or an interruption) whose checkpoint is `checkpoint`;
  /// `best` also makes it best.pt.
  void commit(std::string_view checkpoint, bool best) const;

  /// Completes or rolls back a commit a crash interrupted, given the progress
  /// of the committed last.pt. Returns a note for the log, or "".
  std::string recover(const TrainProgress& committed) const;

 private:
  RunDirectory(std::string dir, WriteObserver observer, bool created);
  void remove_leftovers() const;

  std::string dir_;
  WriteObserver observer_;
  bool created_ = false;
  bool keep_ = false;
  bool writes_ = true;
};

}  // namespace ewgs::train
