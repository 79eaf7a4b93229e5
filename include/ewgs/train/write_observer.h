// The steps of the trainer's atomic file writes, and the hook that is told of each
// (TrainerOptions::on_write; tests stop the process at every step).
#pragma once

#include <functional>
#include <string>

namespace ewgs::train {

/// The steps of an atomic write, in order.
enum class WriteStage {
  /// Nothing written yet.
  kStarting,
  /// The temporary file holds the whole content; the target is unchanged.
  kTemporaryWritten,
  /// The target holds the new content.
  kPublished,
};

/// Told of each step of a write.
using WriteObserver = std::function<void(const std::string& path, WriteStage stage)>;

}  // namespace ewgs::train
