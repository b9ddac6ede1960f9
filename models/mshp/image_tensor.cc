#include "models/mshp/image_tensor.h"

#include <algorithm>

#include "models/mshp/quantize.h"

namespace nlc {

Tensor image_to_tensor(const Image& img, int align) {
  if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3))
    throw ImageError("image_to_tensor: empty or unsupported image");
  int H = (img.height + align - 1) / align * align, W = (img.width + align - 1) / align * align;
  Tensor t = Tensor::uninitialized(Shape{1, H, W, 3});
  for (int y = 0; y < H; ++y) {
    int sy = std::min(y, img.height - 1);
    for (int x = 0; x < W; ++x) {
      int sx = std::min(x, img.width - 1);
      const uint8_t* p = &img.pixels[(size_t(sy) * img.width + sx) * img.channels];
      for (int c = 0; c < 3; ++c) t.at(0, y, x, c) = quant::sample(p[img.channels == 3 ? c : 0]);
    }
  }
  return t;
}

Image tensor_to_image(const Tensor& t, int width, int height, int channels) {
  if (t.n() != 1 || t.c() != 3 || t.h() < height || t.w() < width)
    throw ImageError("tensor_to_image: tensor " + t.shape().str() + " does not hold the image");
  Image img{width, height, channels, std::vector<uint8_t>(size_t(width) * height * channels)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &img.pixels[(size_t(y) * width + x) * channels];
      float v[3];  // NaN (from a pathological stream) becomes 0
      for (int c = 0; c < 3; ++c) v[c] = quant::pixel_scale(t.at(0, y, x, c));
      if (channels == 3) {
        for (int c = 0; c < 3; ++c) p[c] = quant::pixel(v[c]);  // half to even, as torch.round
      } else {  // grayscale source: the three decoded channels are averaged
        p[0] = quant::gray_pixel(v[0], v[1], v[2]);
      }
    }
  return img;
}

}  // namespace nlc
