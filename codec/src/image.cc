#include "nlc/image.h"

#include <png.h>
#include <fcntl.h>
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

namespace {

// The process's umask without changing it (/proc/self/status; Linux >= 4.7), else 022.
mode_t current_umask() {
  FILE* f = std::fopen("/proc/self/status", "r");
  unsigned m = 022;
  if (f) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "Umask: %o", &m) == 1) break;
    std::fclose(f);
  }
  return mode_t(m);
}

// 0 or the errno of the failed write.
int write_all(int fd, const uint8_t* p, size_t n) {
  for (size_t done = 0; done < n;) {
    const ssize_t w = ::write(fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    done += size_t(w);
  }
  return 0;
}

// Writes into an existing file or device in place (devices, FIFOs, hard-linked files).
void write_in_place(const std::string& path, const uint8_t* p, size_t n, bool truncate) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | (truncate ? O_TRUNC : 0));
  if (fd < 0) throw ImageError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  int e = write_all(fd, p, n);
  if (!e && truncate && ::fsync(fd) != 0) e = errno;
  if (::close(fd) != 0 && !e) e = errno;
  if (e) throw ImageError(path + ": write error (" + std::strerror(e) + ")");
}

}  // namespace

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes,
                       const WriteOptions& options) {
  if (path == "-") {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout))
      throw ImageError("cannot write to standard output");
    return;
  }
  namespace fs = std::filesystem;
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;  // follows symlinks
  if (exists && S_ISDIR(st.st_mode)) throw ImageError(path + ": is a folder");
  if (exists && !S_ISREG(st.st_mode)) {
    // A device, FIFO or socket (/dev/null, /dev/stdout): there is no file to replace.
    write_in_place(path, bytes.data(), bytes.size(), false);
    return;
  }
  if (exists && (st.st_mode & 0222) == 0 && !options.replace_read_only)
    throw ImageError(path + ": is read-only; not replaced (--force replaces it)");
  std::error_code ec;
  // A symlink's target is replaced, not the link.
  const fs::path target = exists && fs::is_symlink(path, ec) ? fs::canonical(path, ec) : fs::path(path);
  if (ec) throw ImageError(path + ": cannot resolve the link (" + ec.message() + ")");
  if (exists && st.st_nlink > 1) {
    // Renaming a new file over it would split its hard links: rewritten in place instead.
    write_in_place(target.string(), bytes.data(), bytes.size(), true);
    return;
  }
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // ".NAME.XXXXXX.nlctmp": the suffix marks it as nlc's own, so that a batch job's retry can
  // remove what a killed attempt left without touching a user's ".NAME.backup"
  // (python/nlc/batch.py, _clear_stale_temporaries, matches this spelling).
  const std::string suffix = ".nlctmp";
  std::string tmpl = (dir / ("." + target.filename().string() + ".XXXXXX" + suffix)).string();
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = mkstemps(name.data(), int(suffix.size()));
  if (fd < 0) throw ImageError(path + ": cannot create a temporary file (" + std::strerror(errno) + ")");
  const std::string tmp(name.data());
  // The replaced file's mode, or what the umask gives a new file.
  const mode_t mode = exists ? (st.st_mode & 07777) : (0666 & ~current_umask());
  int e = write_all(fd, bytes.data(), bytes.size());
  if (!e && ::fchmod(fd, mode) != 0) e = errno;
  if (!e && ::fsync(fd) != 0) e = errno;  // the data is on disk before the name points at it
  if (::close(fd) != 0 && !e) e = errno;
  if (e) {
    std::remove(tmp.c_str());
    throw ImageError(path + ": write error (" + std::strerror(e) + ")");
  }
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
  else if (uint64_t(w) * h > kMaxImagePixels || w == 0 || h == 0)
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

void write_png(const std::string& path, const Image& img, const WriteOptions& options) {
  write_file_atomic(path, encode_png(img), options);
}

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
