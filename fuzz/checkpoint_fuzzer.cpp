// libFuzzer target: ewgs checkpoints, read as whole files: the checksum trailer
// first, then the archive, which only committed seeds reach (CI runs it with
// -use_cmp=0, fuzz/flags/checkpoint.flags, so mutations cannot learn the checksum).
// Re-sealed mutations crash LibTorch 1.13's TorchScript importer (FUZZING.md).
#include <c10/util/Exception.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <string>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  load(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
