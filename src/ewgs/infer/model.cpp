// Parsing and validating packed models (include/ewgs/infer/model.h): every field is
// checked and every tensor shape recomputed, so a damaged description is an error
// that names the operation and field, never a crash in the engine.
#include "ewgs/infer/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "ewgs/infer/error.h"

namespace ewgs::infer {

const char* to_string(Activation a) {
  switch (a) {
    case Activation::kNone:
      return "none";
    case Activation::kRelu:
      return "relu";
    case Activation::kRelu6:
      return "relu6";
    case Activation::kHardTanh:
      return "hardtanh";
  }
  return "?";
}

double apply_activation(Activation a, double y) {
  switch (a) {
    case Activation::kNone:
      return y;
    case Activation::kRelu:
      return std::max(y, 0.0);
    case Activation::kRelu6:
      return std::min(std::max(y, 0.0), 6.0);
    case Activation::kHardTanh:
      return std::min(std::max(y, -1.0), 1.0);
  }
  return y;
}

int64_t ActQuantizer::code(double x) const {
  if (kind == Kind::kThresholds) {
    int64_t c = 0;
    for (size_t k = 0; k < thresholds.size(); ++k) {
      c += inclusive[k] ? x >= thresholds[k] : x > thresholds[k];
    }
    return c;
  }
  double t = x * scale;
  t = t + shift;
  t = std::min(std::max(t, 0.0), static_cast<double>(levels - 1));
  return static_cast<int64_t>(
      rounding == Rounding::kHalfEven ? std::nearbyint(t) : std::ceil(t - 0.5));
}

int64_t ConvOp::weight_int(int64_t o, int64_t k) const {
  return weight_gain * codes[static_cast<size_t>(o * window() + k)] - weight_zero;
}

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kQuantize:
      return "quantize";
    case OpKind::kConv:
      return "conv";
    case OpKind::kMaxPool:
      return "max_pool";
    case OpKind::kAdaptiveMaxPool:
      return "adaptive_max_pool";
    case OpKind::kGlobalAvgPool:
      return "global_avg_pool";
    case OpKind::kFlatten:
      return "flatten";
    case OpKind::kAffine:
      return "affine";
    case OpKind::kAdd:
      return "add";
    case OpKind::kZeroPadShortcut:
      return "zero_pad_shortcut";
  }
  return "?";
}

namespace {

/// Reads fields of one JSON object, naming `where` in every error.
class Fields {
 public:
  Fields(const nlohmann::json& object, std::string where)
      : object_(object), where_(std::move(where)) {
    EWGS_INFER_CHECK(object.is_object(), where_, ": expected a JSON object");
  }

  const std::string& where() const { return where_; }
  bool has(const char* key) const { return object_.contains(key) && !object_[key].is_null(); }

  const nlohmann::json& at(const char* key) const {
    EWGS_INFER_CHECK(has(key), where_, ": missing field \"", key, "\"");
    return object_[key];
  }

  int64_t integer(const char* key, int64_t lo, int64_t hi) const {
    const auto& v = at(key);
    EWGS_INFER_CHECK(v.is_number_integer(), where_, ": field \"", key, "\" must be an integer");
    const auto i = v.get<int64_t>();
    EWGS_INFER_CHECK(
        i >= lo && i <= hi, where_, ": field \"", key, "\" is ", i, ", expected ", lo, "..", hi);
    return i;
  }

  double number(const char* key) const {
    const auto& v = at(key);
    EWGS_INFER_CHECK(
        v.is_number() && std::isfinite(v.get<double>()),
        where_,
        ": field \"",
        key,
        "\" must be a finite number");
    return v.get<double>();
  }

  std::string text(const char* key) const {
    const auto& v = at(key);
    EWGS_INFER_CHECK(v.is_string(), where_, ": field \"", key, "\" must be a string");
    return v.get<std::string>();
  }

  /// A list of two integers in [lo, hi] ("kernel", "stride", "padding").
  std::pair<int64_t, int64_t> pair(const char* key, int64_t lo, int64_t hi) const {
    const auto& v = at(key);
    EWGS_INFER_CHECK(
        v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer(),
        where_,
        ": field \"",
        key,
        "\" must be a list of two integers");
    const auto a = v[0].get<int64_t>();
    const auto b = v[1].get<int64_t>();
    EWGS_INFER_CHECK(
        a >= lo && a <= hi && b >= lo && b <= hi,
        where_,
        ": field \"",
        key,
        "\" is [",
        a,
        ", ",
        b,
        "], expected values in ",
        lo,
        "..",
        hi);
    return {a, b};
  }

 private:
  const nlohmann::json& object_;
  std::string where_;
};

constexpr int64_t kMaxDim = int64_t{1} << 24;

Activation parse_activation(const Fields& f) {
  if (!f.has("activation")) {
    return Activation::kNone;
  }
  const auto name = f.text("activation");
  for (const auto a :
       {Activation::kNone, Activation::kRelu, Activation::kRelu6, Activation::kHardTanh}) {
    if (name == to_string(a)) {
      return a;
    }
  }
  throw Error(
      f.where() + ": unknown activation '" + name + "'; expected none, relu, relu6 or hardtanh");
}

ActQuantizer parse_quantizer(const nlohmann::json& object, const std::string& where) {
  Fields f(object, where);
  ActQuantizer q;
  q.bits = static_cast<int>(f.integer("bits", 1, 8));
  q.levels = f.integer("levels", 2, int64_t{1} << q.bits);
  const auto kind = f.text("kind");
  if (kind == "affine") {
    q.kind = ActQuantizer::Kind::kAffine;
    q.scale = f.number("scale");
    q.shift = f.number("shift");
    const auto rounding = f.text("rounding");
    EWGS_INFER_CHECK(
        rounding == "half_even" || rounding == "half_down",
        where,
        ": rounding must be half_even or half_down, got '",
        rounding,
        "'");
    q.rounding = rounding == "half_even" ? Rounding::kHalfEven : Rounding::kHalfDown;
    EWGS_INFER_CHECK(q.scale > 0.0, where, ": an affine quantizer needs scale > 0, got ", q.scale);
    return q;
  }
  EWGS_INFER_CHECK(
      kind == "thresholds",
      where,
      ": quantizer kind must be affine or thresholds, got '",
      kind,
      "'");
  q.kind = ActQuantizer::Kind::kThresholds;
  const auto& t = f.at("thresholds");
  const auto& inc = f.at("inclusive");
  EWGS_INFER_CHECK(
      t.is_array() && inc.is_array() && t.size() == inc.size() &&
          static_cast<int64_t>(t.size()) == q.levels - 1,
      where,
      ": a threshold quantizer of ",
      q.levels,
      " levels needs ",
      q.levels - 1,
      " thresholds and as many inclusive flags");
  for (size_t k = 0; k < t.size(); ++k) {
    EWGS_INFER_CHECK(
        t[k].is_number() && std::isfinite(t[k].get<double>()) && inc[k].is_boolean(),
        where,
        ": threshold ",
        k,
        " must be a finite number with a boolean inclusive flag");
    q.thresholds.push_back(t[k].get<double>());
    q.inclusive.push_back(inc[k].get<bool>());
    EWGS_INFER_CHECK(
        k == 0 || q.thresholds[k] >= q.thresholds[k - 1], where, ": thresholds must not decrease");
  }
  return q;
}

/// Reads a float64 array of exactly `n` finite values.
std::vector<double> read_f64(
    const ModelFile& file, const nlohmann::json& descriptor, int64_t n, const std::string& what) {
  const auto shape = ModelFile::array_shape(descriptor, what);
  EWGS_INFER_CHECK(
      shape.size() == 1 && shape[0] == n, file.source(), ": ", what, " must have ", n, " values");
  std::vector<double> out(static_cast<size_t>(n));
  std::memcpy(
      out.data(), file.array(descriptor, ArrayType::kF64, what), out.size() * sizeof(double));
  for (const double v : out) {
    EWGS_INFER_CHECK(std::isfinite(v), file.source(), ": ", what, " holds a non-finite value");
  }
  return out;
}

std::vector<float> read_f32(
    const ModelFile& file,
    const nlohmann::json& descriptor,
    const std::vector<int64_t>& shape,
    const std::string& what) {
  EWGS_INFER_CHECK(
      ModelFile::array_shape(descriptor, what) == shape,
      file.source(),
      ": ",
      what,
      " has the wrong shape");
  int64_t n = 1;
  for (const auto d : shape) {
    n *= d;
  }
  std::vector<float> out(static_cast<size_t>(n));
  std::memcpy(
      out.data(), file.array(descriptor, ArrayType::kF32, what), out.size() * sizeof(float));
  for (const float v : out) {
    EWGS_INFER_CHECK(std::isfinite(v), file.source(), ": ", what, " holds a non-finite value");
  }
  return out;
}

/// Builds the model, recomputing every tensor's shape from its producer.
class Parser {
 public:
  Parser(const ModelFile& file, std::vector<TensorInfo>& tensors, std::vector<Op>& ops)
      : file_(file), tensors_(tensors), ops_(ops) {}

  void parse_tensors(const nlohmann::json& list) {
    EWGS_INFER_CHECK(
        list.is_array() && !list.empty(), file_.source(), ": \"tensors\" must be a non-empty list");
    for (size_t i = 0; i < list.size(); ++i) {
      Fields f(list[i], file_.source() + ": tensor " + std::to_string(i));
      TensorInfo t;
      t.name = f.text("name");
      const auto kind = f.text("kind");
      EWGS_INFER_CHECK(
          kind == "float" || kind == "codes",
          f.where(),
          ": kind must be float or codes, got '",
          kind,
          "'");
      t.codes = kind == "codes";
      t.bits = t.codes ? static_cast<int>(f.integer("bits", 1, 8)) : 0;
      const auto& shape = f.at("shape");
      EWGS_INFER_CHECK(
          shape.is_array() && shape.size() == 3,
          f.where(),
          ": shape must be [height, width, channels]");
      for (const auto& d : shape) {
        EWGS_INFER_CHECK(
            d.is_number_integer() && d.get<int64_t>() >= 1 && d.get<int64_t>() <= kMaxDim,
            f.where(),
            ": shape entries must be integers in 1..",
            kMaxDim);
      }
      t.height = shape[0].get<int64_t>();
      t.width = shape[1].get<int64_t>();
      t.channels = shape[2].get<int64_t>();
      EWGS_INFER_CHECK(
          t.elements() <= (int64_t{1} << 31),
          f.where(),
          ": ",
          t.elements(),
          " elements is too many");
      EWGS_INFER_CHECK(
          index_.emplace(t.name, static_cast<int>(tensors_.size())).second,
          f.where(),
          ": the name '",
          t.name,
          "' is used twice");
      tensors_.push_back(t);
    }
    written_.assign(tensors_.size(), false);
  }

  int tensor(const Fields& f, const char* key) const {
    const auto name = f.text(key);
    const auto it = index_.find(name);
    EWGS_INFER_CHECK(
        it != index_.end(),
        f.where(),
        ": \"",
        key,
        "\" names tensor '",
        name,
        "', which is not declared");
    return it->second;
  }

  void mark_input(int t) {
    EWGS_INFER_CHECK(!tensors_[t].codes, file_.source(), ": the input tensor must hold floats");
    written_[t] = true;
  }

  /// A tensor read by an op must have been written before, with this kind.
  const TensorInfo& read(const Fields& f, int t, bool codes) const {
    EWGS_INFER_CHECK(
        written_[t],
        f.where(),
        ": reads tensor '",
        tensors_[t].name,
        "' before any operation writes it");
    EWGS_INFER_CHECK(
        tensors_[t].codes == codes,
        f.where(),
        ": tensor '",
        tensors_[t].name,
        "' holds ",
        tensors_[t].codes ? "codes" : "floats",
        ", expected ",
        codes ? "codes" : "floats");
    return tensors_[t];
  }

  /// The op writes `t`, whose declared shape must equal `expected`.
  void write(const Fields& f, int t, const TensorInfo& expected) {
    const auto& declared = tensors_[t];
    EWGS_INFER_CHECK(!written_[t], f.where(), ": tensor '", declared.name, "' is written twice");
    EWGS_INFER_CHECK(
        declared.codes == expected.codes && declared.bits == expected.bits &&
            declared.height == expected.height && declared.width == expected.width &&
            declared.channels == expected.channels,
        f.where(),
        ": tensor '",
        declared.name,
        "' is declared ",
        describe(declared),
        " but the operation produces ",
        describe(expected));
    written_[t] = true;
  }

  void parse_op(const nlohmann::json& object, size_t index) {
    Fields f(object, file_.source() + ": operation " + std::to_string(index));
    Op op;
    const auto kind = f.text("op");
    op.name = f.has("name") ? f.text("name") : "";
    Fields named(object, f.where() + " (" + kind + (op.name.empty() ? "" : " " + op.name) + ")");
    if (kind == "quantize") {
      op.kind = OpKind::kQuantize;
      op.inputs = {tensor(named, "input")};
      op.quantizer = parse_quantizer(named.at("quantizer"), named.where() + ": quantizer");
      auto out = read(named, op.inputs[0], false);
      out.codes = true;
      out.bits = op.quantizer.bits;
      op.output = tensor(named, "output");
      write(named, op.output, out);
    } else if (kind == "conv") {
      op.kind = OpKind::kConv;
      op.inputs = {tensor(named, "input")};
      op.output = tensor(named, "output");
      parse_conv(named, op);
    } else if (kind == "max_pool" || kind == "adaptive_max_pool") {
      op.inputs = {tensor(named, "input")};
      const auto& in = tensors_[op.inputs[0]];
      read(named, op.inputs[0], in.codes);
      auto out = in;
      if (kind == "max_pool") {
        op.kind = OpKind::kMaxPool;
        op.kernel = named.integer("kernel", 1, 64);
        op.stride = named.integer("stride", 1, 64);
        op.padding = named.integer("padding", 0, op.kernel / 2);
        out.height = (in.height + 2 * op.padding - op.kernel) / op.stride + 1;
        out.width = (in.width + 2 * op.padding - op.kernel) / op.stride + 1;
        EWGS_INFER_CHECK(
            in.height + 2 * op.padding >= op.kernel && in.width + 2 * op.padding >= op.kernel,
            named.where(),
            ": the kernel is larger than the padded input");
      } else {
        op.kind = OpKind::kAdaptiveMaxPool;
        op.size = named.integer("size", 1, kMaxDim);
        out.height = out.width = op.size;
      }
      op.output = tensor(named, "output");
      write(named, op.output, out);
    } else if (kind == "global_avg_pool" || kind == "flatten") {
      op.kind = kind == "flatten" ? OpKind::kFlatten : OpKind::kGlobalAvgPool;
      op.inputs = {tensor(named, "input")};
      auto out = read(named, op.inputs[0], false);
      out.channels = kind == "flatten" ? out.elements() : out.channels;
      out.height = out.width = 1;
      op.output = tensor(named, "output");
      write(named, op.output, out);
    } else if (kind == "affine") {
      op.kind = OpKind::kAffine;
      op.inputs = {tensor(named, "input")};
      const auto out = read(named, op.inputs[0], false);
      op.scale = read_f64(file_, named.at("scale"), out.channels, named.where() + ": scale");
      op.shift = read_f64(file_, named.at("shift"), out.channels, named.where() + ": shift");
      op.activation = parse_activation(named);
      op.output = tensor(named, "output");
      write(named, op.output, out);
    } else if (kind == "add") {
      op.kind = OpKind::kAdd;
      const auto& inputs = named.at("inputs");
      EWGS_INFER_CHECK(
          inputs.is_array() && inputs.size() == 2 && inputs[0].is_string() && inputs[1].is_string(),
          named.where(),
          ": \"inputs\" must name two tensors");
      for (const auto& name : inputs) {
        const auto it = index_.find(name.get<std::string>());
        EWGS_INFER_CHECK(
            it != index_.end(),
            named.where(),
            ": input '",
            name.get<std::string>(),
            "' is not declared");
        op.inputs.push_back(it->second);
      }
      const auto a = read(named, op.inputs[0], false);
      const auto b = read(named, op.inputs[1], false);
      EWGS_INFER_CHECK(
          same_shape(a, b), named.where(), ": cannot add ", describe(a), " and ", describe(b));
      op.activation = parse_activation(named);
      op.output = tensor(named, "output");
      write(named, op.output, a);
    } else if (kind == "zero_pad_shortcut") {
      op.kind = OpKind::kZeroPadShortcut;
      op.inputs = {tensor(named, "input")};
      op.pad = named.integer("pad", 0, kMaxDim);
      auto out = read(named, op.inputs[0], false);
      out.height = (out.height + 1) / 2;
      out.width = (out.width + 1) / 2;
      out.channels += 2 * op.pad;
      op.output = tensor(named, "output");
      write(named, op.output, out);
    } else {
      throw Error(f.where() + ": unknown operation '" + kind + "'");
    }
    ops_.push_back(std::move(op));
  }

  void check_output(int t) const {
    EWGS_INFER_CHECK(
        written_[t] && !tensors_[t].codes,
        file_.source(),
        ": the output tensor '",
        tensors_[t].name,
        "' must be a float tensor written by an operation");
  }

 private:
  static bool same_shape(const TensorInfo& a, const TensorInfo& b) {
    return a.codes == b.codes && a.bits == b.bits && a.height == b.height && a.width == b.width &&
           a.channels == b.channels;
  }

  static std::string describe(const TensorInfo& t) {
    return detail::concat(
        t.codes ? "codes" : "floats",
        t.codes ? "(" + std::to_string(t.bits) + " bits)" : "",
        " [",
        t.height,
        ", ",
        t.width,
        ", ",
        t.channels,
        "]");
  }

  void parse_conv(const Fields& f, Op& op) {
    auto& c = op.conv;
    c.in_channels = f.integer("in_channels", 1, kMaxDim);
    c.out_channels = f.integer("out_channels", 1, kMaxDim);
    c.groups = f.integer("groups", 1, c.in_channels);
    EWGS_INFER_CHECK(
        c.in_channels % c.groups == 0 && c.out_channels % c.groups == 0,
        f.where(),
        ": in_channels and out_channels must be divisible by groups");
    std::tie(c.kernel_h, c.kernel_w) = f.pair("kernel", 1, 64);
    std::tie(c.stride_h, c.stride_w) = f.pair("stride", 1, 64);
    std::tie(c.pad_h, c.pad_w) = f.pair("padding", 0, 64);
    Fields w(f.at("weights"), f.where() + ": weights");
    c.weight_bits = static_cast<int>(w.integer("bits", 0, 4));
    const int input = op.inputs[0];
    const auto& in = read(f, input, c.quantized());
    EWGS_INFER_CHECK(
        in.channels == c.in_channels,
        f.where(),
        ": the input has ",
        in.channels,
        " channels, in_channels is ",
        c.in_channels);
    const std::vector<int64_t> code_shape = {
        c.out_channels, c.kernel_h, c.kernel_w, c.in_channels / c.groups};
    if (c.quantized()) {
      c.weight_gain = w.integer("gain", 1, 2);
      c.weight_zero = w.integer("zero", 0, 255);
      const auto type = packed_code_type(c.weight_bits);
      const auto& codes = w.at("codes");
      EWGS_INFER_CHECK(
          ModelFile::array_shape(codes, w.where()) == code_shape,
          w.where(),
          ": codes must have shape [out_channels, kernel_h, kernel_w, in_channels / groups]");
      c.codes = unpack_codes(
          file_.array(codes, type, w.where() + ": codes"),
          c.weight_bits,
          c.out_channels,
          c.window());
      const auto max_code = (int64_t{1} << c.weight_bits) - 1;
      for (const auto code : c.codes) {
        EWGS_INFER_CHECK(code <= max_code, w.where(), ": a code exceeds ", max_code);
      }
    } else {
      c.weights = read_f32(
          file_,
          w.at("values"),
          {c.out_channels, c.in_channels / c.groups, c.kernel_h, c.kernel_w},
          w.where() + ": values");
      if (w.has("bias")) {
        c.bias = read_f32(file_, w.at("bias"), {c.out_channels}, w.where() + ": bias");
      }
    }
    Fields e(f.at("epilogue"), f.where() + ": epilogue");
    c.epilogue.scale = read_f64(file_, e.at("scale"), c.out_channels, e.where() + ": scale");
    c.epilogue.shift = read_f64(file_, e.at("shift"), c.out_channels, e.where() + ": shift");
    if (e.has("border_scale")) {
      c.epilogue.border_scale =
          read_f64(file_, e.at("border_scale"), c.out_channels, e.where() + ": border_scale");
    }
    c.epilogue.activation = parse_activation(e);
    TensorInfo out;
    out.height = (in.height + 2 * c.pad_h - c.kernel_h) / c.stride_h + 1;
    out.width = (in.width + 2 * c.pad_w - c.kernel_w) / c.stride_w + 1;
    out.channels = c.out_channels;
    EWGS_INFER_CHECK(
        in.height + 2 * c.pad_h >= c.kernel_h && in.width + 2 * c.pad_w >= c.kernel_w,
        f.where(),
        ": the kernel is larger than the padded input");
    if (e.has("residual")) {
      c.epilogue.residual = tensor(e, "residual");
      const auto& r = read(e, c.epilogue.residual, false);
      EWGS_INFER_CHECK(
          same_shape(r, out),
          e.where(),
          ": the residual is ",
          describe(r),
          ", the output ",
          describe(out));
    }
    if (e.has("quantizer")) {
      c.epilogue.quantizer = parse_quantizer(e.at("quantizer"), e.where() + ": quantizer");
      out.codes = true;
      out.bits = c.epilogue.quantizer->bits;
    }
    write(f, op.output, out);
  }

  const ModelFile& file_;
  std::vector<TensorInfo>& tensors_;
  std::vector<Op>& ops_;
  std::map<std::string, int> index_;
  std::vector<bool> written_;
};

}  // namespace

Model Model::load(const std::string& path) {
  return from_file(ModelFile::read(path));
}

Model Model::from_file(const ModelFile& file) {
  Model model;
  model.source_ = file.source();
  model.file_bytes_ = file.size_bytes();
  const auto& d = file.description();
  Fields top(d, file.source());
  EWGS_INFER_CHECK(
      top.text("format") == "ewgs-model", file.source(), ": \"format\" must be \"ewgs-model\"");
  model.producer_ = top.has("producer") ? top.at("producer") : nlohmann::json::object();
  Parser parser(file, model.tensors_, model.ops_);
  parser.parse_tensors(top.at("tensors"));
  Fields input(top.at("input"), file.source() + ": input");
  model.input_ = parser.tensor(input, "tensor");
  parser.mark_input(model.input_);
  for (const char* key : {"mean", "std"}) {
    if (input.has(key)) {
      auto& out = std::string(key) == "mean" ? model.mean_ : model.std_;
      for (const auto& v : input.at(key)) {
        EWGS_INFER_CHECK(v.is_number(), input.where(), ": ", key, " must be a list of numbers");
        out.push_back(v.get<double>());
      }
    }
  }
  const auto& ops = top.at("ops");
  EWGS_INFER_CHECK(
      ops.is_array() && !ops.empty(), file.source(), ": \"ops\" must be a non-empty list");
  for (size_t i = 0; i < ops.size(); ++i) {
    parser.parse_op(ops[i], i);
  }
  model.output_ = parser.tensor(top, "output");
  parser.check_output(model.output_);
  return model;
}

}  // namespace ewgs::infer
