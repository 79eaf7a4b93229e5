// The engine (include/ewgs/infer/engine.h): prepares each operation's kernel once,
// then runs the operations in file order over per-tensor buffers.
#include "ewgs/infer/engine.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "epilogue.h"
#include "ewgs/infer/error.h"
#include "kernels.h"
#include "microkernels.h"
#include "parallel.h"
#include "simple_ops.h"

namespace ewgs::infer {
namespace {

/// Bytes of one image's largest tensor that Engine::run keeps within one chunk of
/// images: half of a typical 1 MiB per-core L2 cache.
constexpr int64_t kCachedBytes = 512 * 1024;

/// A tensor's storage for the current batch.
struct Buffer {
  std::vector<double> floats;
  std::vector<uint8_t> codes;
};

/// An operation with its prepared kernels.
struct PreparedOp {
  std::unique_ptr<QConvKernel> qconv;
  std::unique_ptr<FloatConvKernel> fconv;
  std::unique_ptr<PreparedEpilogue> epilogue;
  ConvGeometry geometry;
  /// A conv's epilogue also writes this tensor's codes (a fused quantize operation).
  int64_t fused_codes = -1;
  /// A quantize operation whose codes its input's conv writes.
  bool fused = false;
};

}  // namespace

struct Engine::Impl {
  Model model;
  EngineOptions options;
  KernelPath path;
  std::vector<PreparedOp> prepared;
  std::vector<Buffer> buffers;
  std::vector<int32_t> int_sums;
  std::vector<double> float_sums;
  /// One-thread engines of the same model that run chunks of a large batch side
  /// by side (Engine::run), created when first needed.
  std::vector<std::unique_ptr<Impl>> image_workers;

  Impl(Model m, EngineOptions o) : model(std::move(m)), options(o) {
    EWGS_INFER_CHECK(options.threads >= 1, "engine: threads must be >= 1, got ", options.threads);
    path = options.kernels ? *options.kernels : default_kernel_path();
    const auto& tensors = model.tensors();
    for (const auto& op : model.ops()) {
      PreparedOp p;
      if (op.kind == OpKind::kConv) {
        const auto& in = tensors[op.inputs[0]];
        p.geometry = ConvGeometry::of(op.conv, in, tensors[op.output]);
        if (op.conv.quantized()) {
          p.qconv = make_qconv_kernel(op.conv, p.geometry, in.bits, path);
        } else {
          p.fconv = make_float_conv_kernel(op.conv, p.geometry, path);
        }
        p.epilogue = std::make_unique<PreparedEpilogue>(
            op.conv, p.geometry, path != KernelPath::kReference, path_kernels(path).elementwise);
      }
      prepared.push_back(std::move(p));
    }
    if (path != KernelPath::kReference) {
      fuse_quantize_ops();
    }
    buffers.resize(tensors.size());
  }

  /// A quantize operation of a conv's float output becomes part of the conv's
  /// epilogue, which quantizes each value while it holds it: the same codes
  /// without reading the floats again.
  void fuse_quantize_ops() {
    const auto& ops = model.ops();
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind != OpKind::kQuantize) {
        continue;
      }
      for (size_t j = i; j-- > 0;) {
        if (ops[j].output != ops[i].inputs[0]) {
          continue;
        }
        auto& producer = prepared[j];
        if (ops[j].kind == OpKind::kConv && producer.fused_codes < 0 &&
            !ops[j].conv.epilogue.quantizer) {
          producer.epilogue->fuse_quantizer(ops[i].quantizer);
          producer.fused_codes = ops[i].output;
          prepared[i].fused = true;
        }
        break;
      }
    }
  }

  /// Bytes of one image's largest tensor.
  int64_t largest_tensor_bytes() const {
    int64_t bytes = 1;
    for (const auto& t : model.tensors()) {
      bytes = std::max(bytes, t.elements() * (t.codes ? 1 : static_cast<int64_t>(sizeof(double))));
    }
    return bytes;
  }

  void resize(int64_t batch) {
    const auto& tensors = model.tensors();
    for (size_t t = 0; t < tensors.size(); ++t) {
      const auto n = static_cast<size_t>(batch * tensors[t].elements());
      if (tensors[t].codes) {
        buffers[t].codes.resize(n);
      } else {
        buffers[t].floats.resize(n);
      }
    }
  }

  /// `first_image`: the batch index of images[0], for error messages.
  void load_input(const float* images, int64_t batch, Layout layout, int64_t first_image) {
    EWGS_INFER_CHECK(images != nullptr || batch == 0, "engine: images is null");
    EWGS_INFER_CHECK(batch >= 0, "engine: batch must be >= 0, got ", batch);
    const auto& info = model.input_info();
    auto& x = buffers[model.input()].floats;
    const int64_t hw = info.height * info.width;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t p = 0; p < hw; ++p) {
        for (int64_t c = 0; c < info.channels; ++c) {
          const float v = layout == Layout::kNCHW ? images[(n * info.channels + c) * hw + p]
                                                  : images[(n * hw + p) * info.channels + c];
          EWGS_INFER_CHECK(
              std::isfinite(v),
              "engine: image ",
              first_image + n,
              " has a non-finite value at channel ",
              c,
              ", pixel ",
              p);
          x[static_cast<size_t>((n * hw + p) * info.channels + c)] = double{v};
        }
      }
    }
  }

  void run_op(size_t index, int64_t batch, OpTrace& trace) {
    const auto& op = model.ops()[index];
    const auto& tensors = model.tensors();
    const auto& in_info = tensors[op.inputs[0]];
    const auto& out_info = tensors[op.output];
    auto& in = buffers[op.inputs[0]];
    auto& out = buffers[op.output];
    const int threads = options.threads;
    switch (op.kind) {
      case OpKind::kQuantize:
        if (prepared[index].fused) {
          break;
        }
        path_kernels(path).elementwise.quantize(
            in.floats.data(),
            static_cast<int64_t>(out.codes.size()),
            op.quantizer,
            out.codes.data());
        break;
      case OpKind::kConv: {
        const auto& p = prepared[index];
        const double* residual = op.conv.epilogue.residual >= 0
                                     ? buffers[op.conv.epilogue.residual].floats.data()
                                     : nullptr;
        const auto sums = static_cast<size_t>(batch * out_info.elements());
        double* out_floats = out_info.codes ? nullptr : out.floats.data();
        uint8_t* out_codes = out_info.codes       ? out.codes.data()
                             : p.fused_codes >= 0 ? buffers[p.fused_codes].codes.data()
                                                  : nullptr;
        if (p.qconv) {
          int_sums.resize(sums);
          p.qconv->run(batch, in.codes.data(), int_sums.data(), threads);
          p.epilogue->apply(batch, int_sums.data(), residual, out_floats, out_codes, threads);
          trace.int_sums = int_sums.data();
        } else {
          float_sums.resize(sums);
          p.fconv->run(batch, in.floats.data(), float_sums.data(), threads);
          p.epilogue->apply(batch, float_sums.data(), residual, out_floats, out_codes, threads);
          trace.float_sums = float_sums.data();
        }
        break;
      }
      case OpKind::kMaxPool:
        if (in_info.codes) {
          ops::max_pool(
              in.codes.data(),
              out.codes.data(),
              batch,
              in_info,
              out_info,
              op.kernel,
              op.stride,
              op.padding);
        } else {
          ops::max_pool(
              in.floats.data(),
              out.floats.data(),
              batch,
              in_info,
              out_info,
              op.kernel,
              op.stride,
              op.padding);
        }
        break;
      case OpKind::kAdaptiveMaxPool:
        if (in_info.codes) {
          ops::adaptive_max_pool(in.codes.data(), out.codes.data(), batch, in_info, out_info);
        } else {
          ops::adaptive_max_pool(in.floats.data(), out.floats.data(), batch, in_info, out_info);
        }
        break;
      case OpKind::kGlobalAvgPool:
        ops::global_avg_pool(in.floats.data(), out.floats.data(), batch, in_info);
        break;
      case OpKind::kFlatten:
        ops::flatten(in.floats.data(), out.floats.data(), batch, in_info);
        break;
      case OpKind::kAffine:
        ops::affine(
            in.floats.data(),
            out.floats.data(),
            batch * in_info.height * in_info.width,
            in_info.channels,
            op.scale.data(),
            op.shift.data(),
            op.activation);
        break;
      case OpKind::kAdd:
        ops::add(
            in.floats.data(),
            buffers[op.inputs[1]].floats.data(),
            out.floats.data(),
            static_cast<int64_t>(out.floats.size()),
            op.activation);
        break;
      case OpKind::kZeroPadShortcut:
        ops::zero_pad_shortcut(
            in.floats.data(), out.floats.data(), batch, in_info, out_info, op.pad);
        break;
    }
    trace.floats = out_info.codes ? nullptr : out.floats.data();
    trace.codes = out_info.codes ? out.codes.data() : nullptr;
    trace.batch = batch;
  }

  std::vector<double> run(
      const float* images,
      int64_t batch,
      Layout layout,
      const std::function<void(size_t, const OpTrace&)>& trace,
      int64_t first_image = 0) {
    resize(batch);
    load_input(images, batch, layout, first_image);
    for (size_t i = 0; i < model.ops().size(); ++i) {
      OpTrace t;
      run_op(i, batch, t);
      if (trace) {
        trace(i, t);
      }
    }
    const auto& logits = buffers[model.output()].floats;
    return {logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(batch * model.classes())};
  }
};

Engine::Engine(Model model, EngineOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), options)) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

std::vector<float> Engine::run(const float* images, int64_t batch, Layout layout) {
  // A batch runs a few images at a time, so that each operation's tensors stay in
  // a core's cache as at batch 1; with several threads, each takes its own chunks
  // (far fewer synchronizations than splitting every operation). Images are
  // independent, so the logits are the same.
  auto& impl = *impl_;
  const int64_t chunk = std::max<int64_t>(1, kCachedBytes / impl.largest_tensor_bytes());
  if (batch <= chunk) {
    const auto logits = impl.run(images, batch, layout, nullptr);
    return {logits.begin(), logits.end()};
  }
  EWGS_INFER_CHECK(images != nullptr, "engine: images is null");
  const auto& info = impl.model.input_info();
  const int64_t image_values = info.channels * info.height * info.width;
  const int64_t chunks = (batch + chunk - 1) / chunk;
  const auto workers = static_cast<int>(std::min<int64_t>(impl.options.threads, chunks));
  if (workers > 1) {
    EngineOptions one_thread = impl.options;
    one_thread.threads = 1;
    one_thread.kernels = impl.path;
    while (static_cast<int>(impl.image_workers.size()) < workers) {
      impl.image_workers.push_back(std::make_unique<Impl>(impl.model, one_thread));
    }
  }
  std::vector<std::vector<double>> parts(static_cast<size_t>(chunks));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  parallel_for(workers, workers, [&](int64_t w) {
    Impl& worker = workers > 1 ? *impl.image_workers[static_cast<size_t>(w)] : impl;
    try {
      for (int64_t c = w; c < chunks; c += workers) {
        const int64_t begin = c * chunk;
        parts[static_cast<size_t>(c)] = worker.run(
            images + begin * image_values, std::min(chunk, batch - begin), layout, nullptr, begin);
      }
    } catch (...) {
      errors[static_cast<size_t>(w)] =
          std::current_exception();  // never let one cross the OpenMP region
    }
  });
  for (const auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
  std::vector<float> logits;
  logits.reserve(static_cast<size_t>(batch * impl.model.classes()));
  for (const auto& part : parts) {
    logits.insert(logits.end(), part.begin(), part.end());
  }
  return logits;
}

std::vector<double> Engine::run_traced(
    const float* images,
    int64_t batch,
    Layout layout,
    const std::function<void(size_t, const OpTrace&)>& trace) {
  return impl_->run(images, batch, layout, trace);
}

const Model& Engine::model() const {
  return impl_->model;
}

KernelPath Engine::kernel_path() const {
  return impl_->path;
}

int Engine::threads() const {
  return impl_->options.threads;
}

void Engine::set_threads(int threads) {
  EWGS_INFER_CHECK(threads >= 1, "engine: threads must be >= 1, got ", threads);
  impl_->options.threads = threads;
}

std::vector<std::string> Engine::kernel_names() const {
  std::vector<std::string> names;
  for (const auto& p : impl_->prepared) {
    std::string name = p.qconv ? p.qconv->name() : p.fconv ? p.fconv->name() : "";
    if (p.epilogue && p.epilogue->uses_thresholds()) {
      name += " + thresholds";
    }
    names.push_back(name);
  }
  return names;
}

}  // namespace ewgs::infer
