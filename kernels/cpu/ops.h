// CPU kernels of the runtime: a plain reference implementation of every operation
// (namespace nlc::ref, single-threaded loops written for clarity, the definition of what
// the operation computes) and an optimised one (classes Conv2d / Gdn, oneDNN + OpenMP).
// tests/kernels_test.cc checks the two against each other on random shapes.
#pragma once

#include <memory>
#include <vector>

#include "kernels/cpu/tensor.h"

namespace nlc {

// A 2-D convolution or transposed convolution with PyTorch's semantics:
//   conv:       out = (in + 2*pad - k) / stride + 1
//   transposed: out = (in - 1) * stride - 2*pad + k + output_padding
struct ConvSpec {
  int cin = 0, cout = 0, k = 1, stride = 1, pad = 0, output_padding = 0;
  bool transposed = false;
};

// Weights in PyTorch's own layout: conv [cout][cin][k][k], transposed [cin][cout][k][k].
struct ConvWeights {
  ConvSpec spec;
  std::vector<float> weight;
  std::vector<float> bias;  // [cout]
  void validate() const;    // throws std::invalid_argument on inconsistent sizes
};

Shape conv_output_shape(const ConvSpec& s, const Shape& in);

// GDN parameters: y_i = x_i / sqrt(beta_i + sum_j gamma[i][j] x_j^2); IGDN multiplies.
struct GdnWeights {
  int channels = 0;
  std::vector<float> beta;   // [C]
  std::vector<float> gamma;  // [C][C], row i holds gamma_ij
  bool inverse = false;
  void validate() const;
};

namespace ref {
Tensor conv2d(const Tensor& x, const ConvWeights& w);
Tensor gdn(const Tensor& x, const GdnWeights& g);
void relu(Tensor& x);
}  // namespace ref

// Optimised convolution: a oneDNN primitive (NHWC in and out), created and its weights
// reordered once per input shape, then reused. Optionally fuses a ReLU. One instance must
// not run forward() from two threads at once (it caches primitives); oneDNN itself
// parallelises each call over all cores with OpenMP.
class Conv2d {
 public:
  explicit Conv2d(ConvWeights w, bool fuse_relu = false);
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;
  Conv2d& operator=(Conv2d&&) noexcept;
  Tensor forward(const Tensor& x);
  const ConvSpec& spec() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Optimised GDN/IGDN: x^2 (OpenMP), a oneDNN 1x1 convolution with gamma and bias beta,
// then x / sqrt(.) or x * sqrt(.) (OpenMP, vectorised). Measured on 256x384x128 (2-core
// EPYC): 1x1 conv 23 ms + two passes; doing the power and product as oneDNN post-ops
// (eltwise_pow + binary_mul) took 112 ms, so the passes are ours.
class Gdn {
 public:
  explicit Gdn(GdnWeights g);
  Tensor forward(const Tensor& x);
  bool inverse() const { return inverse_; }

 private:
  bool inverse_;
  Conv2d norm_;
};

// In place, OpenMP-parallel.
void relu_inplace(Tensor& x);

// Number of threads the optimised kernels use (OpenMP); 0 keeps the default (all cores).
void set_num_threads(int n);
int num_threads();

}  // namespace nlc
