// Between images and the hyperprior's tensors (internal to nlc; not installed); the
// per-element arithmetic is models/mshp/quantize.h, shared with the GPU tile pipeline.
#pragma once

#include "kernels/cpu/tensor.h"
#include "nlc/image.h"

namespace nlc {

// [1,H',W',3] float tensor in [0,1], H' and W' padded up to multiples of `align` by
// repeating the last row/column (edge replication codes cheaper than zeros).
Tensor image_to_tensor(const Image& img, int align);
// Crops to width x height, clamps to [0,1], scales to 255 and rounds half to even; a
// grayscale image averages the three channels first.
Image tensor_to_image(const Tensor& t, int width, int height, int channels);

}  // namespace nlc
