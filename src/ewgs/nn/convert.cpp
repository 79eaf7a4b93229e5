// Conversion of a LibTorch Sequential's Conv2d/Linear layers into quantized ones
// (include/ewgs/nn/convert.h).
#include "ewgs/nn/convert.h"

#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/version.h>

#include <regex>

#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/quantized_layers.h"

namespace ewgs::nn {
namespace {

// LibTorch 2 holds conv options in std::variant, 1.13 in c10::variant.
#if TORCH_VERSION_MAJOR >= 2
using std::get_if;
#else
using c10::get_if;
#endif

std::regex compile_pattern(const std::string& pattern, const char* field) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    TORCH_CHECK(
        false,
        "convert_to_quantized: ConvertOptions::",
        field,
        " '",
        pattern,
        "' is not a regular expression: ",
        e.what());
  }
}

bool is_convertible(const std::shared_ptr<torch::nn::Module>& module) {
  return std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(module) ||
         std::dynamic_pointer_cast<torch::nn::LinearImpl>(module);
}

/// Names of the Conv2d/Linear layers of `sequential`, in forward order.
std::vector<std::string> convertible_layers(const torch::nn::SequentialImpl& sequential) {
  std::vector<std::string> out;
  for (const auto& child : sequential.named_children()) {
    if (is_convertible(child.value())) {
      out.push_back(child.key());
    }
  }
  return out;
}

/// `q` holding the original layer's weight and, where it has one, its bias.
template <typename Layer>
Layer with_parameters(Layer q, const torch::Tensor& weight, const torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  q->weight.copy_(weight);
  if (bias.defined()) {
    q->bias.copy_(bias);
  }
  return q;
}

QConv2d quantized_conv(
    const torch::nn::Conv2dImpl& conv, const std::string& name, const ConvertOptions& options) {
  const auto& o = conv.options;
  TORCH_CHECK(
      get_if<torch::enumtype::kZeros>(&o.padding_mode()) != nullptr,
      "convert_to_quantized: layer '",
      name,
      "' pads with a mode other than zeros, which QConv2d does not have");
  const auto* padding = get_if<torch::ExpandingArray<2>>(&o.padding());
  TORCH_CHECK(
      padding != nullptr,
      "convert_to_quantized: layer '",
      name,
      "' has \"same\" or \"valid\" padding; give the padding in pixels");
  QConv2d q(QConv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                .stride(o.stride())
                .padding(*padding)
                .dilation(o.dilation())
                .groups(o.groups())
                .bias(o.bias())
                .weight_quant(options.weight_quant)
                .act_quant(options.act_quant)
                .grad_quant(options.grad_quant));
  return with_parameters(std::move(q), conv.weight, conv.bias);
}

QLinear quantized_linear(const torch::nn::LinearImpl& linear, const ConvertOptions& options) {
  const auto& o = linear.options;
  QLinear q(QLinearOptions(o.in_features(), o.out_features())
                .bias(o.bias())
                .weight_quant(options.weight_quant)
                .act_quant(options.act_quant)
                .grad_quant(options.grad_quant));
  return with_parameters(std::move(q), linear.weight, linear.bias);
}

struct Converter {
  const ConvertOptions& options;
  std::regex include;
  std::regex exclude;
  std::string first;
  std::string last;
  Conversion* result;

  bool selected(const std::string& name) const {
    if (options.keep_first_last && (name == first || name == last)) {
      return false;
    }
    return std::regex_match(name, include) &&
           !(!options.exclude.empty() && std::regex_match(name, exclude));
  }

  /// A new Sequential holding `source`'s modules (a private copy), converted where
  /// selected, under `names` (the original's: LibTorch's clone numbers them anew).
  torch::nn::Sequential convert(
      torch::nn::SequentialImpl& source, const std::vector<std::string>& names) {
    torch::nn::Sequential out;
    for (size_t i = 0; i < source.size(); ++i) {
      const std::string& name = names[i];
      const auto module = source.ptr(i);
      torch::nn::AnyModule entry = source.begin()[static_cast<std::ptrdiff_t>(i)];
      if (is_convertible(module) && selected(name)) {
        if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(module)) {
          entry = torch::nn::AnyModule(quantized_conv(*conv, name, options));
        } else {
          auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module);
          entry = torch::nn::AnyModule(quantized_linear(*linear, options));
        }
        result->converted.push_back(name);
      } else if (is_convertible(module)) {
        result->kept.push_back(name);
      }
      out->push_back(name, std::move(entry));
    }
    return out;
  }
};

}  // namespace

Conversion convert_to_quantized(const torch::nn::Sequential& model, const ConvertOptions& options) {
  TORCH_CHECK(!model.is_empty(), "convert_to_quantized: the model is an empty Sequential holder");
  // A deep copy: the caller's model, and any module it shares, stay as they are.
  const auto copy = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(model->clone());
  std::vector<std::string> names;
  for (const auto& child : model->named_children()) {
    names.push_back(child.key());
  }
  TORCH_CHECK(
      names.size() == copy->size(), "convert_to_quantized: the Sequential's copy lost modules");
  const auto layers = convertible_layers(*model);
  TORCH_CHECK(!layers.empty(), "convert_to_quantized: the model has no Conv2d or Linear layer");

  Conversion result;
  Converter converter{
      options,
      compile_pattern(options.include, "include"),
      compile_pattern(options.exclude, "exclude"),
      layers.front(),
      layers.back(),
      &result};
  result.model = converter.convert(*copy, names);
  TORCH_CHECK(
      !result.converted.empty(),
      "convert_to_quantized: no layer was selected (include '",
      options.include,
      "', exclude '",
      options.exclude,
      "', keep_first_last ",
      options.keep_first_last ? "true" : "false",
      "; the Conv2d/Linear layers are ",
      c10::Join(", ", layers),
      ")");
  name_quantizers(*result.model);
  return result;
}

}  // namespace ewgs::nn
