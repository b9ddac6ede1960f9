// 8-bit images and PNG I/O (libpng). Outputs are written to a temporary file in the target
// folder and renamed over the destination, so a failed write never leaves half a file.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/tensor.h"

namespace nlc {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;              // row-major, interleaved
};

// Reads an 8-bit RGB or grayscale PNG (palette images are expanded to RGB). 16-bit and
// alpha images are refused with a clear message rather than silently altered.
Image read_png(const std::string& path);  // "-": standard input
Image decode_png(const uint8_t* data, size_t size, const std::string& name);
std::vector<uint8_t> encode_png(const Image& img);
void write_png(const std::string& path, const Image& img);  // "-": standard output

// Whole-file I/O: "-" is standard input/output; writes go to a temporary file in the target
// folder that is renamed over the destination, so nothing half-written is ever left.
std::vector<uint8_t> read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

// [1,H',W',3] float tensor in [0,1], H' and W' padded up to multiples of `align` by
// repeating the last row/column (edge replication codes cheaper than zeros).
Tensor image_to_tensor(const Image& img, int align);
// Crops to width x height, rounds to 8 bits (half away from zero after clamping to [0,1]).
Image tensor_to_image(const Tensor& t, int width, int height, int channels);

double psnr(const Image& a, const Image& b);

}  // namespace nlc
