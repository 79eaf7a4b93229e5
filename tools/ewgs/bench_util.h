// Helpers shared by the `ewgs bench` subcommands: devices, medians, the JSON
// header that says where a number was measured.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ewgs::cli {

/// "cpu" or "cuda" (an error when no CUDA device is available).
c10::Device parse_device(const std::string& name);

/// Waits for queued CUDA work on `device`; nothing on the CPU.
void synchronize(const c10::Device& device);

/// Median of `values` (not empty).
double median(std::vector<double> values);

/// {C, H, W} of the images a model is benchmarked with.
std::vector<int64_t> input_shape(const std::string& model);

/// {"benchmark", "device", "threads", "ewgs", "libtorch", "date"}.
nlohmann::json bench_header(const std::string& name, const c10::Device& device, int64_t threads);

}  // namespace ewgs::cli
