// Runs a packed model on batches of images: integer convolutions over bit-packed or
// byte codes, full-precision layers and epilogues in double. Links no LibTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ewgs/infer/kernel_path.h"
#include "ewgs/infer/model.h"

namespace ewgs::infer {

/// Memory order of the float images given to Engine::run.
enum class Layout { kNCHW, kNHWC };

struct EngineOptions {
  /// Threads the kernels use (>= 1).
  int threads = 1;
  /// Kernel path; default_kernel_path() when unset.
  std::optional<KernelPath> kernels;
};

/// What an operation produced, for Engine::run_traced: floats or codes
/// [batch][height][width][channels], and for convolutions their sums before
/// the epilogue (integers for quantized layers, doubles for float layers).
struct OpTrace {
  const double* floats = nullptr;
  const uint8_t* codes = nullptr;
  const int32_t* int_sums = nullptr;
  const double* float_sums = nullptr;
  int64_t batch = 0;
};

/// Runs a Model. Not thread-safe: one run at a time per Engine (the engine
/// spreads each run over `threads`).
///
/// Example:
///   ewgs::infer::EngineOptions options;
///   options.threads = 2;
///   ewgs::infer::Engine engine(ewgs::infer::Model::load("model.ewgsm"), options);
///   std::vector<float> logits = engine.run(images.data(), batch);   // NCHW floats
class Engine {
 public:
  explicit Engine(Model model, EngineOptions options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  /// Logits [batch][classes] for `batch` normalized images of the model's
  /// input shape, in `layout`. Non-finite inputs are an error.
  std::vector<float> run(const float* images, int64_t batch, Layout layout = Layout::kNCHW);

  /// run() with `trace(op index, output)` called after every operation; the
  /// logits come back as doubles.
  std::vector<double> run_traced(
      const float* images,
      int64_t batch,
      Layout layout,
      const std::function<void(size_t, const OpTrace&)>& trace);

  const Model& model() const;
  KernelPath kernel_path() const;
  int threads() const;
  void set_threads(int threads);
  /// For each operation, the kernel that runs it ("binary-avx512", "int8-vnni",
  /// "float-avx2", "thresholds", ...; empty for simple operations).
  std::vector<std::string> kernel_names() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewgs::infer
