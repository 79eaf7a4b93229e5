// EWGS in a LibTorch training loop of your own: a plain torch::nn::Sequential CNN is
// converted to W1A1 (first and last layer in full precision, as in the paper), trained on
// Fashion-MNIST with the paper's two optimizers, and its EWGS scaling factors delta are
// set from the Hessian at a third and at two thirds of training (paper Algorithm 1).
//
// Usage: ewgs_in_your_loop [STEPS] [FASHION_MNIST_DIR]
//   STEPS defaults to 600; the data folder defaults to Debian's dataset-fashion-mnist.
#include <ewgs/ewgs.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>

namespace tnn = torch::nn;

namespace {

// The network as a LibTorch user writes it, with nothing of ewgs in it.
tnn::Sequential plain_cnn() {
  return tnn::Sequential(
      tnn::Conv2d(tnn::Conv2dOptions(1, 16, 3).padding(1).bias(false)),
      tnn::BatchNorm2d(16),
      tnn::ReLU(),
      tnn::MaxPool2d(2),
      tnn::Conv2d(tnn::Conv2dOptions(16, 32, 3).padding(1).bias(false)),
      tnn::BatchNorm2d(32),
      tnn::ReLU(),
      tnn::MaxPool2d(2),
      tnn::Conv2d(tnn::Conv2dOptions(32, 32, 3).padding(1).bias(false)),
      tnn::BatchNorm2d(32),
      tnn::ReLU(),
      tnn::Flatten(),
      tnn::Linear(32 * 7 * 7, 10));
}

double test_accuracy(tnn::Sequential& model, ewgs::data::DataLoader& test) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t correct = 0;
  int64_t seen = 0;
  test.start_epoch(0);
  while (auto batch = test.next()) {
    correct += model->forward(batch->images).argmax(1).eq(batch->labels).sum().item<int64_t>();
    seen += batch->labels.size(0);
  }
  model->train();
  return 100.0 * static_cast<double>(correct) / static_cast<double>(seen);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int64_t steps = argc > 1 ? std::atoll(argv[1]) : 600;
    const std::string root = argc > 2 ? argv[2] : "";
    torch::manual_seed(0);

    // Data: ewgs's loader (any LibTorch data pipeline works as well).
    ewgs::data::LoaderOptions loader_options;
    loader_options.batch_size = 128;
    ewgs::data::DataLoader train(
        ewgs::data::open_dataset("fashion-mnist", root, "train"),
        ewgs::data::train_transform("fashion-mnist"),
        loader_options);
    loader_options.shuffle = false;
    loader_options.batch_size = 1000;
    ewgs::data::DataLoader test(
        ewgs::data::open_dataset("fashion-mnist", root, "test"),
        ewgs::data::eval_transform("fashion-mnist"),
        loader_options);

    // 1. Quantize: W1A1 EWGS layers in place of the inner Conv2d layers, weights kept.
    ewgs::nn::ConvertOptions convert;
    convert.weight_quant = "ewgs:bits=1";
    convert.act_quant = "ewgs:bits=1";
    auto conversion = ewgs::nn::convert_to_quantized(plain_cnn(), convert);
    auto model = conversion.model;
    for (const auto& name : conversion.converted) {
      std::cout << "quantized layer " << name << "\n";
    }

    // 2. The paper's optimizers: one for weights and BatchNorm, one (Adam, small
    //    learning rate, no weight decay) for the quantizers' intervals and scales.
    const auto groups = ewgs::nn::split_parameters(*model);
    torch::optim::Adam weights(groups.model, torch::optim::AdamOptions(1e-3).weight_decay(1e-4));
    torch::optim::Adam quantizers(groups.quantizer, torch::optim::AdamOptions(1e-5));

    // 3. delta from the Hessian (paper Eq. 5-10) twice during training, on two batches.
    ewgs::hessian::EstimatorOptions estimator;
    estimator.seed = 1;
    const int64_t period = std::max<int64_t>(1, steps / 3);
    const auto forward = [&model](const at::Tensor& images) { return model->forward(images); };

    int64_t step = 0;
    for (int64_t epoch = 0; step < steps; ++epoch) {
      train.start_epoch(epoch);
      while (step < steps) {
        auto batch = train.next();
        if (!batch) {
          break;
        }
        if (step > 0 && step % period == 0) {
          std::vector<ewgs::hessian::Batch> probe_batches{{batch->images, batch->labels}};
          if (auto second = train.next()) {
            probe_batches.emplace_back(second->images, second->labels);
          }
          const auto estimate =
              ewgs::hessian::estimate_deltas(*model, forward, probe_batches, estimator);
          ewgs::hessian::apply_deltas(*model, estimate);
          for (const auto& q : estimate.quantizers) {
            std::cout << "step " << step << ": delta of " << q.layer << " "
                      << ewgs::hessian::delta_target_key(q.target) << " = " << q.delta << " +- "
                      << q.delta_stderr << " (" << q.probes << " probes)" << std::endl;
          }
        }
        weights.zero_grad();
        quantizers.zero_grad();
        const auto loss =
            torch::nn::functional::cross_entropy(model->forward(batch->images), batch->labels);
        loss.backward();
        weights.step();
        quantizers.step();
        if (++step % 100 == 0) {
          std::cout << "step " << step << ": loss " << loss.item<double>() << std::endl;
        }
      }
    }
    std::cout << "W1A1 EWGS test top-1 after " << steps << " steps: " << test_accuracy(model, test)
              << " %\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
