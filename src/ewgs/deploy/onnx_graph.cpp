// ONNX graph writer of the exporter (onnx_graph.h).
#include "onnx_graph.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

namespace ewgs::deploy {
namespace {

// TensorProto.raw_data is little-endian; tensors are copied byte for byte.
static_assert(
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the ONNX writer assumes a little-endian host");

int32_t onnx_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat:
      return onnx::TensorProto::FLOAT;
    case torch::kChar:
      return onnx::TensorProto::INT8;
    case torch::kByte:
      return onnx::TensorProto::UINT8;
    case torch::kInt:
      return onnx::TensorProto::INT32;
    case torch::kLong:
      return onnx::TensorProto::INT64;
    default:
      TORCH_INTERNAL_ASSERT(false, "onnx export: no ONNX type for ", type);
  }
}

onnx::AttributeProto typed_attribute(
    const std::string& name, onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(type);
  return a;
}

void set_float_type(
    onnx::ValueInfoProto& info, const std::string& name, const std::vector<int64_t>& dims) {
  info.set_name(name);
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tensor->mutable_shape();
  for (const int64_t d : dims) {
    if (d < 0) {
      shape->add_dim()->set_dim_param("batch");
    } else {
      shape->add_dim()->set_dim_value(d);
    }
  }
}

}  // namespace

std::string OnnxGraph::node(
    const std::string& op,
    const std::vector<std::string>& inputs,
    const std::string& output,
    const std::vector<onnx::AttributeProto>& attributes) {
  claim(output);
  auto* n = graph_.add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const auto& in : inputs) {
    n->add_input(in);
  }
  n->add_output(output);
  for (const auto& a : attributes) {
    *n->add_attribute() = a;
  }
  return output;
}

std::string OnnxGraph::constant(const std::string& name, const torch::Tensor& values) {
  claim(name);
  const auto v = values.detach().cpu().contiguous();
  auto* t = graph_.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx_type(v.scalar_type()));
  for (const int64_t d : v.sizes()) {
    t->add_dims(d);
  }
  t->set_raw_data(v.data_ptr(), static_cast<size_t>(v.numel()) * v.element_size());
  return name;
}

std::string OnnxGraph::shared_scalar(const std::string& name, float value) {
  if (names_.count(name) == 0) {
    constant(name, torch::tensor(value));
  }
  return name;
}

void OnnxGraph::input(const std::string& name, const std::vector<int64_t>& dims) {
  claim(name);
  set_float_type(*graph_.add_input(), name, dims);
}

void OnnxGraph::output(const std::string& name, const std::vector<int64_t>& dims) {
  set_float_type(*graph_.add_output(), name, dims);
}

void OnnxGraph::claim(const std::string& name) {
  TORCH_INTERNAL_ASSERT(
      names_.insert(name).second, "onnx export: tensor name ", name, " written twice");
}

onnx::AttributeProto int_attribute(const std::string& name, int64_t value) {
  auto a = typed_attribute(name, onnx::AttributeProto::INT);
  a.set_i(value);
  return a;
}

onnx::AttributeProto float_attribute(const std::string& name, float value) {
  auto a = typed_attribute(name, onnx::AttributeProto::FLOAT);
  a.set_f(value);
  return a;
}

onnx::AttributeProto ints_attribute(const std::string& name, const std::vector<int64_t>& values) {
  auto a = typed_attribute(name, onnx::AttributeProto::INTS);
  for (const int64_t v : values) {
    a.add_ints(v);
  }
  return a;
}

}  // namespace ewgs::deploy
