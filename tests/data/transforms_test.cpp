// Transforms: exact pixels after padding crop, flip, bilinear resize, resize + center
// crop and normalization against hand-computed values; randomness keyed by sample.
#include "ewgs/data/transforms.h"

#include <set>

#include "data_test_util.h"
#include "ewgs/data/dataset_kinds.h"

namespace ewgs::data {
namespace {

/// Runs `t` on the CHW `pixels` with `placement` and returns the (C,H',W') output.
std::vector<float> run(
    const Transform& t,
    const std::vector<uint8_t>& pixels,
    int64_t c,
    int64_t h,
    int64_t w,
    const Placement& placement) {
  const auto [oh, ow] = t.output_size(h, w);
  std::vector<float> out(static_cast<size_t>(c * oh * ow), -99.0f);
  t.apply(ImageView::chw(pixels.data(), c, h, w), placement, out.data());
  return out;
}

/// Pixel values v / 255 (the expected output without normalization).
std::vector<float> scaled(const std::vector<int>& values) {
  std::vector<float> out;
  for (const int v : values) {
    out.push_back(static_cast<float>(v / 255.0));
  }
  return out;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-6) << "element " << i;
  }
}

const std::vector<uint8_t> kOneToNine = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 1x3x3

TEST(TransformTest, NormalizesPerChannel) {
  TransformOptions o;
  o.mean = {0.5, 0.25};
  o.std = {0.5, 2.0};
  const Transform t(o);
  const std::vector<uint8_t> pixels = {0, 255, 51, 102};  // 2x1x2
  const auto out = run(t, pixels, 2, 1, 2, t.centered(1, 2));
  expect_near(
      out,
      {static_cast<float>((0.0 - 0.5) / 0.5),
       static_cast<float>((1.0 - 0.5) / 0.5),
       static_cast<float>((0.2 - 0.25) / 2.0),
       static_cast<float>((0.4 - 0.25) / 2.0)});
}

TEST(TransformTest, PaddedCropShiftsAndFillsWithZeroPixels) {
  TransformOptions o;
  o.crop_padding = 1;
  const Transform t(o);
  Placement p;
  p.crop_y = 0;  // one row of padding on top
  p.crop_x = 2;  // shifted one column right: the last column is padding
  expect_near(run(t, kOneToNine, 1, 3, 3, p), scaled({0, 0, 0, 2, 3, 0, 5, 6, 0}));
  p.flip = true;  // the crop mirrored left-right
  expect_near(run(t, kOneToNine, 1, 3, 3, p), scaled({0, 0, 0, 0, 3, 2, 0, 6, 5}));
  p = t.centered(3, 3);
  EXPECT_EQ(p.crop_y, 1);
  expect_near(run(t, kOneToNine, 1, 3, 3, p), scaled({1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(TransformTest, PaddingIsNormalizedLikeAZeroPixel) {
  TransformOptions o;
  o.crop_padding = 1;
  o.mean = {0.5};
  o.std = {0.25};
  const Transform t(o);
  Placement p;
  p.crop_y = 0;
  p.crop_x = 0;
  const auto out = run(t, kOneToNine, 1, 3, 3, p);
  EXPECT_NEAR(out[0], -2.0f, 1e-6);
  EXPECT_NEAR(out[4], static_cast<float>((1 / 255.0 - 0.5) / 0.25), 1e-6);
}

TEST(TransformTest, InterleavedAndPlanarViewsGiveTheSameResult) {
  TransformOptions o;
  o.crop_padding = 2;
  o.flip = true;
  const Transform t(o);
  std::vector<uint8_t> chw(3 * 4 * 5);
  std::vector<uint8_t> hwc(chw.size());
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 5; ++x) {
        const auto v = static_cast<uint8_t>(c * 60 + y * 7 + x);
        chw[static_cast<size_t>((c * 4 + y) * 5 + x)] = v;
        hwc[static_cast<size_t>((y * 5 + x) * 3 + c)] = v;
      }
    }
  }
  for (int64_t position = 0; position < 20; ++position) {
    const Placement p = t.draw(4, 5, CounterRng::for_sample(3, 1, position));
    std::vector<float> a(chw.size());
    std::vector<float> b(chw.size());
    t.apply(ImageView::chw(chw.data(), 3, 4, 5), p, a.data());
    t.apply(ImageView::hwc(hwc.data(), 3, 4, 5), p, b.data());
    EXPECT_EQ(a, b);
  }
}

TEST(TransformTest, BilinearUpscaleUsesHalfPixelCenters) {
  TransformOptions o;
  o.random_resized_crop = 4;
  const Transform t(o);
  Placement p;
  p.box_h = 2;
  p.box_w = 2;
  // Row [0, 100] sampled at x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  const auto out = run(t, {0, 100, 0, 100}, 1, 2, 2, p);
  const auto row = scaled({0, 25, 75, 100});
  std::vector<float> want;
  for (int y = 0; y < 4; ++y) {
    want.insert(want.end(), row.begin(), row.end());
  }
  expect_near(out, want);
}

TEST(TransformTest, RandomResizedCropReadsOnlyInsideTheBox) {
  TransformOptions o;
  o.random_resized_crop = 2;
  const Transform t(o);
  Placement p;
  p.box_y = 1;
  p.box_x = 1;
  p.box_h = 1;
  p.box_w = 2;
  // Box = [5, 6]; 2x2 output from a 1x2 box: rows repeat, columns are 5 and 6.
  expect_near(run(t, kOneToNine, 1, 3, 3, p), scaled({5, 6, 5, 6}));
}

TEST(TransformTest, ResizeShorterSideThenCenterCrop) {
  TransformOptions o;
  o.resize = 2;
  o.center_crop = 2;
  const Transform t(o);
  std::vector<uint8_t> pixels;  // 1x4x8, v = 10 x + 2 y
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 8; ++x) {
      pixels.push_back(static_cast<uint8_t>(10 * x + 2 * y));
    }
  }
  // Resized to 2x4: each pixel averages a 2x2 block: 20 rx + 4 ry + 6; the centre
  // crop keeps columns 1 and 2.
  EXPECT_EQ(t.output_size(4, 8), std::make_pair(int64_t{2}, int64_t{2}));
  expect_near(run(t, pixels, 1, 4, 8, t.centered(4, 8)), scaled({26, 46, 30, 50}));

  TransformOptions r;
  r.resize = 2;
  const Transform resize_only(r);
  EXPECT_EQ(resize_only.output_size(4, 8), std::make_pair(int64_t{2}, int64_t{4}));
  EXPECT_EQ(resize_only.output_size(8, 4), std::make_pair(int64_t{4}, int64_t{2}));
  EXPECT_EQ(resize_only.output_size(3, 7), std::make_pair(int64_t{2}, int64_t{4}));
}

TEST(TransformTest, CenterCropLargerThanImagePadsWithZeros) {
  TransformOptions o;
  o.center_crop = 4;
  const Transform t(o);
  const auto out = run(t, {1, 2, 3, 4}, 1, 2, 2, t.centered(2, 2));
  expect_near(out, scaled({0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}));
}

TEST(TransformTest, DrawDependsOnlyOnTheKey) {
  const Transform t(train_transform("cifar10"));
  std::set<int64_t> ys;
  std::set<int64_t> xs;
  int flips = 0;
  int differ = 0;
  const int n = 4000;
  for (int64_t position = 0; position < n; ++position) {
    const Placement a = t.draw(32, 32, CounterRng::for_sample(7, 2, position));
    const Placement b = t.draw(32, 32, CounterRng::for_sample(7, 2, position));
    EXPECT_EQ(a.crop_y, b.crop_y);
    EXPECT_EQ(a.crop_x, b.crop_x);
    EXPECT_EQ(a.flip, b.flip);
    const Placement c = t.draw(32, 32, CounterRng::for_sample(7, 3, position));
    differ += a.crop_y != c.crop_y || a.crop_x != c.crop_x || a.flip != c.flip;
    ys.insert(a.crop_y);
    xs.insert(a.crop_x);
    flips += a.flip;
  }
  EXPECT_EQ(ys, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(xs.size(), 9u);
  EXPECT_NEAR(flips, n / 2, 150);
  EXPECT_GT(differ, n * 9 / 10);
}

TEST(TransformTest, RandomResizedCropBoxesFollowScaleAndRatio) {
  const Transform t(train_transform("imagenet"));
  for (int64_t position = 0; position < 2000; ++position) {
    const Placement p = t.draw(300, 400, CounterRng::for_sample(1, 0, position));
    ASSERT_GE(p.box_y, 0);
    ASSERT_GE(p.box_x, 0);
    ASSERT_LE(p.box_y + p.box_h, 300);
    ASSERT_LE(p.box_x + p.box_w, 400);
    const double area = static_cast<double>(p.box_h * p.box_w) / (300.0 * 400.0);
    const double ratio = static_cast<double>(p.box_w) / static_cast<double>(p.box_h);
    EXPECT_GE(area, 0.07);
    EXPECT_LE(area, 1.0);
    EXPECT_GE(ratio, 0.74);
    EXPECT_LE(ratio, 1.35);
  }
  // No box of the scale fits a 10x1000 strip: torchvision's central fallback.
  TransformOptions o;
  o.random_resized_crop = 8;
  o.scale_min = 0.9;
  const Placement p = Transform(o).draw(10, 1000, CounterRng::for_sample(0, 0, 0));
  EXPECT_EQ(p.box_h, 10);
  EXPECT_EQ(p.box_w, 13);
  EXPECT_EQ(p.box_x, (1000 - 13) / 2);
  EXPECT_EQ(p.box_y, 0);
}

TEST(TransformTest, PresetsPerKind) {
  const TransformOptions cifar = train_transform("cifar10");
  EXPECT_EQ(cifar.crop_padding, 4);
  EXPECT_TRUE(cifar.flip);
  EXPECT_EQ(cifar.mean, (std::vector<double>{0.4914, 0.4822, 0.4465}));
  EXPECT_EQ(cifar.std, (std::vector<double>{0.2023, 0.1994, 0.2010}));
  EXPECT_EQ(Transform(cifar).output_size(32, 32), std::make_pair(int64_t{32}, int64_t{32}));
  const TransformOptions cifar_eval = eval_transform("cifar10-jpeg");
  EXPECT_EQ(cifar_eval.crop_padding, 0);
  EXPECT_FALSE(cifar_eval.flip);
  EXPECT_EQ(cifar_eval.mean, cifar.mean);
  const TransformOptions fmnist = train_transform("fashion-mnist");
  EXPECT_EQ(fmnist.crop_padding, 0);
  EXPECT_FALSE(fmnist.flip);
  EXPECT_EQ(fmnist.mean, (std::vector<double>{0.2860}));
  EXPECT_EQ(fmnist.std, (std::vector<double>{0.3530}));
  EXPECT_EQ(default_normalization("mnist").mean, (std::vector<double>{0.1307}));
  EXPECT_EQ(default_normalization("cifar100").std, (std::vector<double>{0.2673, 0.2564, 0.2762}));
  const TransformOptions imagenet = eval_transform("imagefolder");
  EXPECT_EQ(imagenet.resize, 256);
  EXPECT_EQ(imagenet.center_crop, 224);
  EXPECT_EQ(imagenet.mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(train_transform("imagenet").random_resized_crop, 224);
  EWGS_EXPECT_THROWS_WITH(train_transform("cifar"), "unknown data set 'cifar'");
}

TEST(TransformTest, RejectsInconsistentOptions) {
  TransformOptions o;
  o.random_resized_crop = 8;
  o.resize = 8;
  EWGS_EXPECT_THROWS_WITH(
      Transform{o}, "random_resized_crop (8) and resize (8) exclude each other");
  TransformOptions m;
  m.mean = {0.5, 0.5};
  m.std = {0.5};
  EWGS_EXPECT_THROWS_WITH(Transform{m}, "mean has 2 values but std has 1");
  m.std = {0.5, 0.0};
  EWGS_EXPECT_THROWS_WITH(Transform{m}, "std values must be > 0, got 0");
  const Transform cifar(train_transform("cifar10"));
  EWGS_EXPECT_THROWS_WITH(cifar.check_channels(1), "mean/std have 3 values but the images have 1");
  TransformOptions big;
  big.crop = 40;
  big.crop_padding = 3;
  EWGS_EXPECT_THROWS_WITH(
      Transform(big).output_size(32, 32), "crop 40x40 is larger than the 32x32 image padded by 3");
}

TEST(TransformTest, NormalizeImagesMatchesThePerSampleTransform) {
  const at::Tensor images = torch::randint(0, 256, {4, 3, 5, 6}, torch::kLong).to(torch::kByte);
  const TransformOptions o = eval_transform("cifar10");
  const at::Tensor whole = normalize_images(images, o.mean, o.std);
  const Transform t(o);
  const auto pixels = images.contiguous();
  at::Tensor per_sample = torch::empty({4, 3, 5, 6}, torch::kFloat);
  for (int64_t i = 0; i < 4; ++i) {
    t.apply(
        ImageView::chw(pixels[i].data_ptr<uint8_t>(), 3, 5, 6),
        t.centered(5, 6),
        per_sample[i].data_ptr<float>());
  }
  EXPECT_TRUE(ewgs::test::all_close(whole, per_sample, 1e-6, 1e-6));
}

}  // namespace
}  // namespace ewgs::data
