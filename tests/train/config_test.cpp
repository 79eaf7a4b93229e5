// TrainConfig and ConfigSchema: TOML files, overrides, round trips, and errors
// that name the key (with suggestions for near misses).
#include "ewgs/train/train_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "ewgs/data/open_dataset.h"
#include "ewgs/train/captured_step.h"
#include "ewgs/train/config_schema.h"
#include "support/scoped_environment.h"
#include "support/support.h"

namespace ewgs::test {
namespace {

using train::TrainConfig;

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(ConfigTest, FileThenOverridesSetTypedFields) {
  TrainConfig c;
  c.apply_file(write_temp(
      "ewgs_config_test.toml",
      "[train]\nepochs = 7\n[optim]\nlr = 0.05\nnesterov = true\n[model]\nname = \"resnet20\"\n"));
  c.apply_override("train.epochs=3");
  c.apply_override("quant.delta=hessian");
  EXPECT_EQ(c.train_epochs, 3);
  EXPECT_DOUBLE_EQ(c.optim_lr, 0.05);
  EXPECT_TRUE(c.optim_nesterov);
  EXPECT_EQ(c.model_name, "resnet20");
  EXPECT_TRUE(c.hessian_delta());
}

TEST(ConfigTest, BaseFileIsAppliedFirstAndRelativeToTheIncludingFile) {
  const auto dir = std::filesystem::temp_directory_path() / "ewgs_config_base";
  std::filesystem::create_directories(dir / "sub");
  std::ofstream(dir / "base.toml") << "[train]\nepochs = 400\nbatch_size = 256\n";
  std::ofstream(dir / "sub" / "child.toml") << "base = \"../base.toml\"\n[train]\nepochs = 30\n";
  TrainConfig c;
  c.apply_file((dir / "sub" / "child.toml").string());
  EXPECT_EQ(c.train_epochs, 30);
  EXPECT_EQ(c.train_batch_size, 256);
  std::ofstream(dir / "loop.toml") << "base = \"loop.toml\"\n";
  EWGS_EXPECT_THROWS_WITH(c.apply_file((dir / "loop.toml").string()), "nested 'base' files");
  EWGS_EXPECT_THROWS_WITH(c.apply_file((dir / "none.toml").string()), "does not exist");
}

TEST(ConfigTest, ResolvedTomlRoundTripsExactly) {
  TrainConfig c;
  c.apply_override("optim.lr=0.1");
  c.apply_override("optim.quant_lr=1e-5");
  c.apply_override("quant.options=key=1");
  const auto back = TrainConfig::from_toml(c.to_toml(), "round trip");
  EXPECT_EQ(back.to_toml(), c.to_toml());
  EXPECT_EQ(back.optim_lr, 0.1);
  EXPECT_EQ(back.optim_quant_lr, 1e-5);
  EXPECT_NE(c.to_toml().find("lr = 0.1\n"), std::string::npos) << c.to_toml();
  // Whole numbers in fixed notation: 300.0 reads back as well as 3e+02 and reads better.
  EXPECT_NE(c.to_toml().find("timeout_s = 300.0\n"), std::string::npos) << c.to_toml();
  c.apply_override("optim.lr=1e20");  // beyond fixed notation's exact range
  EXPECT_EQ(TrainConfig::from_toml(c.to_toml(), "round trip").optim_lr, 1e20);
  const TrainConfig copy = c;
  EXPECT_EQ(copy.to_toml(), c.to_toml());
}

TEST(ConfigTest, UnknownKeysAreErrorsWithSuggestions) {
  TrainConfig c;
  EWGS_EXPECT_THROWS_WITH(
      c.apply_override("train.epoch=3"),
      "unknown config key 'train.epoch'; did you mean 'train.epochs'?");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_text("[optim]\nlearning_rate = 0.1\n", "cfg.toml"),
      "cfg.toml: unknown config key 'optim.learning_rate'");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_text("epochs = 3\n", "cfg.toml"), "'epochs' must be a [section] table");
}

TEST(ConfigTest, DataSetsAreTheKindsTheDataLayerOpens) {
  TrainConfig c;
  const auto kinds = data::dataset_kinds();
  for (const auto& kind : kinds) {
    c.apply_override("data.dataset=" + kind);
    EXPECT_EQ(c.data_dataset, kind);
  }
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "imagenet"), kinds.end());
  EWGS_EXPECT_THROWS_WITH(c.apply_override("data.dataset=imagenett"), "did you mean 'imagenet'?");
}

TEST(ConfigTest, InvalidValuesNameTheKeyAndTheExpectation) {
  TrainConfig c;
  EWGS_EXPECT_THROWS_WITH(c.apply_override("train.epochs=0"), "train.epochs must be >= 1, got 0");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_override("train.epochs=ten"), "train.epochs must be an integer, got 'ten'");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_override("optim.optimizer=adma"),
      "optim.optimizer must be one of sgd, adam; got 'adma'; did you mean 'adam'?");
  EWGS_EXPECT_THROWS_WITH(c.apply_override("optim.lr=nan"), "optim.lr must be a finite number");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_text("[train]\nepochs = \"3\"\n", "cfg.toml"),
      "train.epochs must be an integer, got the string");
  EWGS_EXPECT_THROWS_WITH(c.apply_text("[train\n", "cfg.toml"), "cfg.toml:1: invalid TOML");
  EWGS_EXPECT_THROWS_WITH(c.apply_override("train.epochs"), "expected section.key=value");
  // A NUL ended the parse of the number before it, and "3" was taken.
  EWGS_EXPECT_THROWS_WITH(
      c.apply_override(std::string("train.epochs=3\0x", 16)),
      "train.epochs holds the control character 0 at offset 1 of its value");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_override("data.root=/a\nb"), "data.root holds the control character 10 at offset 2");
  // TOML files must be UTF-8, so a value that is not could not be written back.
  EWGS_EXPECT_THROWS_WITH(
      c.apply_override("data.root=/data/I\xA5"
                       "CLR"),
      "data.root is not UTF-8 text: byte 165 at offset 7");
  c.apply_override("data.root=/data/\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(c.data_root, "/data/\xC3\xA9t\xC3\xA9");
}

struct Settings {
  int64_t count = 1;
  double rate = 0.5;
  std::string mode = "a";
};

TEST(ConfigTest, ConstraintsOnOneKeyCompose) {
  train::ConfigSchema<Settings> schema;
  schema.add("x.count", &Settings::count, "count").at_least(0).between(-5, 3);
  schema.add("x.mode", &Settings::mode, "mode").one_of({"a", "b", "c"}).one_of({"b", "a"});
  Settings s;
  // Each constraint holds, not only the last one added; a rejected value is not stored.
  EWGS_EXPECT_THROWS_WITH(schema.apply_override(s, "x.count=-1"), "x.count must be >= 0, got -1");
  EWGS_EXPECT_THROWS_WITH(
      schema.apply_override(s, "x.count=4"), "x.count must be in [-5, 3], got 4");
  EXPECT_EQ(s.count, 1);
  schema.apply_override(s, "x.count=3");
  EXPECT_EQ(s.count, 3);
  EWGS_EXPECT_THROWS_WITH(
      schema.apply_override(s, "x.mode=c"), "x.mode must be one of a, b; got 'c'");
  EXPECT_EQ(s.mode, "a");
  schema.apply_override(s, "x.mode=b");
  EXPECT_EQ(s.mode, "b");
  // A constraint that cannot apply to the key's type is a mistake in the schema.
  EWGS_EXPECT_THROWS_WITH(
      schema.add("x.rate", &Settings::rate, "rate").one_of({"1"}),
      "config key 'x.rate': one_of does not apply to a number key");
  EWGS_EXPECT_THROWS_WITH(
      schema.add("x.name", &Settings::mode, "name").at_least(1),
      "config key 'x.name': at_least does not apply to a string key");
  EWGS_EXPECT_THROWS_WITH(
      schema.add("x.other", &Settings::mode, "other").one_of({"a"}).one_of({"b"}),
      "config key 'x.other': one_of leaves no allowed value");
}

TEST(ConfigTest, ValidateChecksFieldsSetInCodeAsTheirKeysWould) {
  TrainConfig c;
  c.run_device = "gpu";
  EWGS_EXPECT_THROWS_WITH(
      c.validate(), "config: run.device must be one of cpu, cuda; got 'gpu'; did you mean 'cpu'?");
  c.run_device = "cpu";
  c.train_epochs = 0;
  EWGS_EXPECT_THROWS_WITH(c.validate(), "config: train.epochs must be >= 1, got 0");
  c.train_epochs = 1;
  c.validate();
}

TEST(ConfigTest, ConfigsAreValuesThatCopyAndCompareByTheirToml) {
  TrainConfig a;
  a.apply_override("train.epochs=7");
  TrainConfig b = a;  // a plain copy: the schema is shared, not bound to an object
  b.apply_override("train.epochs=9");
  EXPECT_EQ(a.train_epochs, 7);
  EXPECT_EQ(b.train_epochs, 9);
  EXPECT_EQ(a.value_text("train.epochs"), "7");
  b = a;
  EXPECT_EQ(b.to_toml(), a.to_toml());
  EXPECT_EQ(&TrainConfig::schema(), &b.schema());
}

TEST(ConfigTest, StringsRoundTripThroughTheWrittenTomlVerbatim) {
  for (const char* override : {
           "data.root=a\tb",
           "data.root=\"\t a \"",  // the quotes keep the spaces and tabs they enclose
           "data.root=\"'a'\"",    // and quotes inside them
           "data.root='\"'",
       }) {
    SCOPED_TRACE(override);
    TrainConfig c;
    c.apply_override(override);
    const auto again = TrainConfig::from_toml(c.to_toml(), "written");
    EXPECT_EQ(again.data_root, c.data_root);
    EXPECT_EQ(again.to_toml(), c.to_toml());
  }
  TrainConfig c;
  c.apply_override("data.root=  \"\t a \" ");
  EXPECT_EQ(c.data_root, "\t a ");
  c.apply_text("[data]\nroot = \" 'b' \"\n", "cfg.toml");
  EXPECT_EQ(c.data_root, " 'b' ");
}

TEST(ConfigTest, FilePathsNameTheDataFolderThroughItsPlaceholder) {
  ScopedEnvironment env("EWGS_DATA_DIR", "/srv/data");
  TrainConfig c;
  c.apply_text("[data]\nroot = \"${EWGS_DATA_DIR}/cifar10-jpeg.tar.gz\"\n", "cfg.toml");
  c.apply_override("train.init_from=${EWGS_DATA_DIR}/fp.pth");
  EXPECT_EQ(c.data_root, "/srv/data/cifar10-jpeg.tar.gz");
  EXPECT_EQ(c.train_init_from, "/srv/data/fp.pth");
  EWGS_EXPECT_THROWS_WITH(
      c.apply_text("[data]\nroot = \"${DATA}/x\"\n", "cfg.toml"),
      "cfg.toml: data.root: unknown placeholder ${DATA}");
  // Only file keys expand; elsewhere the text is kept as written.
  c.apply_override("quant.options=${EWGS_DATA_DIR}");
  EXPECT_EQ(c.quant_options, "${EWGS_DATA_DIR}");
  EWGS_EXPECT_THROWS_WITH(
      train::ConfigSchema<TrainConfig>()
          .add("x.n", &TrainConfig::train_epochs, "n")
          .expands_data_dir(),
      "expands_data_dir");
}

TEST(ConfigTest, ValidateChecksRelationsBetweenKeys) {
  TrainConfig c;
  c.validate();  // the default FP config is valid
  c.quant_method = "ewgs";
  EWGS_EXPECT_THROWS_WITH(c.validate(), "quant.wbits and quant.abits are both 32");
  c.quant_wbits = 9;
  EWGS_EXPECT_THROWS_WITH(c.validate(), "quant.wbits: bits must be in [1, 8] or 32 (off), got 9");
  c.quant_wbits = 1;
  c.quant_delta = "-1";
  EWGS_EXPECT_THROWS_WITH(
      c.validate(), "quant.delta must be a finite number >= 0 or \"hessian\", got '-1'");
  c.quant_delta = std::string("\0hessian", 8);  // read as an empty number, which was 0
  EWGS_EXPECT_THROWS_WITH(c.validate(), "quant.delta must be a finite number >= 0");
  c.quant_delta = "inf";
  EWGS_EXPECT_THROWS_WITH(c.validate(), "quant.delta must be a finite number >= 0");
  c.quant_delta = "hessian";
  c.validate();
  c.quant_method = "ste";
  EWGS_EXPECT_THROWS_WITH(
      c.validate(),
      "cannot set the delta of the ste weight quantizer (ste:bits=1): it has no gradient scale "
      "delta");
  c.quant_delta = "0.01";
  EWGS_EXPECT_THROWS_WITH(c.validate(), "has no key 'delta'");
  c.quant_method = "egws";
  EWGS_EXPECT_THROWS_WITH(c.validate(), "unknown method 'egws'; did you mean 'ewgs'?");
}

TEST(ConfigTest, HessianDeltaIsRejectedAtStartForQuantizersWithoutDiscreteValues) {
  // DoReFa's 1-bit weights (E|w| sign(w)) take a delta in their backward but
  // expose no x_q for the Hessian: an estimate would fail hessian.period
  // epochs into the run, so the config is refused before it starts.
  TrainConfig c;
  c.quant_method = "dorefa";
  c.quant_options = "estimator=ewgs";
  c.quant_wbits = 1;
  c.quant_abits = 2;
  c.quant_delta = "hessian";
  EWGS_EXPECT_THROWS_WITH(
      c.validate(),
      "quant.delta = \"hessian\" cannot set the delta of the dorefa weight quantizer "
      "(dorefa:bits=1,delta=0.01,estimator=ewgs): its 1-bit weights (E|w| sign(w)) expose no "
      "discrete values");
  c.quant_wbits = 2;  // multi-bit DoReFa weights expose x_q
  c.validate();
}

TEST(ConfigTest, CudaGraphIsRefusedAtStartWhereAStepCannotBeCaptured) {
  // A CUDA graph holds no host synchronization and replays GPU work only: the
  // preconditions are checked on any machine, before a folder or a GPU is touched.
  TrainConfig c;
  c.quant_method = "ewgs";
  c.quant_wbits = 1;
  c.quant_abits = 1;
  c.run_cuda_graph = true;
  EWGS_EXPECT_THROWS_WITH(
      c.validate(),
      "run.cuda_graph = true cannot be used: it needs run.device = \"cuda\", got \"cpu\"");
  c.run_device = "cuda";
  c.validate();
  EXPECT_TRUE(train::cuda_graph_blockers(c).empty());
  c.quant_act_method = "lsq";
  c.quant_abits = 2;
  EWGS_EXPECT_THROWS_WITH(
      c.validate(),
      "quant.act_method = \"lsq\" may synchronize with the host inside a step; the graph takes "
      "off, ste or ewgs");
  c.quant_act_method = "";
  c.quant_grad_method = "lbt";
  c.quant_gbits = 4;
  EXPECT_EQ(train::cuda_graph_blockers(c).size(), 1U);
  c.quant_grad_method = "off";
  c.quant_method = "off";  // full precision
  c.validate();
  c.run_device = "cpu";
  c.run_cuda_graph = false;  // the switch off: nothing to check
  EXPECT_TRUE(train::cuda_graph_blockers(c).empty());
}

TEST(ConfigTest, QuantSpecFollowsMethodBitsAndDelta) {
  TrainConfig c;
  EXPECT_FALSE(c.quant_spec().enabled());
  c.quant_method = "ewgs";
  c.quant_wbits = 1;
  c.quant_abits = 32;
  c.quant_delta = "0.001";
  const auto spec = c.quant_spec();
  EXPECT_EQ(spec.weight, "ewgs:bits=1,delta=0.001");
  EXPECT_EQ(spec.act, "off");
  EXPECT_EQ(spec.describe(), "W1A32 ewgs");
  c.quant_delta = "hessian";
  EXPECT_EQ(c.quant_spec().weight, "ewgs:bits=1");
}

TEST(ConfigTest, WarnsWhenTheHessianPeriodOutlastsTheRun) {
  TrainConfig c;
  c.quant_method = "ewgs";
  c.quant_wbits = 1;
  c.quant_delta = "hessian";
  c.train_epochs = 10;
  c.hessian_period = 10;
  ASSERT_EQ(c.warnings().size(), 1u);
  EXPECT_NE(
      c.warnings()[0].find("hessian.period = 10 epochs >= train.epochs = 10"), std::string::npos);
  c.hessian_period = 9;
  EXPECT_TRUE(c.warnings().empty());
  c.hessian_period = 20;
  c.quant_delta = "0.001";
  EXPECT_TRUE(c.warnings().empty());
}

TEST(ConfigTest, ActivationMethodMayDifferFromTheWeights) {
  TrainConfig c;
  c.quant_method = "dorefa";
  c.quant_wbits = 2;
  c.quant_abits = 2;
  c.quant_options = "estimator=ewgs";
  c.quant_delta = "0.01";
  c.quant_act_method = "pact";
  c.quant_act_options = "alpha_init=8";
  c.validate();
  const auto spec = c.quant_spec();
  EXPECT_EQ(spec.weight, "dorefa:bits=2,estimator=ewgs,delta=0.01");
  EXPECT_EQ(spec.act, "pact:bits=2,alpha_init=8");
  EXPECT_EQ(spec.describe(), "W2A2 dorefa/pact");
  c.quant_act_method = "pactt";
  EWGS_EXPECT_THROWS_WITH(
      c.validate(), "quant.act_method: unknown method 'pactt'; did you mean 'pact'?");
  c.quant_act_method = "";
  EWGS_EXPECT_THROWS_WITH(c.validate(), "quant.act_options is set but quant.act_method is not");
}

TEST(ConfigTest, EveryShippedRecipeParsesAndValidates) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(EWGS_CONFIGS_DIR)) {
    if (entry.path().extension() != ".toml") {
      continue;
    }
    SCOPED_TRACE(entry.path().string());
    TrainConfig c;
    c.apply_file(entry.path().string());
    c.validate();
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(ConfigTest, ListOfKeysShowsDefaultsAndChoices) {
  const auto text = TrainConfig::schema().describe(TrainConfig());
  EXPECT_NE(text.find("--train.epochs=10  (integer) epochs"), std::string::npos) << text;
  EXPECT_NE(text.find("[sgd, adam]"), std::string::npos);
}

}  // namespace
}  // namespace ewgs::test
