// Fine-tunes a full-precision PyTorch .pth at W2A2 with EWGS through ewgs::train::Trainer,
// the loop `ewgs train` runs, from a program of your own: the config is built in code,
// the run directory gets checkpoints that resume exactly, and the result comes back.
//
// Usage: finetune_pth RUN_DIR MODEL.pth DATA [MODEL_NAME] [DATASET] [MAX_BATCHES]
//   MODEL_NAME: resnet20 (official CIFAR code's names, default), resnet18, resnet34 or
//   mobilenet_v2 (torchvision's names); DATASET: cifar10-jpeg (default), cifar10 or
//   imagenet; MAX_BATCHES: batches per epoch (0, the default: all).
// Example: finetune_pth runs/w2a2 resnet18-f37072fd.pth /data/imagenet resnet18 imagenet
#include <ewgs/ewgs.h>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0]
              << " RUN_DIR MODEL.pth DATA [MODEL_NAME] [DATASET] [MAX_BATCHES]\n";
    return 2;
  }
  try {
    ewgs::train::TrainConfig config;
    config.model_name = argc > 4 ? argv[4] : "resnet20";
    config.data_dataset = argc > 5 ? argv[5] : "cifar10-jpeg";
    config.data_root = argv[3];
    config.train_max_batches = argc > 6 ? std::atoll(argv[6]) : 0;
    config.train_init_from = argv[2];

    // W2A2 EWGS; delta from the Hessian at the start of every epoch, from 2 batches of 16
    // (the official ImageNet code's batch for the update).
    config.quant_method = "ewgs";
    config.quant_wbits = 2;
    config.quant_abits = 2;
    config.quant_delta = "hessian";
    config.hessian_period = 1;
    config.hessian_batches = 2;
    config.hessian_batch_size = 16;

    // The paper's fine-tuning recipe, shortened: Adam for the weights, Adam with a
    // small learning rate for the quantizers, cosine schedule.
    config.train_epochs = 2;
    config.train_batch_size = 128;
    config.optim_optimizer = "adam";
    config.optim_lr = 1e-4;
    config.optim_weight_decay = 1e-4;
    config.optim_quant_lr = 1e-5;
    config.validate();  // errors name the config key

    ewgs::train::TrainerOptions options;
    options.json = true;  // one JSON line per epoch instead of a progress bar
    ewgs::train::Trainer trainer(config, argv[1], options);
    const auto result = trainer.run();
    std::cout << "W2A2 EWGS: " << result.status << ", best test top-1 " << result.best_top1
              << " % after " << result.epochs_done << " epochs; checkpoints in " << argv[1] << "\n";
    return result.status == "completed" ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
