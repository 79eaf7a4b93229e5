// From a training checkpoint to a deployed model: exports an ewgs checkpoint to the
// packed format (.ewgsm, bit-packed weights), runs it in the packed engine, and compares
// its top-1 with the LibTorch model's on the checkpoint's test images.
//
// Usage: export_and_run CHECKPOINT.pt OUT.ewgsm [IMAGES]
//   IMAGES: how many test images to compare (default 1000).
#include <ewgs/deploy/packed_export.h>
#include <ewgs/ewgs.h>
#include <ewgs/infer/engine.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " CHECKPOINT.pt OUT.ewgsm [IMAGES]\n";
    return 2;
  }
  try {
    const int64_t wanted = argc > 3 ? std::atoll(argv[3]) : 1000;
    // The model and the config it was trained with (data set, quantization).
    auto loaded = ewgs::train::load_model_from_file(argv[1], {}, "");
    const auto& config = loaded.config;
    loaded.model->eval();

    ewgs::data::LoaderOptions loader_options;
    loader_options.batch_size = 100;
    loader_options.shuffle = false;
    ewgs::data::DataLoader test(
        ewgs::data::open_dataset(config.data_dataset, config.data_root, config.data_test_split),
        ewgs::data::eval_transform(config.data_dataset),
        loader_options);

    // Export: the input shape and the normalization travel with the model.
    const auto shape = test.sample_shape();
    const auto normalization = ewgs::data::default_normalization(config.data_dataset);
    ewgs::deploy::PackedExportOptions options;
    options.input_shape = shape;
    options.mean = normalization.mean;
    options.std = normalization.std;
    options.producer = {{"model", config.model_name}, {"checkpoint", argv[1]}};
    ewgs::deploy::export_packed(*loaded.model, options, argv[2]);

    // Inference without LibTorch: ewgs::infer alone reads and runs the file.
    ewgs::infer::Engine engine(ewgs::infer::Model::load(argv[2]));
    std::cout << "wrote " << argv[2] << " (" << engine.model().file_bytes() << " bytes)\n";

    int64_t images = 0;
    int64_t torch_correct = 0;
    int64_t engine_correct = 0;
    int64_t same_class = 0;
    torch::NoGradGuard no_grad;
    test.start_epoch(0);
    while (images < wanted) {
      auto batch = test.next();
      if (!batch) {
        break;
      }
      const auto n = std::min<int64_t>(batch->labels.size(0), wanted - images);
      const auto x = batch->images.narrow(0, 0, n).contiguous();
      const auto labels = batch->labels.narrow(0, 0, n);
      const auto torch_class = loaded.model->forward(x).argmax(1);
      const auto logits = engine.run(x.data_ptr<float>(), n);
      const auto engine_class =
          torch::from_blob(const_cast<float*>(logits.data()), {n, engine.model().classes()})
              .argmax(1);
      torch_correct += torch_class.eq(labels).sum().item<int64_t>();
      engine_correct += engine_class.eq(labels).sum().item<int64_t>();
      same_class += engine_class.eq(torch_class).sum().item<int64_t>();
      images += n;
    }
    std::cout << images << " test images: LibTorch top-1 " << 100.0 * torch_correct / images
              << " %, packed engine top-1 " << 100.0 * engine_correct / images
              << " %, same class on " << same_class
              << " (kernels: " << ewgs::infer::to_string(engine.kernel_path()) << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
