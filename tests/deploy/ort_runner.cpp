// ONNX Runtime from the tests (ort_runner.h): temporary files in, a Node.js process,
// raw output files back.
#include "ort_runner.h"

#include <c10/util/Exception.h>
#include <onnx/onnx_pb.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <stdlib.h>  // mkdtemp

#include "ewgs/deploy/onnx_export.h"

namespace ewgs::test {
namespace {

namespace fs = std::filesystem;

std::string node_modules() {
  const char* env = std::getenv("EWGS_ORT_NODE_MODULES");
  return env ? env : EWGS_ORT_NODE_MODULES;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

/// A fresh folder under the system's temporary folder, removed on destruction.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::string pattern = (fs::temp_directory_path() / "ewgs-ort-XXXXXX").string();
    TORCH_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a temporary folder ", pattern);
    path_ = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  TORCH_CHECK(out.good(), "cannot write ", path.string());
}

torch::Tensor read_tensor(
    const fs::path& path, const std::string& type, const std::vector<int64_t>& dims) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TORCH_CHECK(
      type == "float32" || type == "uint8",
      "ONNX Runtime output ",
      path.string(),
      " has type ",
      type);
  const auto dtype = type == "float32" ? torch::kFloat : torch::kByte;
  auto t = torch::empty(dims, dtype);
  TORCH_CHECK(
      static_cast<size_t>(t.nbytes()) == bytes.size(),
      path.string(),
      " holds ",
      bytes.size(),
      " bytes, its shape needs ",
      t.nbytes());
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

}  // namespace

std::string ort_unavailable_reason() {
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    return "node is not on PATH: install Node.js and onnxruntime-node with scripts/install-ort.sh";
  }
  const auto package = fs::path(node_modules()) / "onnxruntime-node" / "package.json";
  if (!fs::exists(package)) {
    return "onnxruntime-node is not installed (no " + package.string() +
           "): run scripts/install-ort.sh <build dir>, or point EWGS_ORT_NODE_MODULES at its "
           "node_modules";
  }
  return "";
}

OrtOutputs run_ort(
    const std::string& model_bytes,
    const torch::Tensor& images,
    const std::vector<std::string>& levels) {
  TORCH_CHECK(images.dim() == 4, "run_ort: images must be (N, C, H, W)");
  TemporaryFolder dir;
  const auto model = dir.path() / "model.onnx";
  const auto input = dir.path() / "input.f32";
  const auto out = dir.path() / "out";
  write_file(model, model_bytes.data(), model_bytes.size());
  const auto x = images.to(torch::kFloat).contiguous();
  write_file(input, x.data_ptr(), static_cast<size_t>(x.nbytes()));
  std::string shape, level_list;
  for (const int64_t d : x.sizes()) {
    shape += (shape.empty() ? "" : ",") + std::to_string(d);
  }
  for (const auto& l : levels) {
    level_list += (level_list.empty() ? "" : ",") + l;
  }
  const std::string command = "NODE_PATH=" + quoted(node_modules()) + " node " +
                              quoted(EWGS_ORT_RUNNER) + " run " + quoted(model.string()) + " " +
                              quoted(input.string()) + " " + shape + " " + quoted(out.string()) +
                              " --optimization=" + level_list + " --threads=1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  TORCH_CHECK(pipe != nullptr, "cannot start ", command);
  std::string stdout_text;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    stdout_text.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  TORCH_CHECK(
      status == 0,
      "ONNX Runtime failed (status ",
      status,
      ") running: ",
      command,
      "\n(its error is printed above)");
  const auto report = nlohmann::json::parse(stdout_text);
  OrtOutputs outputs;
  for (const auto& [level, list] : report.at("outputs").items()) {
    for (const auto& o : list) {
      const auto name = o.at("name").get<std::string>();
      outputs[level][name] = read_tensor(
          out / level / (name + ".bin"),
          o.at("type").get<std::string>(),
          o.at("dims").get<std::vector<int64_t>>());
    }
  }
  return outputs;
}

std::string with_input_code_outputs(
    const std::string& model_bytes, const std::vector<std::string>& layers) {
  onnx::ModelProto model;
  TORCH_CHECK(
      model.ParseFromString(model_bytes), "with_input_code_outputs: not a serialized ONNX model");
  for (const auto& layer : layers) {
    auto* output = model.mutable_graph()->add_output();
    output->set_name(deploy::onnx_input_codes_name(layer));
    output->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::UINT8);
  }
  return model.SerializeAsString();
}

}  // namespace ewgs::test
