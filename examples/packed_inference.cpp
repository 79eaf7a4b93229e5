// A deployed classifier in a few lines: loads a packed model (.ewgsm, from `ewgs
// export`) and prints the top-1 class of each image in a raw float32 file. It links
// only ewgs_infer, not LibTorch: `ldd` on it shows no libtorch.
//
// Usage: packed_inference MODEL.ewgsm IMAGES.f32 [threads]
//   IMAGES.f32 holds N images, normalized as in training, float32 NCHW, one after another.
#include <ewgs/infer/engine.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL.ewgsm IMAGES.f32 [threads]\n";
    return 2;
  }
  try {
    ewgs::infer::EngineOptions options;
    options.threads = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
    ewgs::infer::Engine engine(ewgs::infer::Model::load(argv[1]), options);
    const auto& input = engine.model().input_info();
    const auto image_floats = input.channels * input.height * input.width;

    std::ifstream in(argv[2], std::ios::binary | std::ios::ate);
    const auto bytes = static_cast<int64_t>(in.tellg());
    if (!in || bytes <= 0 || bytes % (image_floats * 4) != 0) {
      std::cerr << argv[2] << ": expected a multiple of " << image_floats * 4 << " bytes ("
                << input.channels << "x" << input.height << "x" << input.width
                << " float32 images), got " << bytes << "\n";
      return 1;
    }
    const int64_t batch = bytes / (image_floats * 4);
    std::vector<float> images(static_cast<size_t>(bytes / 4));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(images.data()), bytes);

    const auto logits = engine.run(images.data(), batch);
    const auto classes = engine.model().classes();
    for (int64_t n = 0; n < batch; ++n) {
      const auto* row = logits.data() + n * classes;
      std::cout << std::max_element(row, row + classes) - row << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
