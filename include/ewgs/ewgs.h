// Everything a LibTorch program needs to train with ewgs (target ewgs::ewgs): quantized
// layers, conversion of an existing network, quantizers, models, data, the Hessian delta
// update and the trainer. Export (ewgs::deploy) and inference (ewgs::infer) have their own.
#pragma once

#include "ewgs/version.h"

#include "ewgs/core/version.h"
#include "ewgs/data/dataset_kinds.h"
#include "ewgs/data/loader.h"
#include "ewgs/data/open_dataset.h"
#include "ewgs/data/transforms.h"
#include "ewgs/hessian/delta_estimator.h"
#include "ewgs/models/classifier.h"
#include "ewgs/models/quant_spec.h"
#include "ewgs/models/registry.h"
#include "ewgs/nn/convert.h"
#include "ewgs/nn/parameter_groups.h"
#include "ewgs/nn/qconv2d.h"
#include "ewgs/nn/qlinear.h"
#include "ewgs/nn/quantized_layers.h"
#include "ewgs/nn/state_dict.h"
#include "ewgs/quant/quantizer.h"
#include "ewgs/quant/registry.h"
#include "ewgs/train/initialize_from.h"
#include "ewgs/train/model_from_file.h"
#include "ewgs/train/optimizers.h"
#include "ewgs/train/train_config.h"
#include "ewgs/train/trainer.h"
