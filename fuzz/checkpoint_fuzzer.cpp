// libFuzzer target: ewgs checkpoints. The input is the archive; the target seals it
// with a valid checksum trailer (which only guards against accidental damage), so
// every mutation reaches ewgs's own zip and pickle reader and the checkpoint's
// interpretation: header, model state, and a restore into Linear(4, 3) with Adam.
#include <c10/util/Exception.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <string>

#include "ewgs/core/checksum.h"
#include "ewgs/train/checkpoint.h"

namespace {

void load(std::string archive) {
  try {
    ewgs::train::CheckpointFile file(ewgs::append_checksum(std::move(archive)), "input");
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
