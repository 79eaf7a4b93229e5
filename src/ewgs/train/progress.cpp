// Terminal progress bar and JSON-lines output (progress.h).
#include "ewgs/train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace ewgs::train {
namespace {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60)
                   : fmt::format("{:02d}:{:02d}", s / 60, s % 60);
}

}  // namespace

ProgressReporter::Mode ProgressReporter::choose_mode(bool json) {
  return (json || ::isatty(STDOUT_FILENO) == 0) ? Mode::kJsonLines : Mode::kTerminal;
}

void ProgressReporter::begin_epoch(int64_t epoch, int64_t epochs, int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  images_ = 0;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
}

void ProgressReporter::step(int64_t done, double loss, double top1_percent, int64_t images) {
  images_ = images;
  if (mode_ != Mode::kTerminal) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (done < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;  // redraw at most 10 times a second
  }
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(images_) / elapsed : 0.0;
  const double eta =
      done > 0 ? elapsed * static_cast<double>(batches_ - done) / static_cast<double>(done) : 0.0;
  constexpr int kWidth = 28;
  const int filled = batches_ > 0 ? static_cast<int>(kWidth * done / batches_) : kWidth;
  out_ << fmt::format(
              "\r\033[Kepoch {}/{} [{}{}] {}/{} loss {:.4f} acc {:.2f}% {:.0f} img/s ETA {}",
              epoch_ + 1,
              epochs_,
              std::string(filled, '#'),
              std::string(kWidth - filled, '.'),
              done,
              batches_,
              loss,
              top1_percent,
              rate,
              format_duration(eta))
       << std::flush;
}

void ProgressReporter::end_epoch(const nlohmann::json& record) {
  if (mode_ == Mode::kJsonLines) {
    out_ << record.dump() << "\n" << std::flush;
    return;
  }
  out_ << "\r\033[K"
       << fmt::format(
              "epoch {}/{}  train loss {:.4f} acc {:.2f}%",
              epoch_ + 1,
              epochs_,
              record.value("train_loss", 0.0),
              record.value("train_top1", 0.0));
  if (record.contains("test_top1")) {
    out_ << fmt::format(
        "  test loss {:.4f} top1 {:.2f}%",
        record.value("test_loss", 0.0),
        record.value("test_top1", 0.0));
    if (record.contains("test_top5")) {
      out_ << fmt::format(" top5 {:.2f}%", record.value("test_top5", 0.0));
    }
  }
  out_ << fmt::format(
              "  lr {:.3g}  {:.1f}s  {:.0f} img/s",
              record.value("lr", 0.0),
              record.value("epoch_time_s", 0.0),
              record.value("images_per_s", 0.0))
       << "\n"
       << std::flush;
}

void ProgressReporter::message(const std::string& event, const std::string& text) {
  if (mode_ == Mode::kJsonLines) {
    out_ << nlohmann::json{{"event", event}, {"message", text}}.dump() << "\n" << std::flush;
  } else {
    out_ << "\r\033[K" << text << "\n" << std::flush;
  }
}

}  // namespace ewgs::train
