// Optimised kernels (oneDNN/OpenMP) against the plain reference, on random shapes.
#include <gtest/gtest.h>

#include "kernels/cpu/ops.h"
#include "test_util.h"


namespace nlc {
namespace {

using test::max_rel_error;

using test::random_conv;

// float32 accumulation over cin*k*k <= 3200 terms against a double-precision reference:
// typical relative error ~sqrt(K)*2^-24 ~ 1e-6; 1e-5 leaves room without hiding a wrong tap.
constexpr double kConvTol = 1e-5;

TEST(Kernels, ConvMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> ch(1, 40), sz(1, 23), pick(0, 3);
  for (int trial = 0; trial < 60; ++trial) {
    ConvSpec s;
    s.cin = ch(rng);
    s.cout = ch(rng);
    s.k = std::array{1, 3, 5, 5}[pick(rng)];
    s.stride = pick(rng) < 2 ? 2 : 1;
    s.pad = s.k / 2;
    s.transposed = pick(rng) < 2;
    s.output_padding = s.transposed ? s.stride - 1 : 0;
    Shape in{1 + (trial % 3 == 0), sz(rng), sz(rng), s.cin};
    if (!s.transposed && (in.h + 2 * s.pad < s.k || in.w + 2 * s.pad < s.k)) continue;
    ConvWeights w = random_conv(s, rng);
    Tensor x = test::random_tensor(in, rng);
    Tensor want = ref::conv2d(x, w);
    Conv2d fast(w);
    Tensor got = fast.forward(x);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_LT(max_rel_error(got, want), kConvTol)
        << "trial " << trial << " cin " << s.cin << " cout " << s.cout << " k " << s.k
        << " stride " << s.stride << " transposed " << s.transposed << " in " << in.str();
    // A second call on the same shape reuses the cached primitive.
    EXPECT_LT(max_rel_error(fast.forward(x), want), kConvTol);
  }
}

TEST(Kernels, ConvOutputShapesFollowPyTorch) {
  ConvSpec down{3, 8, 5, 2, 2, 0, false}, up{8, 3, 5, 2, 2, 1, true};
  EXPECT_EQ(conv_output_shape(down, Shape{1, 64, 96, 3}), (Shape{1, 32, 48, 8}));
  EXPECT_EQ(conv_output_shape(up, Shape{1, 32, 48, 8}), (Shape{1, 64, 96, 3}));
  EXPECT_EQ(conv_output_shape(down, Shape{1, 17, 33, 3}), (Shape{1, 9, 17, 8}));
  EXPECT_THROW(conv_output_shape(down, Shape{1, 8, 8, 4}), std::invalid_argument);
}

TEST(Kernels, ConvFusedReluMatchesReferenceThenRelu) {
  std::mt19937 rng(7);
  ConvWeights w = random_conv(ConvSpec{6, 9, 3, 1, 1, 0, false}, rng);
  Tensor x = test::random_tensor(Shape{1, 11, 13, 6}, rng);
  Tensor want = ref::conv2d(x, w);
  ref::relu(want);
  Conv2d fast(w, /*fuse_relu=*/true);
  EXPECT_LT(max_rel_error(fast.forward(x), want), kConvTol);
}

TEST(Kernels, ReferenceConvHandComputed) {
  // 1 channel, 3x3 kernel of ones, padding 1: each output is the sum of its neighbourhood.
  ConvWeights w;
  w.spec = ConvSpec{1, 1, 3, 1, 1, 0, false};
  w.weight.assign(9, 1.f);
  w.bias = {0.5f};
  Tensor x(1, 2, 2, 1);
  x.at(0, 0, 0, 0) = 1;
  x.at(0, 0, 1, 0) = 2;
  x.at(0, 1, 0, 0) = 3;
  x.at(0, 1, 1, 0) = 4;
  Tensor y = ref::conv2d(x, w);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data()[i], 10.5f);
  // Transposed, stride 2, k 1: input scattered to even positions.
  ConvWeights t;
  t.spec = ConvSpec{1, 1, 1, 2, 0, 1, true};
  t.weight = {2.f};
  t.bias = {0.f};
  Tensor u = ref::conv2d(x, t);
  ASSERT_EQ(u.shape(), (Shape{1, 4, 4, 1}));
  EXPECT_FLOAT_EQ(u.at(0, 0, 0, 0), 2.f);
  EXPECT_FLOAT_EQ(u.at(0, 2, 2, 0), 8.f);
  EXPECT_FLOAT_EQ(u.at(0, 1, 1, 0), 0.f);
}

TEST(Kernels, GdnMatchesReference) {
  std::mt19937 rng(3);
  for (int c : {1, 3, 16, 37, 128})
    for (bool inverse : {false, true}) {
      GdnWeights g = test::random_gdn(c, inverse, rng);
      Tensor x = test::random_tensor(Shape{1, 9, 14, c}, rng, -3.f, 3.f);
      Tensor want = ref::gdn(x, g);
      Tensor got = Gdn(g).forward(x);
      EXPECT_LT(max_rel_error(got, want), kConvTol) << "C=" << c << " inverse=" << inverse;
    }
}

TEST(Kernels, GdnHandComputed) {
  GdnWeights g{2, {1.f, 4.f}, {0.f, 1.f, 0.f, 0.f}, false};
  Tensor x(1, 1, 1, 2);
  x.data()[0] = 2.f;
  x.data()[1] = 3.f;
  Tensor y = ref::gdn(x, g);
  EXPECT_FLOAT_EQ(y.data()[0], 2.f / std::sqrt(1.f + 9.f));
  EXPECT_FLOAT_EQ(y.data()[1], 3.f / 2.f);
  g.inverse = true;
  EXPECT_FLOAT_EQ(ref::gdn(x, g).data()[0], 2.f * std::sqrt(10.f));
}

TEST(Kernels, ReluInplace) {
  std::mt19937 rng(5);
  Tensor x = test::random_tensor(Shape{1, 7, 5, 3}, rng);
  Tensor want = x;
  ref::relu(want);
  relu_inplace(x);
  EXPECT_EQ(max_rel_error(x, want), 0.0);
}

TEST(Kernels, InvalidWeightsAreRejected) {
  ConvWeights w;
  w.spec = ConvSpec{2, 2, 3, 1, 1, 0, false};
  w.weight.assign(5, 0.f);
  w.bias.assign(2, 0.f);
  EXPECT_THROW(Conv2d{w}, std::invalid_argument);
  EXPECT_THROW(ref::conv2d(Tensor(1, 4, 4, 2), w), std::invalid_argument);
}


}  // namespace
}  // namespace nlc
