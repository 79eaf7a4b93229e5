// The .pth reader against files written by Python's torch.save (scripts/gen_pth_golden.py,
// tests/golden/pth/) and the shared ResNet-20 checkpoint, plus corrupt and foreign files.
#include "ewgs/core/pth_reader.h"

#include <caffe2/serialize/inline_container.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "ewgs/nn/state_dict.h"
#include "support/support.h"

namespace ewgs {
namespace {

std::string golden_pth(const std::string& name) {
  return std::string(EWGS_GOLDEN_DIR) + "/pth/" + name;
}

const nlohmann::json& expected() {
  static const nlohmann::json json = test::load_golden("pth/expected.json");
  return json;
}

std::string python_dtype(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float:
      return "float32";
    case c10::ScalarType::Double:
      return "float64";
    case c10::ScalarType::Half:
      return "float16";
    case c10::ScalarType::BFloat16:
      return "bfloat16";
    case c10::ScalarType::Long:
      return "int64";
    case c10::ScalarType::Int:
      return "int32";
    case c10::ScalarType::Short:
      return "int16";
    case c10::ScalarType::Char:
      return "int8";
    case c10::ScalarType::Byte:
      return "uint8";
    case c10::ScalarType::Bool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

/// Compares a loaded tensor with its golden description: dtype, geometry, exact values.
void expect_tensor(const at::Tensor& t, const nlohmann::json& e, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(t.defined());
  EXPECT_EQ(python_dtype(t.scalar_type()), e.at("dtype").get<std::string>());
  EXPECT_EQ(t.sizes().vec(), e.at("shape").get<std::vector<int64_t>>());
  EXPECT_EQ(t.strides().vec(), e.at("stride").get<std::vector<int64_t>>());
  EXPECT_EQ(t.storage_offset(), e.at("offset").get<int64_t>());
  EXPECT_EQ(t.requires_grad(), e.at("requires_grad").get<bool>());
  const auto data = e.at("data").get<std::vector<double>>();
  EXPECT_TRUE(test::all_equal(
      t.detach().to(torch::kDouble).flatten(), torch::tensor(data, torch::kDouble)));
}

void expect_state_dict(
    const std::vector<std::pair<std::string, at::Tensor>>& state, const nlohmann::json& e) {
  const auto keys = e.at("keys").get<std::vector<std::string>>();
  ASSERT_EQ(state.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(state[i].first, keys[i]);
    expect_tensor(state[i].second, e.at("tensors").at(keys[i]), keys[i]);
  }
}

c10::IValue at(const c10::IValue& dict, const std::string& key) {
  return dict.toGenericDict().at(c10::IValue(key));
}

std::vector<std::string> dict_keys(const c10::IValue& dict) {
  std::vector<std::string> keys;
  for (const auto& item : dict.toGenericDict()) {
    keys.push_back(item.key().toStringRef());
  }
  return keys;
}

/// A scratch folder for files the tests write, removed at the end.
class PthReaderTest : public test::SeededTest {
 protected:
  void SetUp() override {
    test::SeededTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() /
           ("ewgs_pth_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string write_file(const std::string& name, const std::string& bytes) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  std::filesystem::path dir_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST_F(PthReaderTest, ReadsEveryStorageDtype) {
  const auto state = load_pth_state_dict(golden_pth("dtypes.pth"));
  expect_state_dict(state, expected().at("dtypes.pth"));
}

TEST_F(PthReaderTest, ReadsModuleStateDictInOrderWithInt64Buffer) {
  const auto state = load_pth_state_dict(golden_pth("module_state.pth"));
  expect_state_dict(state, expected().at("module_state.pth"));
  ASSERT_EQ(state[5].first, "bn.num_batches_tracked");
  EXPECT_EQ(state[5].second.scalar_type(), c10::ScalarType::Long);
  EXPECT_EQ(state[5].second.item<int64_t>(), 7);
}

TEST_F(PthReaderTest, ReadsSingleEntryDict) {
  expect_state_dict(load_pth_state_dict(golden_pth("single.pth")), expected().at("single.pth"));
}

TEST_F(PthReaderTest, ViewsShareTheirStorage) {
  const auto state = load_pth_state_dict(golden_pth("views.pth"));
  expect_state_dict(state, expected().at("views.pth"));
  const at::Tensor base = state[0].second;
  for (const auto& [name, view] : state) {
    EXPECT_TRUE(view.is_alias_of(base)) << name;
  }
  base[7].fill_(100.0);  // grid[1][1], and row[1]
  EXPECT_EQ(state[1].first, "row");
  EXPECT_EQ(state[1].second[1].item<float>(), 100.0f);
  EXPECT_FALSE(state[3].second.is_contiguous());
}

TEST_F(PthReaderTest, ReadsCheckpointScalarsContainersAndObjects) {
  const nlohmann::json& e = expected().at("checkpoint.pth");
  for (const char* file : {"checkpoint.pth", "checkpoint_p4.pth"}) {
    SCOPED_TRACE(file);
    const c10::IValue ckpt = load_pth(golden_pth(file));
    EXPECT_EQ(dict_keys(ckpt), e.at("top_keys").get<std::vector<std::string>>());
    EXPECT_EQ(at(ckpt, "epoch").toInt(), 3);
    EXPECT_EQ(at(ckpt, "best_acc").toDouble(), 0.875);
    EXPECT_EQ(at(ckpt, "name").toStringRef(), "tiny");
    const auto flags = at(ckpt, "flags").toList().vec();
    ASSERT_EQ(flags.size(), 3u);
    EXPECT_TRUE(flags[0].toBool());
    EXPECT_FALSE(flags[1].toBool());
    EXPECT_TRUE(flags[2].isNone());
    EXPECT_EQ(at(ckpt, "device").toStringRef(), "cuda:0");
    const auto& shape = at(ckpt, "shape").toTupleRef().elements();
    ASSERT_EQ(shape.size(), 2u);
    EXPECT_EQ(shape[0].toInt(), 2);
    EXPECT_EQ(shape[1].toInt(), 3);
    const auto ids = at(ckpt, "ids").toList().vec();
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_EQ(ids[0].toInt() + ids[1].toInt(), 9);
    const auto& window = at(ckpt, "window").toTupleRef().elements();
    ASSERT_EQ(window.size(), 3u);
    EXPECT_EQ(window[1].toInt(), 9);
    EXPECT_EQ(
        at(ckpt, "blob").toStringRef(),
        std::string(
            "\x00\xff"
            "ab",
            4));
    EXPECT_EQ(at(ckpt, "big").toInt(), int64_t{1} << 40);
    EXPECT_EQ(at(ckpt, "neg").toInt(), -100000);
    EXPECT_EQ(at(at(ckpt, "dtype"), "__global__").toStringRef(), "torch.float32");

    const c10::IValue criterion = at(ckpt, "criterion");
    EXPECT_EQ(pth_object_class(criterion), "torch.nn.modules.loss.CrossEntropyLoss");
    EXPECT_EQ(at(criterion, "reduction").toStringRef(), "mean");
    EXPECT_EQ(at(criterion, "ignore_index").toInt(), -100);
    EXPECT_EQ(pth_object_class(ckpt), "");

    const c10::IValue optimizer = at(ckpt, "optimizer");
    const auto state = at(optimizer, "state").toGenericDict();
    ASSERT_EQ(state.begin()->key().toInt(), 0);
    const c10::IValue state0 = state.begin()->value();
    expect_tensor(at(state0, "momentum_buffer").toTensor(), e.at("momentum_0"), "momentum");
    const c10::IValue group = at(optimizer, "param_groups").toList().get(0);
    EXPECT_EQ(at(group, "lr").toDouble(), e.at("lr").get<double>());
    std::vector<int64_t> params;
    for (const auto& p : at(group, "params").toList().vec()) {
      params.push_back(p.toInt());
    }
    EXPECT_EQ(params, e.at("params").get<std::vector<int64_t>>());

    // No entry named: the "model" entry is the state dict.
    expect_state_dict(load_pth_state_dict(golden_pth(file)), e.at("model"));
    expect_state_dict(load_pth_state_dict(golden_pth(file), "model"), e.at("model"));
  }
}

TEST_F(PthReaderTest, ReadsWhatLibTorchsPickleSaveWrites) {
  // torch::pickle_save tags dicts and typed lists with their TorchScript types
  // (torch.jit._pickle.restore_type_tag, build_intlist, ...).
  c10::Dict<std::string, double> reals;
  reals.insert("lr", 0.25);
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("ints", c10::List<int64_t>({3, -1, 7}));
  root.insert("reals", reals);
  root.insert("names", c10::List<std::string>({"cat", "dog"}));
  root.insert("weight", torch::arange(6, torch::kFloat).reshape({2, 3}));
  const std::vector<char> bytes = torch::pickle_save(root);
  const auto loaded = load_pth_bytes(std::string_view(bytes.data(), bytes.size()));
  ASSERT_TRUE(loaded.isGenericDict());
  const auto d = loaded.toGenericDict();
  std::vector<int64_t> ints;
  for (const auto& v : d.at("ints").toListRef()) {
    ints.push_back(v.toInt());
  }
  EXPECT_EQ(ints, (std::vector<int64_t>{3, -1, 7}));
  EXPECT_EQ(d.at("reals").toGenericDict().at("lr").toDouble(), 0.25);
  const auto names = d.at("names").toListRef();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[1].toStringRef(), "dog");
  EXPECT_TRUE(
      test::all_equal(d.at("weight").toTensor(), torch::arange(6, torch::kFloat).reshape({2, 3})));
}

TEST_F(PthReaderTest, StateDictErrorsNameTheProblem) {
  const std::string path = golden_pth("checkpoint.pth");
  EWGS_EXPECT_THROWS_WITH(
      load_pth_state_dict(path, "modle"),
      "checkpoint.pth: no top-level entry 'modle'; did you mean 'model'?; top-level keys: "
      "epoch, model, criterion, optimizer");
  EWGS_EXPECT_THROWS_WITH(
      load_pth_state_dict(path, "criterion"),
      "entry 'criterion' is an object of class 'torch.nn.modules.loss.CrossEntropyLoss', not a "
      "state dict");
  EWGS_EXPECT_THROWS_WITH(
      load_pth_state_dict(path, "optimizer"),
      "entry 'optimizer': the value of 'state' is not a tensor but dict");
  EWGS_EXPECT_THROWS_WITH(
      load_pth_state_dict(path, "epoch"), "entry 'epoch' is not a dict of tensors but int 3");
}

TEST_F(PthReaderTest, WholeModulePickleLoadsAsOpaqueObjects) {
  const nlohmann::json& e = expected().at("whole_module.pth");
  const c10::IValue model = load_pth(golden_pth("whole_module.pth"));
  EXPECT_EQ(pth_object_class(model), e.at("class").get<std::string>());
  const c10::IValue conv = at(at(model, "_modules"), "conv");
  EXPECT_EQ(pth_object_class(conv), "torch.nn.modules.conv.Conv2d");
  expect_tensor(at(at(conv, "_parameters"), "weight").toTensor(), e.at("conv_weight"), "weight");
  EXPECT_TRUE(at(at(conv, "_parameters"), "bias").isNone());
  EWGS_EXPECT_THROWS_WITH(
      load_pth_state_dict(golden_pth("whole_module.pth")),
      "holds a pickled object of class '__main__.Tiny', not a dict");
}

// Expected values from /usr/bin/python3 with torch 1.13:
//   ck = torch.load(path); m = ck["model"]; m["conv1.weight"].double().sum(), ...
TEST_F(PthReaderTest, ReadsOfficialResNet20Checkpoint) {
  const std::string path = test::shared_data_path("resnet20-fp-cifar10jpeg-official.pth");
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "no " << path;
  }
  const c10::IValue ckpt = load_pth(path);
  EXPECT_EQ(
      dict_keys(ckpt),
      (std::vector<std::string>{"epoch", "model", "optimizer_m", "scheduler_m", "criterion"}));
  EXPECT_EQ(at(ckpt, "epoch").toInt(), 49);
  EXPECT_EQ(pth_object_class(at(ckpt, "criterion")), "");
  EXPECT_EQ(at(at(ckpt, "scheduler_m"), "T_max").toInt(), 50);
  const c10::IValue optimizer = at(ckpt, "optimizer_m");
  EXPECT_EQ(at(optimizer, "state").toGenericDict().size(), 61u);
  const at::Tensor momentum =
      at(at(optimizer, "state").toGenericDict().at(c10::IValue(int64_t{0})), "momentum_buffer")
          .toTensor();
  EXPECT_NEAR(momentum.to(torch::kDouble).sum().item<double>(), 0.3572214856831124, 1e-9);

  const auto state = load_pth_state_dict(path);
  ASSERT_EQ(state.size(), 121u);
  EXPECT_EQ(state.front().first, "conv1.weight");
  EXPECT_EQ(state.front().second.sizes().vec(), (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(state.back().first, "linear.bias");
  const at::Tensor& conv1 = state.front().second;
  EXPECT_NEAR(conv1.to(torch::kDouble).sum().item<double>(), -0.4286503963521682, 1e-9);
  EXPECT_NEAR(conv1.to(torch::kDouble).abs().sum().item<double>(), 123.31259715539636, 1e-9);
  EXPECT_EQ(conv1[0][0][0][0].item<float>(), 0.13185736536979675f);
  const at::Tensor bias = torch::tensor(
                              {-0.035415709018707275,
                               -0.3226701617240906,
                               0.2892967760562897,
                               0.6517887115478516,
                               0.0921318382024765,
                               0.1266818344593048,
                               -0.25356653332710266,
                               -0.21394594013690948,
                               -0.4606526792049408,
                               -0.0388420931994915},
                              torch::kDouble)
                              .to(torch::kFloat);
  EXPECT_TRUE(test::all_equal(state.back().second, bias));
  const auto& tracked = state[5];
  EXPECT_EQ(tracked.first, "bn1.num_batches_tracked");
  EXPECT_EQ(tracked.second.scalar_type(), c10::ScalarType::Long);
  EXPECT_EQ(tracked.second.item<int64_t>(), 9800);
  double total = 0;
  for (const auto& [name, t] : state) {
    if (t.is_floating_point()) {
      total += t.to(torch::kDouble).sum().item<double>();
    }
  }
  EXPECT_NEAR(total, 639.0129058433665, 1e-6);
}

TEST_F(PthReaderTest, RejectsMissingForeignAndLegacyFiles) {
  EWGS_EXPECT_THROWS_WITH(load_pth((dir_ / "absent.pth").string()), "absent.pth does not exist");
  EWGS_EXPECT_THROWS_WITH(load_pth(dir_.string()), "is not a regular file (it is a folder)");
  EWGS_EXPECT_THROWS_WITH(load_pth(write_file("empty.pth", "")), "too short");
  EWGS_EXPECT_THROWS_WITH(
      load_pth(write_file("garbage.pth", "this is not a checkpoint at all")),
      "garbage.pth': not a zip archive");
  EWGS_EXPECT_THROWS_WITH(
      load_pth(golden_pth("legacy.pth")),
      "legacy.pth': legacy (pre-1.6) torch.save format, not a zip archive: re-save it");
  const std::string whole = read_file(golden_pth("checkpoint.pth"));
  EWGS_EXPECT_THROWS_WITH(
      load_pth(write_file("cut.pth", whole.substr(0, whole.size() / 2))),
      "cut.pth': not a readable zip archive (truncated or corrupt?)");
}

TEST_F(PthReaderTest, RejectsCorruptPicklesAndMissingStorage) {
  EWGS_EXPECT_THROWS_WITH(load_pth(golden_pth("truncated_pickle.pth")), "data.pkl offset");
  EWGS_EXPECT_THROWS_WITH(load_pth(golden_pth("truncated_pickle.pth")), "truncated pickle");
  EWGS_EXPECT_THROWS_WITH(
      load_pth(golden_pth("bad_opcode.pth")),
      "bad_opcode.pth': bad_opcode/data.pkl: unsupported pickle opcode 0x69 'i' (INST) at offset "
      "2");
  EWGS_EXPECT_THROWS_WITH(
      load_pth(golden_pth("missing_storage.pth")),
      "missing storage record 'missing_storage/data/0'");
}

TEST_F(PthReaderTest, AFlippedByteNeverLoadsAsOtherNumbers) {
  // Each record carries a CRC-32 in the zip archive; a changed byte is an
  // error naming the file, or (in bytes no reader uses) the same tensors.
  const std::string good = read_file(golden_pth("module_state.pth"));
  const auto original = load_pth_state_dict(golden_pth("module_state.pth"));
  size_t rejected = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    const std::string path = write_file("flipped.pth", bad);
    try {
      const auto state = load_pth_state_dict(path);
      ASSERT_EQ(state.size(), original.size()) << "byte " << i;
      for (size_t k = 0; k < state.size(); ++k) {
        EXPECT_EQ(state[k].first, original[k].first) << "byte " << i;
        EXPECT_TRUE(test::all_equal(state[k].second, original[k].second))
            << "byte " << i << ": " << state[k].first;
      }
    } catch (const c10::Error& e) {
      ++rejected;
      EXPECT_NE(std::string(e.what_without_backtrace()).find("flipped.pth"), std::string::npos);
    }
  }
  EXPECT_GT(rejected, good.size() / 2);
}

TEST_F(PthReaderTest, NonFiniteTensorsAreRejectedWithTheirName) {
  // tests/golden/pth/non_finite.pth: module_state.pth with a NaN in fc.weight.
  torch::nn::Sequential tiny;
  tiny->push_back("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3).bias(false)));
  tiny->push_back("bn", torch::nn::BatchNorm2d(3));
  tiny->push_back("fc", torch::nn::Linear(3, 2));
  const std::string path = golden_pth("non_finite.pth");
  nn::load_state(
      *tiny, load_pth_state_dict(golden_pth("module_state.pth")), /*strict=*/true, "module_state");
  EWGS_EXPECT_THROWS_WITH(
      nn::load_state(*tiny, load_pth_state_dict(path), /*strict=*/true, path),
      "cannot load " + path + ": 'fc.weight' has non-finite values (NaN or Inf)");
}

/// Rewrites module_state.pth with its pickle changed by `mutate`, into `path`.
void write_mutated(const std::string& path, const std::function<void(std::string&)>& mutate) {
  caffe2::serialize::PyTorchStreamReader reader(golden_pth("module_state.pth"));
  caffe2::serialize::PyTorchStreamWriter writer(path);
  for (const auto& name : reader.getAllRecords()) {
    if (name == "version") {
      continue;  // the writer adds its own
    }
    auto record = reader.getRecord(name);
    std::string bytes(static_cast<const char*>(std::get<0>(record).get()), std::get<1>(record));
    if (name == "data.pkl") {
      mutate(bytes);
    }
    writer.writeRecord(name, bytes.data(), bytes.size());
  }
  writer.writeEndOfFile();
}

TEST_F(PthReaderTest, CorruptPicklesFailCleanly) {
  const std::string path = (dir_ / "mutated.pth").string();
  write_mutated(path, [](std::string&) {});
  ASSERT_EQ(load_pth_state_dict(path).size(), 8u);

  size_t pickle_size = 0;
  write_mutated(path, [&](std::string& bytes) { pickle_size = bytes.size(); });
  // Every truncation lacks the final STOP, so each must be an error.
  for (size_t cut = 0; cut < pickle_size; cut += 7) {
    write_mutated(path, [&](std::string& bytes) { bytes.resize(cut); });
    EWGS_EXPECT_THROWS_WITH(load_pth(path), "mutated.pth");
  }
  // Random byte changes: any outcome but a crash, a hang or a non-c10 exception.
  std::mt19937 rng(7);
  int failures = 0;
  for (int trial = 0; trial < 300; ++trial) {
    write_mutated(path, [&](std::string& bytes) {
      for (int k = 0; k < 1 + trial % 3; ++k) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng() % 256);
      }
    });
    try {
      (void)load_pth(path);
    } catch (const c10::Error& e) {
      ++failures;
      EXPECT_NE(std::string(e.what_without_backtrace()).find("mutated.pth"), std::string::npos);
    }
  }
  EXPECT_GT(failures, 0);
}

TEST_F(PthReaderTest, DeepNestingIsAnErrorNotACrash) {
  const std::string path = (dir_ / "deep.pth").string();
  const auto nested_lists = [](size_t depth) {
    return "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  };
  write_mutated(path, [&](std::string& bytes) { bytes = nested_lists(900); });
  EXPECT_TRUE(load_pth(path).isList());
  write_mutated(path, [&](std::string& bytes) { bytes = nested_lists(200000); });
  EWGS_EXPECT_THROWS_WITH(load_pth(path), "values nested deeper than 1000 levels");
  write_mutated(path, [](std::string& bytes) {
    bytes = "\x80\x02N" + std::string(200000, '\x85') + ".";  // TUPLE1 of TUPLE1 of ...
  });
  EWGS_EXPECT_THROWS_WITH(load_pth(path), "values nested deeper than 1000 levels");
}

// A container placed inside itself would never be freed (reference counting cannot
// collect cycles), so each way of making a cycle is refused; an acyclic shared
// reference (the same list in two places) stays accepted.
TEST_F(PthReaderTest, ReferenceCyclesAreRefused) {
  using namespace std::string_literals;
  const std::string path = (dir_ / "cycle.pth").string();
  const auto load_bytes = [&](const std::string& pickle) {
    write_mutated(path, [&](std::string& bytes) { bytes = "\x80\x02"s + pickle; });
    return load_pth(path);
  };
  // list L; L.append(L)
  EWGS_EXPECT_THROWS_WITH(
      load_bytes("]q\x00h\x00"
                 "a."s),
      "placed inside itself");
  // dict D; D["k"] = D
  EWGS_EXPECT_THROWS_WITH(load_bytes("}q\x00X\x01\x00\x00\x00kh\x00s."s), "placed inside itself");
  // list L; T = (L,); L.append(T)
  EWGS_EXPECT_THROWS_WITH(
      load_bytes("]q\x00h\x00\x85"
                 "a."s),
      "placed inside itself");
  // list L; M = [L]; L.append(M)
  EWGS_EXPECT_THROWS_WITH(
      load_bytes("]q\x00]q\x01h\x00"
                 "ah\x00h\x01"
                 "a0."s),
      "placed inside itself");
  // shared, acyclic: L = []; [L, L]
  const c10::IValue shared = load_bytes("]q\x00(h\x00h\x00l."s);
  ASSERT_TRUE(shared.isList());
  EXPECT_EQ(shared.toListRef().size(), 2u);
}

}  // namespace
}  // namespace ewgs
