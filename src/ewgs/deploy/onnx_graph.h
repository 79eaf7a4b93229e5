// A small writer of ONNX graphs for the exporter: nodes whose outputs have unique
// names, constant initializers made from LibTorch tensors, and node attributes.
#pragma once

#include <onnx/onnx_pb.h>
#include <torch/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace ewgs::deploy {

/// Appends nodes and initializers to a GraphProto. Every tensor name is
/// written once (an internal error otherwise), so a name says which value it is.
///
/// Example:
///   OnnxGraph g(*model.mutable_graph());
///   g.node("Relu", {"x"}, "y");
///   g.node("Clip", {"y", g.shared_scalar("const.zero", 0.0f), g.shared_scalar("const.six", 6.0f)},
///   "z");
class OnnxGraph {
 public:
  explicit OnnxGraph(onnx::GraphProto& graph) : graph_(graph) {}

  /// Adds the node `op`(inputs) -> output, named after its output; returns `output`.
  std::string node(
      const std::string& op,
      const std::vector<std::string>& inputs,
      const std::string& output,
      const std::vector<onnx::AttributeProto>& attributes = {});

  /// A constant named `name` with the shape and values of `values` (float32,
  /// int8, uint8, int32 or int64, any shape; a 0-dim tensor is a scalar).
  std::string constant(const std::string& name, const torch::Tensor& values);

  /// A float32 scalar constant shared by every node that reads `name`.
  std::string shared_scalar(const std::string& name, float value);

  /// Declares a float32 graph input or output of shape `dims`, where a
  /// dimension of -1 is the symbolic batch dimension "batch".
  void input(const std::string& name, const std::vector<int64_t>& dims);
  void output(const std::string& name, const std::vector<int64_t>& dims);

 private:
  void claim(const std::string& name);

  onnx::GraphProto& graph_;
  std::set<std::string> names_;
};

/// Node attributes.
onnx::AttributeProto int_attribute(const std::string& name, int64_t value);
onnx::AttributeProto float_attribute(const std::string& name, float value);
onnx::AttributeProto ints_attribute(const std::string& name, const std::vector<int64_t>& values);

}  // namespace ewgs::deploy
