// When a training step may be captured as a CUDA graph (include/ewgs/train/
// captured_step.h); the capture itself is cuda/captured_step.cu, built with CUDA.
#include "ewgs/train/captured_step.h"

#include <c10/util/Exception.h>

#include "ewgs/version.h"

namespace ewgs::train {

std::vector<std::string> cuda_graph_blockers(const TrainConfig& config) {
  std::vector<std::string> out;
  if (!config.run_cuda_graph) {
    return out;
  }
  if (config.run_device != "cuda") {
    out.push_back("it needs run.device = \"cuda\", got \"" + config.run_device + "\"");
  }
  // A graph may hold no host synchronization: the interval quantizers' fused CUDA
  // kernels defer theirs; other methods read values on the host in forward or after
  // the optimizer step.
  for (const auto& [key, method] :
       {std::pair<std::string, std::string>{"quant.method", config.quant_method},
        {"quant.act_method", config.activation_method()}}) {
    if (method != "off" && method != "ste" && method != "ewgs") {
      out.push_back(
          key + " = \"" + method +
          "\" may synchronize with the host inside a step; the graph takes off, ste or ewgs");
    }
  }
  if (config.quant_grad_method != "off") {
    out.push_back(
        "quant.grad_method = \"" + config.quant_grad_method +
        "\": gradient quantizers are not captured; use \"off\"");
  }
  return out;
}

#if !defined(EWGS_WITH_CUDA)

struct CapturedStep::Impl {};

CapturedStep::CapturedStep(Optimizers&, std::vector<torch::Tensor>, ForwardLoss) {
  TORCH_CHECK(
      false,
      "run.cuda_graph: ewgs was built without CUDA (configure with -DEWGS_USE_CUDA=ON and a CUDA "
      "LibTorch)");
}

CapturedStep::~CapturedStep() = default;

StepOutputs CapturedStep::step(
    const torch::Tensor&, const torch::Tensor&, const std::function<StepOutputs()>&) {
  TORCH_CHECK(false, "run.cuda_graph: ewgs was built without CUDA");
}

void CapturedStep::check_quantizer_inputs() const {}

bool CapturedStep::captured() const {
  return false;
}

#endif

}  // namespace ewgs::train
