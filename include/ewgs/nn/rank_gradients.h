// Differentiable operations across the ranks of a data-parallel run, for layers
// whose computation must see the whole batch: synchronized BatchNorm statistics,
// and weight quantizers whose gradient estimators are not additive over samples.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "ewgs/core/collective.h"

namespace ewgs::nn {

/// The sum of `x` over the ranks; the gradient of every rank's `x` is the sum
/// over the ranks of the gradients of the result (every rank's loss depends
/// on every rank's `x`).
torch::Tensor all_reduce_sum(const torch::Tensor& x, Collective& group);

/// `x` itself; its gradient is the mean over the ranks of the gradients it
/// receives. Placed after a quantized weight, the quantizer's backward (EWGS:
/// g (1 + delta sign(g) (w - Q(w))), paper Eq. 4) sees the gradient of the
/// whole batch, as in one process, instead of each rank's part: the estimator
/// is not additive, so scaling parts and summing them would not be the same.
torch::Tensor mean_gradient_over_ranks(const torch::Tensor& x, Collective& group);

/// Makes the quantized layers of `model` average the gradient of their
/// quantized weight over `group` (nullptr: local again). Returns the
/// parameters whose gradients are then already the same on every rank (the
/// layers' weights and their weight quantizers' parameters): a data-parallel
/// gradient reducer leaves them out.
std::vector<torch::Tensor> average_quantized_weight_gradients(
    torch::nn::Module& model, const std::shared_ptr<Collective>& group);

}  // namespace ewgs::nn
