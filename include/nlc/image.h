// 8-bit images and their I/O: PNG (libpng), JPEG input (libturbojpeg), PPM/PGM. Outputs are written to a temporary file in the target
// folder and renamed over the destination, so a failed write never leaves half a file.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "nlc/errors.h"

namespace nlc {

// The largest image the readers accept (16384 x 16384, as the decoder's kMaxDecodedPixels):
// a file declaring more is refused before anything is allocated.
inline constexpr uint64_t kMaxImagePixels = uint64_t(16384) * 16384;

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;              // row-major, interleaved
};

// Reads an 8-bit RGB or grayscale PNG (palette images are expanded to RGB). 16-bit and
// alpha images are refused with a clear message rather than silently altered.
Image read_png(const std::string& path);  // "-": standard input
Image decode_png(const uint8_t* data, size_t size, const std::string& name);
std::vector<uint8_t> encode_png(const Image& img);
// Any image nlc reads, recognised by its content, not its name: PNG (as read_png), JPEG
// (baseline or progressive, gray or colour; the EXIF orientation applied; CMYK refused), and
// PPM/PGM, binary (P6/P5) or ASCII (P3/P2), maximum value up to 255 (scaled to 0..255).
// 16-bit samples (PNG, or PNM with a maximum value above 255) are refused with the reason.
Image read_image(const std::string& path);  // "-": standard input
Image decode_image(const uint8_t* data, size_t size, const std::string& name);
// Binary PNM: P6 for RGB, P5 for gray.
std::vector<uint8_t> encode_pnm(const Image& img);
// How outputs are written (write_file_atomic below).
struct WriteOptions {
  bool replace_read_only = false;
};
void write_png(const std::string& path, const Image& img,
               const WriteOptions& options = {});  // "-": standard output
// PNM when the name ends .ppm (gray expanded to RGB), .pgm (gray only) or .pnm; else PNG.
void write_image(const std::string& path, const Image& img, const WriteOptions& options = {});

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
