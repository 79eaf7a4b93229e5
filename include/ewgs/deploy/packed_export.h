// Export of a trained model to the packed inference format (.ewgsm): weights as
// bit-packed b-bit codes, BatchNorm, output scale and the next quantizer folded into
// each layer's epilogue. The training side writes; ewgs::infer reads.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "ewgs/models/classifier.h"

namespace ewgs::deploy {

struct PackedExportOptions {
  /// Input image shape {channels, height, width}.
  std::vector<int64_t> input_shape;
  /// Per-channel normalization of the training images (informational).
  std::vector<double> mean;
  std::vector<double> std;
  /// Written as the file's "producer" object (model, quantization, checkpoint).
  nlohmann::json producer = nlohmann::json::object();
};

/// The file's bytes for `model` (put in eval mode). Unsupported layers are an
/// error naming the layer and the reason.
std::vector<uint8_t> export_packed_bytes(
    models::ClassifierImpl& model, const PackedExportOptions& options);

/// Writes export_packed_bytes() to `path` (through a temporary file).
void export_packed(
    models::ClassifierImpl& model, const PackedExportOptions& options, const std::string& path);

}  // namespace ewgs::deploy
