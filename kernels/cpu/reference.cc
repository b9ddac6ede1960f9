// Reference kernels: the definition of each operation, as plain loops.
#include <cmath>
#include <stdexcept>

#include "kernels/conv_geometry.h"
#include "kernels/cpu/ops.h"

namespace nlc {

void ConvWeights::validate() const {
  const ConvSpec& s = spec;
  if (s.cin <= 0 || s.cout <= 0 || s.k <= 0 || s.stride <= 0 || s.pad < 0 ||
      s.output_padding < 0 || (s.output_padding >= s.stride && s.transposed) ||
      (!s.transposed && s.output_padding != 0))
    throw std::invalid_argument("invalid convolution parameters");
  if (weight.size() != size_t(s.cin) * s.cout * s.k * s.k)
    throw std::invalid_argument("convolution weight has " + std::to_string(weight.size()) +
                                " values, expected " +
                                std::to_string(size_t(s.cin) * s.cout * s.k * s.k));
  if (bias.size() != size_t(s.cout))
    throw std::invalid_argument("convolution bias has the wrong size");
}

void GdnWeights::validate() const {
  if (channels <= 0 || beta.size() != size_t(channels) ||
      gamma.size() != size_t(channels) * channels)
    throw std::invalid_argument("GDN parameters have inconsistent sizes");
}

Shape conv_output_shape(const ConvSpec& s, const Shape& in) {
  if (in.c != s.cin)
    throw std::invalid_argument("convolution expects " + std::to_string(s.cin) +
                                " input channels, got " + std::to_string(in.c));
  const int oh = conv_output_size(in.h, s.k, s.stride, s.pad, s.output_padding, s.transposed);
  const int ow = conv_output_size(in.w, s.k, s.stride, s.pad, s.output_padding, s.transposed);
  if (in.h <= 0 || in.w <= 0 || oh <= 0 || ow <= 0)
    throw std::invalid_argument("convolution input " + in.str() + " is too small");
  return Shape{in.n, oh, ow, s.cout};
}

namespace ref {

Tensor conv2d(const Tensor& x, const ConvWeights& w) {
  w.validate();
  const ConvSpec& s = w.spec;
  Tensor y(conv_output_shape(s, x.shape()));
  const int K = s.k;
  for (int n = 0; n < y.n(); ++n)
    for (int oy = 0; oy < y.h(); ++oy)
      for (int ox = 0; ox < y.w(); ++ox)
        for (int co = 0; co < s.cout; ++co) {
          double acc = w.bias[co];  // double: the reference should not be the noisy side
          for (int ky = 0; ky < K; ++ky)
            for (int kx = 0; kx < K; ++kx) {
              const int iy = conv_tap_input(oy, ky, s.stride, s.pad, s.transposed, x.h());
              const int ix = conv_tap_input(ox, kx, s.stride, s.pad, s.transposed, x.w());
              if (iy < 0 || ix < 0) continue;
              const float* in = &x.data()[x.index(n, iy, ix, 0)];
              for (int ci = 0; ci < s.cin; ++ci) {
                size_t wi = s.transposed ? ((size_t(ci) * s.cout + co) * K + ky) * K + kx
                                         : ((size_t(co) * s.cin + ci) * K + ky) * K + kx;
                acc += double(in[ci]) * double(w.weight[wi]);
              }
            }
          y.at(n, oy, ox, co) = float(acc);
        }
  return y;
}

Tensor gdn(const Tensor& x, const GdnWeights& g) {
  g.validate();
  if (x.c() != g.channels) throw std::invalid_argument("GDN channel count mismatch");
  Tensor y(x.shape());
  const int C = g.channels;
  const size_t pixels = size_t(x.n()) * x.h() * x.w();
  for (size_t p = 0; p < pixels; ++p) {
    const float* in = x.data() + p * C;
    float* out = y.data() + p * C;
    for (int i = 0; i < C; ++i) {
      double norm = g.beta[i];
      for (int j = 0; j < C; ++j) norm += double(g.gamma[size_t(i) * C + j]) * in[j] * in[j];
      double f = g.inverse ? std::sqrt(norm) : 1.0 / std::sqrt(norm);
      out[i] = float(in[i] * f);
    }
  }
  return y;
}

void relu(Tensor& x) {
  float* d = x.data();
  for (size_t i = 0; i < x.numel(); ++i) d[i] = d[i] > 0.f ? d[i] : 0.f;
}

}  // namespace ref
}  // namespace nlc
