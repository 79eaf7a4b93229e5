// SGD and Adam optimizer state as plain values, and back (optimizer_state.h).
#include "optimizer_state.h"

#include <ATen/ops/empty_like.h>
#include <c10/util/Exception.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "checkpoint_values.h"

namespace ewgs::train::detail {
namespace {

using torch::optim::AdamOptions;
using torch::optim::AdamParamState;
using torch::optim::SGDOptions;
using torch::optim::SGDParamState;

/// The key of `p` in `states`: LibTorch keys its state map by the parameter's
/// TensorImpl, as a printed pointer (1.x) or as the pointer (2.x).
template <class StateMap>
typename StateMap::key_type state_key(const StateMap& /*states*/, const torch::Tensor& p) {
  auto* impl = p.unsafeGetTensorImpl();
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream key;
    key << impl;
    return key.str();
  } else {
    return impl;
  }
}

enum class Kind { kSgd, kAdam };

Kind kind_of(torch::optim::Optimizer& optimizer) {
  return is_adam(optimizer, "optimizer state") ? Kind::kAdam : Kind::kSgd;
}

const char* kind_name(Kind kind) {
  return kind == Kind::kAdam ? "adam" : "sgd";
}

torch::Tensor on_cpu(const torch::Tensor& t) {
  return t.detach().cpu();
}

c10::impl::GenericDict options_value(Kind kind, torch::optim::OptimizerOptions& options) {
  auto out = new_checkpoint_dict();
  if (kind == Kind::kAdam) {
    const auto& o = static_cast<AdamOptions&>(options);
    out.insert("lr", o.lr());
    out.insert("beta1", std::get<0>(o.betas()));
    out.insert("beta2", std::get<1>(o.betas()));
    out.insert("eps", o.eps());
    out.insert("weight_decay", o.weight_decay());
    out.insert("amsgrad", o.amsgrad());
  } else {
    const auto& o = static_cast<SGDOptions&>(options);
    out.insert("lr", o.lr());
    out.insert("momentum", o.momentum());
    out.insert("dampening", o.dampening());
    out.insert("weight_decay", o.weight_decay());
    out.insert("nesterov", o.nesterov());
  }
  return out;
}

c10::IValue buffers_value(Kind kind, torch::optim::OptimizerParamState* state) {
  if (state == nullptr) {
    return c10::IValue();
  }
  auto out = new_checkpoint_dict();
  if (kind == Kind::kAdam) {
    const auto& s = static_cast<AdamParamState&>(*state);
    out.insert("step", s.step());
    out.insert("exp_avg", on_cpu(s.exp_avg()));
    out.insert("exp_avg_sq", on_cpu(s.exp_avg_sq()));
    if (s.max_exp_avg_sq().defined()) {
      out.insert("max_exp_avg_sq", on_cpu(s.max_exp_avg_sq()));
    }
  } else {
    const auto& s = static_cast<SGDParamState&>(*state);
    if (s.momentum_buffer().defined()) {
      out.insert("momentum_buffer", on_cpu(s.momentum_buffer()));
    }
  }
  return out;
}

/// Buffer `key` of `entry` for parameter `p`: same shape and type, finite, copied
/// into a tensor laid out like `p` on its device.
torch::Tensor buffer_for(
    const CheckpointDict& entry, const std::string& key, const torch::Tensor& p) {
  const torch::Tensor t = entry.tensor(key);
  TORCH_CHECK(
      t.sizes() == p.sizes() && t.scalar_type() == p.scalar_type(),
      entry.name(key),
      " is ",
      c10::toString(t.scalar_type()),
      t.sizes(),
      ", the parameter ",
      c10::toString(p.scalar_type()),
      p.sizes());
  TORCH_CHECK(
      t.isfinite().all().item<bool>(), entry.name(key), " has non-finite values (NaN or Inf)");
  return at::empty_like(p).copy_(t);
}

/// The state of parameter `p` read from `value` (None: no state yet). Adam's state
/// holds max_exp_avg_sq exactly when the group uses AMSGrad; SGD has state only
/// with momentum, so its momentum buffer is required.
std::unique_ptr<torch::optim::OptimizerParamState> buffers_for(
    Kind kind,
    bool amsgrad,
    const c10::IValue& value,
    const std::string& where,
    const torch::Tensor& p) {
  if (value.isNone()) {
    return nullptr;
  }
  const CheckpointDict entry(value, where);
  torch::NoGradGuard no_grad;
  if (kind == Kind::kAdam) {
    auto s = std::make_unique<AdamParamState>();
    const int64_t step = entry.integer("step");
    TORCH_CHECK(step >= 0, entry.name("step"), " is negative: ", step);
    s->step(step);
    s->exp_avg(buffer_for(entry, "exp_avg", p));
    s->exp_avg_sq(buffer_for(entry, "exp_avg_sq", p));
    TORCH_CHECK(
        entry.has("max_exp_avg_sq") == amsgrad,
        where,
        amsgrad ? " lacks 'max_exp_avg_sq', which AMSGrad needs"
                : " has 'max_exp_avg_sq' but the group does not use AMSGrad");
    if (amsgrad) {
      s->max_exp_avg_sq(buffer_for(entry, "max_exp_avg_sq", p));
    }
    return s;
  }
  auto s = std::make_unique<SGDParamState>();
  s->momentum_buffer(buffer_for(entry, "momentum_buffer", p));
  return s;
}

/// A non-negative finite option (learning rate, decay, moments).
double option_for(const CheckpointDict& options, const std::string& key) {
  const double v = options.real(key);
  TORCH_CHECK(std::isfinite(v) && v >= 0, options.name(key), " must be finite and >= 0, got ", v);
  return v;
}

/// The assignment of `options` to `group`, checked before anything is assigned.
std::function<void()> options_for(
    Kind kind, const CheckpointDict& options, torch::optim::OptimizerParamGroup& group) {
  const double lr = option_for(options, "lr");
  const double weight_decay = option_for(options, "weight_decay");
  if (kind == Kind::kAdam) {
    const double beta1 = option_for(options, "beta1");
    const double beta2 = option_for(options, "beta2");
    const double eps = option_for(options, "eps");
    const bool amsgrad = options.flag("amsgrad");
    return [=, &group] {
      auto& o = static_cast<AdamOptions&>(group.options());
      o.lr(lr).betas({beta1, beta2}).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad);
    };
  }
  const double momentum = option_for(options, "momentum");
  const double dampening = option_for(options, "dampening");
  const bool nesterov = options.flag("nesterov");
  return [=, &group] {
    auto& o = static_cast<SGDOptions&>(group.options());
    o.lr(lr).momentum(momentum).dampening(dampening).weight_decay(weight_decay).nesterov(nesterov);
  };
}

}  // namespace

bool is_adam(torch::optim::Optimizer& optimizer, const char* user) {
  if (dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr) {
    return true;
  }
  TORCH_CHECK(
      dynamic_cast<torch::optim::SGD*>(&optimizer) != nullptr,
      user,
      ": only torch::optim::SGD and torch::optim::Adam are supported");
  return false;
}

torch::optim::OptimizerParamState* param_state(
    torch::optim::Optimizer& optimizer, const torch::Tensor& p) {
  auto& states = optimizer.state();
  const auto found = states.find(state_key(states, p));
  return found == states.end() ? nullptr : found->second.get();
}

c10::IValue optimizer_state_value(torch::optim::Optimizer& optimizer) {
  const Kind kind = kind_of(optimizer);
  c10::impl::GenericList groups(c10::AnyType::get());
  for (auto& group : optimizer.param_groups()) {
    auto g = options_value(kind, group.options());
    c10::impl::GenericList state(c10::AnyType::get());
    for (const auto& p : group.params()) {
      state.push_back(buffers_value(kind, param_state(optimizer, p)));
    }
    g.insert("state", state);
    groups.push_back(g);
  }
  auto out = new_checkpoint_dict();
  out.insert("kind", kind_name(kind));
  out.insert("groups", groups);
  return out;
}

void restore_optimizer_state(
    torch::optim::Optimizer& optimizer, const c10::IValue& value, const std::string& where) {
  const Kind kind = kind_of(optimizer);
  const CheckpointDict saved(value, where);
  const std::string saved_kind = saved.text("kind");
  TORCH_CHECK(
      saved_kind == kind_name(kind),
      saved.name("kind"),
      " is '",
      saved_kind,
      "', the run's optimizer is '",
      kind_name(kind),
      "'");
  const auto groups = saved.list("groups");
  auto& param_groups = optimizer.param_groups();
  TORCH_CHECK(
      groups.size() == param_groups.size(),
      saved.name("groups"),
      " has ",
      groups.size(),
      " parameter groups, the run's optimizer ",
      param_groups.size());
  // Everything is read and checked first; only then is the optimizer changed.
  std::vector<std::function<void()>> assign;
  std::vector<std::pair<torch::Tensor, std::unique_ptr<torch::optim::OptimizerParamState>>> states;
  for (size_t i = 0; i < groups.size(); ++i) {
    const CheckpointDict group(groups[i], saved.name("groups") + " group " + std::to_string(i));
    assign.push_back(options_for(kind, group, param_groups[i]));
    const bool amsgrad = kind == Kind::kAdam && group.flag("amsgrad");
    const auto& params = param_groups[i].params();
    const auto buffers = group.list("state");
    TORCH_CHECK(
        buffers.size() == params.size(),
        group.name("state"),
        " holds ",
        buffers.size(),
        " parameters, the run's group ",
        params.size());
    for (size_t j = 0; j < params.size(); ++j) {
      states.emplace_back(
          params[j],
          buffers_for(
              kind,
              amsgrad,
              buffers[j],
              group.name("state") + " parameter " + std::to_string(j),
              params[j]));
    }
  }
  for (const auto& set : assign) {
    set();
  }
  auto& map = optimizer.state();
  for (auto& [p, state] : states) {
    const auto key = state_key(map, p);
    if (state == nullptr) {
      map.erase(key);
    } else {
      map[key] = std::move(state);
    }
  }
}

}  // namespace ewgs::train::detail
