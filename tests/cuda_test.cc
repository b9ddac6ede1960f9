// CUDA kernels against the plain reference. Links only the reference kernels and the CUDA
// path (no oneDNN), so that the binary can be carried to a GPU machine and run there
// (bench/gpu_check.sh). Every test skips cleanly where no GPU is usable.
#include <gtest/gtest.h>

#include "kernels/cuda/cuda.h"
#include "test_util.h"

namespace nlc {
namespace {

TEST(Cuda, DescribesTheDevice) {
  std::string d = cuda::describe();
  std::printf("%s\n", d.c_str());
  EXPECT_FALSE(d.empty());
}

TEST(Cuda, GdnMatchesReference) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device: " << cuda::describe();
  std::mt19937 rng(11);
  for (int c : {3, 128, 192})
    for (bool inverse : {false, true}) {
      GdnWeights g = test::random_gdn(c, inverse, rng);
      Tensor x = test::random_tensor(Shape{1, 17, 23, c}, rng, -3.f, 3.f);
      double e = test::max_rel_error(cuda::gdn(x, g), ref::gdn(x, g));
      std::printf("GDN C=%d inverse=%d rel err %.2e\n", c, int(inverse), e);
      EXPECT_LT(e, 1e-5) << "C=" << c;
    }
}

}  // namespace
}  // namespace nlc
