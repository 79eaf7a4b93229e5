// LibTorch's SGD and Adam updates with device-resident learning rate and step count
// (include/ewgs/train/device_optimizer_step.h).
#include "ewgs/train/device_optimizer_step.h"

#include <c10/util/Exception.h>

#include "optimizer_state.h"

namespace ewgs::train {
namespace {

torch::Tensor device_scalar(const torch::Tensor& like) {
  return torch::zeros({}, like.options().dtype(torch::kDouble));
}

}  // namespace

DeviceOptimizerStep::DeviceOptimizerStep(Optimizers& optimizers) {
  for (auto* optimizer : {optimizers.model.get(), optimizers.quant.get()}) {
    if (optimizer == nullptr) {
      continue;
    }
    for (auto& group : optimizer->param_groups()) {
      if (!group.params().empty()) {
        groups_.push_back(take_group(*optimizer, group));
      }
    }
  }
}

DeviceOptimizerStep::Group DeviceOptimizerStep::take_group(
    torch::optim::Optimizer& optimizer, torch::optim::OptimizerParamGroup& group) {
  Group g{Kind::kSgd, &group, {}, {}, {}, {}, {}, {}, {}};
  const bool adam = detail::is_adam(optimizer, "DeviceOptimizerStep");
  g.kind = adam ? Kind::kAdam : Kind::kSgd;
  const bool momentum =
      !adam && static_cast<const torch::optim::SGDOptions&>(group.options()).momentum() != 0;
  for (const auto& p : group.params()) {
    auto* state = detail::param_state(optimizer, p);
    if (state == nullptr) {
      // LibTorch skips parameters without gradients; so does this step, as
      // long as they never get one.
      TORCH_CHECK(
          !p.grad().defined(),
          "DeviceOptimizerStep: a parameter with a gradient has no optimizer state yet; "
          "take one ordinary optimizer step first");
      continue;
    }
    g.params.push_back(p);
    if (adam) {
      auto& s = static_cast<torch::optim::AdamParamState&>(*state);
      g.first.push_back(s.exp_avg());
      g.second.push_back(s.exp_avg_sq());
      g.second_max.push_back(s.max_exp_avg_sq());
      g.adam_states.push_back(&s);
      TORCH_CHECK(
          s.step() == g.adam_states.front()->step(),
          "DeviceOptimizerStep: Adam's parameters of one group have taken different step counts");
    } else if (momentum) {
      g.first.push_back(static_cast<torch::optim::SGDParamState&>(*state).momentum_buffer());
    }
  }
  if (!g.params.empty()) {
    g.lr = device_scalar(g.params.front());
    g.step = device_scalar(g.params.front());
  }
  return g;
}

void DeviceOptimizerStep::prepare() {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    if (g.params.empty()) {
      continue;
    }
    g.lr.fill_(g.group->options().get_lr());
    if (g.kind == Kind::kAdam) {
      g.step.fill_(static_cast<double>(g.adam_states.front()->step() + 1));
    }
  }
}

void DeviceOptimizerStep::step() {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    if (g.params.empty()) {
      continue;
    }
    if (g.kind == Kind::kAdam) {
      adam_step(g);
    } else {
      sgd_step(g);
    }
  }
}

void DeviceOptimizerStep::finish() {
  for (auto& g : groups_) {
    for (auto* s : g.adam_states) {
      s->step(s->step() + 1);
    }
  }
}

void DeviceOptimizerStep::sgd_step(Group& g) {
  const auto& o = static_cast<const torch::optim::SGDOptions&>(g.group->options());
  for (size_t i = 0; i < g.params.size(); ++i) {
    auto& p = g.params[i];
    auto d_p = p.grad();
    if (o.weight_decay() != 0) {
      d_p = d_p.add(p, o.weight_decay());
    }
    if (o.momentum() != 0) {
      auto& buf = g.first[i];
      buf.mul_(o.momentum()).add_(d_p, 1 - o.dampening());
      d_p = o.nesterov() ? d_p.add(buf, o.momentum()) : buf;
    }
    // LibTorch: p += -lr * d_p, with lr a host number.
    p.sub_(d_p.mul(g.lr));
  }
}

void DeviceOptimizerStep::adam_step(Group& g) {
  const auto& o = static_cast<const torch::optim::AdamOptions&>(g.group->options());
  const double beta1 = std::get<0>(o.betas());
  const double beta2 = std::get<1>(o.betas());
  // Bias corrections 1 - beta^t from the device step count t (float64, as
  // LibTorch's host arithmetic); the step size is lr / (1 - beta1^t).
  const auto correction1 = 1 - torch::pow(beta1, g.step);
  const auto root_correction2 = (1 - torch::pow(beta2, g.step)).sqrt();
  const auto step_size = g.lr / correction1;
  for (size_t i = 0; i < g.params.size(); ++i) {
    auto& p = g.params[i];
    auto grad = p.grad();
    if (o.weight_decay() != 0) {
      grad = grad.add(p, o.weight_decay());
    }
    g.first[i].mul_(beta1).add_(grad, 1 - beta1);
    g.second[i].mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    torch::Tensor denom;
    if (o.amsgrad()) {
      torch::maximum_out(g.second_max[i], g.second_max[i], g.second[i]);
      denom = (g.second_max[i].sqrt() / root_correction2).add_(o.eps());
    } else {
      denom = (g.second[i].sqrt() / root_correction2).add_(o.eps());
    }
    // LibTorch: p += -step_size * exp_avg / denom, with step_size a host number.
    p.sub_(g.first[i].mul(step_size).div(denom));
  }
}

}  // namespace ewgs::train
