#include "nlc/image.h"

#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>

namespace nlc {
namespace {

[[noreturn]] void png_fail(png_structp png, png_const_charp msg) {
  auto* err = static_cast<std::string*>(png_get_error_ptr(png));
  if (err) *err = msg;
  png_longjmp(png, 1);
}
void png_warn(png_structp, png_const_charp) {}

// Pixel-count limit: a 16k x 16k image. Larger headers are refused before any allocation.
constexpr uint64_t kMaxPixels = uint64_t(16384) * 16384;

struct MemReader {
  const uint8_t* p;
  size_t n, pos;
};
void mem_read(png_structp png, png_bytep out, png_size_t len) {
  auto* r = static_cast<MemReader*>(png_get_io_ptr(png));
  if (len > r->n - r->pos) png_error(png, "unexpected end of file");
  std::memcpy(out, r->p + r->pos, len);
  r->pos += len;
}
void mem_write(png_structp png, png_bytep data, png_size_t len) {
  auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  v->insert(v->end(), data, data + len);
}
void mem_flush(png_structp) {}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  if (path == "-") {
    std::vector<uint8_t> v((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return v;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ImageError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> v;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f.get())) > 0) v.insert(v.end(), buf, buf + got);
  if (std::ferror(f.get())) throw ImageError(path + ": read error");
  return v;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (path == "-") {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout))
      throw ImageError("cannot write to standard output");
    return;
  }
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) throw ImageError(path + ": cannot create a temporary file (" + std::strerror(errno) + ")");
  std::string tmp(name.data());
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) {
      int e = errno;
      ::close(fd);
      std::remove(tmp.c_str());
      throw ImageError(path + ": write error (" + std::strerror(e) + ")");
    }
    done += size_t(w);
  }
  fchmod(fd, 0644);
  if (::close(fd) != 0) {
    std::remove(tmp.c_str());
    throw ImageError(path + ": write error");
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw ImageError(path + ": cannot rename temporary file (" + ec.message() + ")");
  }
}

Image decode_png(const uint8_t* data, size_t size, const std::string& name) {
  if (size < 8 || png_sig_cmp(data, 0, 8)) throw ImageError(name + ": not a PNG file");
  std::string err;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_fail, png_warn);
  if (!png) throw ImageError("libpng: out of memory");
  png_infop info = png_create_info_struct(png);
  MemReader reader{data, size, 8};
  Image img;
  std::vector<png_bytep> rows;
  std::string refuse;
  // libpng reports errors by longjmp; everything with a destructor is alive above this.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw ImageError(name + ": corrupt PNG (" + err + ")");
  }
  png_set_read_fn(png, &reader, mem_read);
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
  if (depth == 16) refuse = "16-bit PNG is not supported (nlc codes 8-bit images)";
  else if (type & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS))
    refuse = "PNG with alpha is not supported (flatten it to RGB first)";
  else if (uint64_t(w) * h > kMaxPixels || w == 0 || h == 0)
    refuse = "image size " + std::to_string(w) + "x" + std::to_string(h) + " is out of range";
  if (!refuse.empty()) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw ImageError(name + ": " + refuse);
  }
  // Deflate expands at most 1032:1, so the file's own size bounds the pixel data it can
  // hold (h rows of a filter byte and the row's samples at the file's bit depth): a short
  // file declaring a huge image is refused before the image is allocated.
  const uint64_t stored = uint64_t(h) * (1 + (uint64_t(w) * png_get_channels(png, info) * uint64_t(depth) + 7) / 8);
  if (stored > uint64_t(size) * 1032 + 4096) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw ImageError(name + ": PNG declares " + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels, more than its " + std::to_string(size) + " bytes can hold (corrupt)");
  }
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_read_update_info(png, info);
  img.width = int(w);
  img.height = int(h);
  img.channels = png_get_channels(png, info);
  img.pixels.resize(size_t(w) * h * img.channels);
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = img.pixels.data() + size_t(y) * w * img.channels;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  if (img.channels != 1 && img.channels != 3)
    throw ImageError(name + ": unsupported PNG channel layout");
  return img;
}

Image read_png(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return decode_png(bytes.data(), bytes.size(), path == "-" ? "standard input" : path);
}

std::vector<uint8_t> encode_png(const Image& img) {
  if (img.channels != 1 && img.channels != 3) throw ImageError("PNG: only gray and RGB images");
  std::vector<uint8_t> out;
  std::string err;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_fail, png_warn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    throw ImageError("libpng: out of memory");
  }
  std::vector<png_const_bytep> rows(img.height);
  for (int y = 0; y < img.height; ++y)
    rows[y] = img.pixels.data() + size_t(y) * img.width * img.channels;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw ImageError("PNG encoding failed (" + err + ")");
  }
  png_set_write_fn(png, &out, mem_write, mem_flush);
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8,
               img.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_rows(png, const_cast<png_bytepp>(rows.data()), png_uint_32(img.height));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void write_png(const std::string& path, const Image& img) { write_file_atomic(path, encode_png(img)); }

double psnr(const uint8_t* a, const uint8_t* b, size_t n) {
  double se = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(a[i]) - double(b[i]);
    se += d * d;
  }
  double mse = se / double(n);
  return mse == 0 ? INFINITY : 10.0 * std::log10(255.0 * 255.0 / mse);
}

double psnr(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels ||
      a.pixels.size() != b.pixels.size())
    throw ImageError("psnr: images differ in size");
  return psnr(a.pixels.data(), b.pixels.data(), a.pixels.size());
}

}  // namespace nlc
