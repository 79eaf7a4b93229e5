// A packed model in memory: the validated operations and tensors of a .ewgsm file
// (docs/MODEL_FORMAT.md), with weight codes unpacked, ready for an Engine to prepare.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ewgs/infer/model_file.h"

namespace ewgs::infer {

/// Elementwise activation after an operation.
enum class Activation { kNone, kRelu, kRelu6, kHardTanh };
const char* to_string(Activation a);
/// Applies `a` to a double: max(y, 0), min(max(y, 0), 6), min(max(y, -1), 1).
double apply_activation(Activation a, double y);

/// How a quantizer rounds t (already clamped to [0, levels - 1]).
enum class Rounding {
  kHalfEven,  ///< nearest, ties to even (torch.round)
  kHalfDown,  ///< nearest, ties down: floor(t) + [t - floor(t) > 1/2] (DAQ)
};

/// An activation quantizer: float value -> unsigned code in [0, levels - 1].
///   affine:     code = R(min(max(x * scale + shift, 0), levels - 1)), double
///               arithmetic, each operation rounded in turn (no fused multiply-add)
///   thresholds: code = sum over k of [x >= t_k] (inclusive) or [x > t_k]
struct ActQuantizer {
  enum class Kind { kAffine, kThresholds };
  Kind kind = Kind::kAffine;
  int bits = 1;
  int64_t levels = 2;
  double scale = 1.0;
  double shift = 0.0;
  Rounding rounding = Rounding::kHalfEven;
  std::vector<double> thresholds;
  std::vector<bool> inclusive;

  /// The code of `x` (finite).
  int64_t code(double x) const;
};

/// Per-sample shape of a tensor: float values, or codes of `bits` bits, NHWC.
struct TensorInfo {
  std::string name;
  bool codes = false;
  int bits = 0;
  int64_t height = 1;
  int64_t width = 1;
  int64_t channels = 1;
  int64_t elements() const { return height * width * channels; }
};

/// What follows a convolution's sum, per output channel c, in double:
///   y = acc * scale[c];  y = y + shift[c];
///   y = y + border_scale[c] * valid_weight_sum(position, c)   (when present)
///   y = y + residual                                          (when present)
///   y = activation(y);  output y, or quantizer.code(y) when there is one.
/// valid_weight_sum is the sum of the integer weights whose taps fall inside
/// the image at that output position: it carries a non-zero activation offset
/// through zero padding.
struct Epilogue {
  std::vector<double> scale;
  std::vector<double> shift;
  std::vector<double> border_scale;
  int residual = -1;
  Activation activation = Activation::kNone;
  std::optional<ActQuantizer> quantizer;
};

/// A convolution (a linear layer is a 1x1 convolution on a 1x1 image).
/// Quantized: acc = sum of code(x) * (gain * c - zero) over the window, codes
/// of zero padding are 0; weights `codes` [out][kh][kw][in/groups].
/// Float: acc = sum of x * w over the window in double plus bias; `weights`
/// [out][in/groups][kh][kw] as in PyTorch.
struct ConvOp {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t groups = 1;
  /// Weight bits (1..4), or 0 for a float layer.
  int weight_bits = 0;
  int64_t weight_gain = 1;
  int64_t weight_zero = 0;
  std::vector<uint8_t> codes;
  std::vector<float> weights;
  std::vector<float> bias;
  Epilogue epilogue;

  bool quantized() const { return weight_bits > 0; }
  /// Integer weight of output channel `o` at flat index `k` of its window.
  int64_t weight_int(int64_t o, int64_t k) const;
  /// Elements of one output channel's window: kh kw in/groups.
  int64_t window() const { return kernel_h * kernel_w * (in_channels / groups); }
};

/// The operations of a packed model.
enum class OpKind {
  kQuantize,         ///< float -> codes with `quantizer`
  kConv,             ///< `conv` on codes (quantized) or floats
  kMaxPool,          ///< window max (kernel, stride, padding ignored), floats or codes
  kAdaptiveMaxPool,  ///< PyTorch's adaptive windows to (size, size)
  kGlobalAvgPool,    ///< mean over height and width
  kFlatten,          ///< (H, W, C) -> (1, 1, C H W) in channel-major order
  kAffine,           ///< y = activation(x * scale[c] + shift[c])
  kAdd,              ///< y = activation(x0 + x1)
  kZeroPadShortcut,  ///< x[::2, ::2] with `pad` zero channels on each side
};
const char* to_string(OpKind kind);

struct Op {
  OpKind kind = OpKind::kQuantize;
  /// Module path of the layer it comes from ("layer1.0.conv1"), or empty.
  std::string name;
  std::vector<int> inputs;
  int output = -1;
  ActQuantizer quantizer;
  ConvOp conv;
  int64_t kernel = 1, stride = 1, padding = 0, size = 1, pad = 0;
  std::vector<double> scale, shift;
  Activation activation = Activation::kNone;
};

/// A validated packed model.
///
/// Example:
///   auto model = ewgs::infer::Model::load("resnet20_w1a1.ewgsm");
///   ewgs::infer::Engine engine(model);
class Model {
 public:
  static Model load(const std::string& path);
  static Model from_file(const ModelFile& file);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::vector<Op>& ops() const { return ops_; }
  int input() const { return input_; }
  int output() const { return output_; }
  const TensorInfo& input_info() const { return tensors_[input_]; }
  int64_t classes() const { return tensors_[output_].elements(); }
  /// Mean and standard deviation per input channel the images were normalized
  /// with in training (informational; run() takes normalized images).
  const std::vector<double>& input_mean() const { return mean_; }
  const std::vector<double>& input_std() const { return std_; }
  /// The "producer" object of the file (model name, quantization, checkpoint).
  const nlohmann::json& producer() const { return producer_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::string& source() const { return source_; }

 private:
  std::vector<TensorInfo> tensors_;
  std::vector<Op> ops_;
  int input_ = 0;
  int output_ = 0;
  std::vector<double> mean_;
  std::vector<double> std_;
  nlohmann::json producer_;
  uint64_t file_bytes_ = 0;
  std::string source_;
};

}  // namespace ewgs::infer
