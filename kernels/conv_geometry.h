// The index arithmetic of a convolution and a transposed convolution with PyTorch's
// semantics, in one place for every implementation that loops over taps itself (the
// reference kernels, the integer h_s on the CPU and on the GPU):
//   conv:       out = (in + 2*pad - k) / stride + 1,   out[o] reads in[o*stride - pad + t]
//   transposed: out = (in - 1)*stride - 2*pad + k + output_padding,
//               out[o] gathers in[i] for every tap t with i*stride - pad + t == o
#pragma once

#include "kernels/host_device.h"

namespace nlc {

NLC_HOST_DEVICE inline int conv_output_size(int in, int k, int stride, int pad,
                                            int output_padding, bool transposed) {
  return transposed ? (in - 1) * stride - 2 * pad + k + output_padding
                    : (in + 2 * pad - k) / stride + 1;
}

// The input position that tap t of output position o reads, or -1 when none does (outside
// the input, or between a transposed convolution's strided samples).
NLC_HOST_DEVICE inline int conv_tap_input(int o, int t, int stride, int pad, bool transposed,
                                          int in) {
  int i;
  if (transposed) {
    const int s = o + pad - t;
    if (s < 0 || s % stride) return -1;
    i = s / stride;
  } else {
    i = o * stride - pad + t;
  }
  return i >= 0 && i < in ? i : -1;
}

}  // namespace nlc
