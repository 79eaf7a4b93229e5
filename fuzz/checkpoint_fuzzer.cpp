// libFuzzer target: ewgs checkpoints. The input is read as a whole file (its
// checksum trailer checked first) and, sealed with a valid trailer, as an archive
// payload, so mutations also reach LibTorch's archive reader behind the checksum.
#include <c10/util/Exception.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <string>

#include "ewgs/core/checksum.h"
#include "ewgs/train/checkpoint.h"

namespace {

void load(std::string bytes) {
  try {
    ewgs::train::CheckpointFile file(std::move(bytes), "input");
    file.header();
    file.model_state();
    torch::nn::Linear model(4, 3);
    torch::optim::Adam optimizer(model->parameters(), 0.1);
    file.restore({*model, &optimizer, nullptr});
  } catch (const c10::Error&) {
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  load(input);
  load(ewgs::append_checksum(input));
  return 0;
}
