// 8-bit images and PNG I/O (libpng). Outputs are written to a temporary file in the target
// folder and renamed over the destination, so a failed write never leaves half a file.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "nlc/errors.h"

namespace nlc {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;              // row-major, interleaved
};

// Reads an 8-bit RGB or grayscale PNG (palette images are expanded to RGB). 16-bit and
// alpha images are refused with a clear message rather than silently altered.
Image read_png(const std::string& path);  // "-": standard input
Image decode_png(const uint8_t* data, size_t size, const std::string& name);
std::vector<uint8_t> encode_png(const Image& img);
// How outputs are written (write_file_atomic below).
struct WriteOptions {
  bool replace_read_only = false;
};
void write_png(const std::string& path, const Image& img,
               const WriteOptions& options = {});  // "-": standard output

// Whole-file I/O: "-" is standard input/output. A regular file is written to a temporary
// file in its folder, flushed to disk and renamed over the destination, so nothing
// half-written is ever left; it keeps the replaced file's mode (a new file gets 0666 less
// the umask), a symlink's target is replaced rather than the link, and a hard-linked file is
// rewritten in place (renaming would split its links). Devices and FIFOs (/dev/null,
// /dev/stdout, pipes) are written directly. A read-only file is refused unless
// replace_read_only.
std::vector<uint8_t> read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes,
                       const WriteOptions& options = {});

// PSNR-RGB in dB (peak 255, the mean squared error over all samples; infinity when equal):
// the one definition nlc reports everywhere (compare, eval, bench, the FFmpeg filter).
double psnr(const Image& a, const Image& b);  // ImageError when the sizes differ
double psnr(const uint8_t* a, const uint8_t* b, size_t n);

}  // namespace nlc
