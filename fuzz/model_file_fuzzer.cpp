// libFuzzer target: packed model files (.ewgsm), read by ModelFile::parse and
// Model::from_file, whose promise is that a model they accept never crashes the
// engine. Links only ewgs_infer, no LibTorch.
//
// The input is tried twice: as a whole file (container checks), and as a JSON
// description, a NUL byte and the data section, sealed into a valid container so
// that mutations get past the checksums and the deflated description. A model that
// loads and is small runs on every kernel path, which must all give the logits of
// the reference path.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ewgs/infer/engine.h"
#include "ewgs/infer/error.h"
#include "ewgs/infer/model.h"
#include "ewgs/infer/model_file.h"

namespace {

using namespace ewgs::infer;

/// Upper bounds on what a loaded model may cost to run here, so that a valid but
/// huge model is skipped rather than timed out.
constexpr int64_t kMaxElements = int64_t{1} << 16;
constexpr int64_t kMaxMacs = int64_t{1} << 20;

bool small_enough(const Model& model) {
  int64_t elements = 0;
  for (const auto& t : model.tensors()) {
    elements += t.elements();
  }
  int64_t macs = 0;
  for (const auto& op : model.ops()) {
    if (op.kind == OpKind::kConv) {
      macs += model.tensors()[op.output].elements() * op.conv.window();
    }
    if (elements > kMaxElements || macs > kMaxMacs) {
      return false;
    }
  }
  return true;
}

/// Runs `model` on two images on every kernel path; all must agree bit for bit.
void run_everywhere(const Model& model) {
  const int64_t batch = 2;
  std::vector<float> images(static_cast<size_t>(batch * model.input_info().elements()));
  for (size_t i = 0; i < images.size(); ++i) {
    images[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.5f;
  }
  std::vector<float> reference;
  for (const auto path : available_kernel_paths()) {
    Engine engine(model, {1, path});
    const auto logits = engine.run(images.data(), batch);
    if (logits.size() != static_cast<size_t>(batch * model.classes())) {
      __builtin_trap();
    }
    if (path == KernelPath::kReference) {
      reference = logits;
    } else if (std::memcmp(logits.data(), reference.data(), logits.size() * sizeof(float)) != 0) {
      __builtin_trap();  // a kernel path disagrees with the specification
    }
  }
}

void load(std::vector<uint8_t> bytes) {
  try {
    const auto model = Model::from_file(ModelFile::parse(std::move(bytes), "input"));
    if (small_enough(model)) {
      run_everywhere(model);
    }
  } catch (const Error&) {
  }
}

/// A container around `description` (JSON text) and `data` (the data section),
/// or nothing when the text is not JSON.
std::vector<uint8_t> seal(const std::string& description, const uint8_t* data, size_t size) {
  const auto json = nlohmann::json::parse(description, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return {};
  }
  ModelFileWriter writer;
  writer.add_array(ArrayType::kU8, {static_cast<int64_t>(size)}, data, size);
  return writer.finish(json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  load(std::vector<uint8_t>(data, data + size));
  const auto* nul = std::find(data, data + size, uint8_t{0});
  const std::string description(
      reinterpret_cast<const char*>(data), static_cast<size_t>(nul - data));
  const auto* section = nul == data + size ? nul : nul + 1;
  auto sealed = seal(description, section, static_cast<size_t>(data + size - section));
  if (!sealed.empty()) {
    load(std::move(sealed));
  }
  return 0;
}
