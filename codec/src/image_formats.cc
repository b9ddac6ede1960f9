// The input formats nlc reads besides PNG (image.cc): JPEG through libturbojpeg with its EXIF
// orientation applied, and PPM/PGM (binary and ASCII); the format is recognised from the
// content, never the name. And PNM output. Every declared size is checked against the
// format's limit and against what the file's bytes can hold before anything is allocated
// (tests/fuzz/image_fuzzer.cc fuzzes all of it).
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string>

#include "nlc/image.h"

namespace nlc {
namespace {

std::string size_text(uint64_t w, uint64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

// ---- JPEG ----

// What nlc needs from a JPEG's markers before decoding it: the EXIF orientation (1..8; 1
// when absent or unreadable) and whether the frame is sequential Huffman (SOF0/SOF1), whose
// coded size bounds its pixel count.
struct JpegMarkers {
  int orientation = 1;
  bool sequential = false;
};

uint32_t get16(const uint8_t* p, bool le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
uint32_t get32(const uint8_t* p, bool le) {
  return le ? get16(p, true) | get16(p + 2, true) << 16 : get16(p, false) << 16 | get16(p + 2, false);
}

// The orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload; 1 when absent.
int exif_orientation(const uint8_t* p, size_t n) {
  if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const uint8_t* t = p + 6;  // the TIFF header; offsets count from here
  const size_t tn = n - 6;
  bool le;
  if (t[0] == 'I' && t[1] == 'I') le = true;
  else if (t[0] == 'M' && t[1] == 'M') le = false;
  else return 1;
  if (get16(t + 2, le) != 42) return 1;
  const uint64_t ifd = get32(t + 4, le);
  if (ifd + 2 > tn) return 1;
  const uint32_t count = get16(t + ifd, le);
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t e = ifd + 2 + uint64_t(i) * 12;
    if (e + 12 > tn) return 1;
    if (get16(t + e, le) == 0x0112 && get16(t + e + 2, le) == 3 && get32(t + e + 4, le) >= 1) {
      const uint32_t v = get16(t + e + 8, le);
      return v >= 1 && v <= 8 ? int(v) : 1;
    }
  }
  return 1;
}

JpegMarkers scan_jpeg(const uint8_t* d, size_t n) {
  JpegMarkers m;
  size_t i = 2;  // after SOI
  while (i + 4 <= n) {
    if (d[i] != 0xFF) break;
    const uint8_t marker = d[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      i += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) break;  // EOI, start of scan: no more headers
    const size_t len = get16(d + i + 2, false);
    if (len < 2 || i + 2 + len > n) break;
    const uint8_t* p = d + i + 4;
    if (marker == 0xE1 && m.orientation == 1) m.orientation = exif_orientation(p, len - 2);
    if (marker == 0xC0 || marker == 0xC1) m.sequential = true;
    i += 2 + len;
  }
  return m;
}

// The image turned upright: EXIF orientation o (1: as stored; 2..8: mirrored and/or rotated).
Image apply_orientation(const Image& in, int o) {
  if (o <= 1 || o > 8) return in;
  const int W = in.width, H = in.height, C = in.channels;
  const bool swap = o >= 5;
  Image out;
  out.width = swap ? H : W;
  out.height = swap ? W : H;
  out.channels = C;
  out.pixels.resize(in.pixels.size());
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;  // the stored pixel shown at (x, y)
      switch (o) {
        case 2: sx = W - 1 - x; break;
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;
        case 4: sy = H - 1 - y; break;
        case 5: sx = y; sy = x; break;                  // transpose
        case 6: sx = y; sy = H - 1 - x; break;          // rotate 90 degrees clockwise
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;  // transverse
        case 8: sx = W - 1 - y; sy = x; break;          // rotate 90 degrees counter-clockwise
      }
      std::memcpy(&out.pixels[(size_t(y) * out.width + x) * C], &in.pixels[(size_t(sy) * W + sx) * C], size_t(C));
    }
  return out;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), &tjDestroy);
  if (!tj) throw ImageError("libturbojpeg: cannot initialise");
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), data, static_cast<unsigned long>(size), &w, &h, &subsamp, &colorspace) != 0)
    throw ImageError(name + ": corrupt JPEG (" + tjGetErrorStr2(tj.get()) + ")");
  if (w <= 0 || h <= 0 || uint64_t(w) * uint64_t(h) > kMaxImagePixels)
    throw ImageError(name + ": image size " + size_text(uint64_t(w), uint64_t(h)) + " is out of range");
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
    throw ImageError(name + ": CMYK JPEG is not supported (convert it to RGB first)");
  const JpegMarkers m = scan_jpeg(data, size);
  // A sequential Huffman scan spends at least 2 bits on each 8x8 block of each component
  // (a DC code and an end of block), so at most 256 pixels a byte per component: a short
  // file declaring a huge image is refused before the image is allocated. (Progressive
  // scans can code runs of empty blocks in one code, so they are bounded by size alone.)
  if (m.sequential && uint64_t(w) * uint64_t(h) > uint64_t(size) * 256 + 65536)
    throw ImageError(name + ": JPEG declares " + size_text(uint64_t(w), uint64_t(h)) + " pixels, more than its " +
                     std::to_string(size) + " bytes can hold (corrupt)");
  Image img;
  img.width = w;
  img.height = h;
  img.channels = colorspace == TJCS_GRAY ? 1 : 3;
  img.pixels.resize(size_t(w) * size_t(h) * size_t(img.channels));
  // Warnings (a truncated or damaged scan that libjpeg would fill with grey) are errors:
  // nlc does not code an image that is not what the file says.
  if (tjDecompress2(tj.get(), data, static_cast<unsigned long>(size), img.pixels.data(), w, 0, h,
                    img.channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_ACCURATEDCT) != 0)
    throw ImageError(name + ": corrupt JPEG (" + tjGetErrorStr2(tj.get()) + ")");
  return apply_orientation(img, m.orientation);
}

// ---- PNM (Netpbm): P5/P6 binary, P2/P3 ASCII ----

struct PnmReader {
  const uint8_t* d;
  size_t n, i;
  const std::string& name;
  void skip_space() {
    while (i < n && (std::isspace(d[i]) || d[i] == '#')) {
      if (d[i] == '#')
        while (i < n && d[i] != '\n' && d[i] != '\r') ++i;
      else
        ++i;
    }
  }
  // A decimal number (header field or ASCII sample) no larger than max.
  uint32_t number(uint32_t max, const char* what) {
    skip_space();
    if (i >= n || !std::isdigit(d[i])) throw ImageError(name + ": corrupt PNM (" + what + " missing)");
    uint64_t v = 0;
    while (i < n && std::isdigit(d[i])) {
      v = v * 10 + (d[i++] - '0');
      if (v > max) throw ImageError(name + ": PNM " + what + " is out of range");
    }
    return uint32_t(v);
  }
};

Image decode_pnm(const uint8_t* data, size_t size, const std::string& name) {
  const char kind = char(data[1]);
  const bool binary = kind == '5' || kind == '6';
  PnmReader r{data, size, 2, name};
  const uint32_t w = r.number(1u << 30, "width"), h = r.number(1u << 30, "height");
  const uint32_t maxval = r.number(65535, "maximum value");
  if (w == 0 || h == 0 || uint64_t(w) * h > kMaxImagePixels)
    throw ImageError(name + ": image size " + size_text(w, h) + " is out of range");
  if (maxval == 0) throw ImageError(name + ": corrupt PNM (maximum value 0)");
  if (maxval > 255) throw ImageError(name + ": 16-bit PGM/PPM is not supported (nlc codes 8-bit images)");
  Image img;
  img.width = int(w);
  img.height = int(h);
  img.channels = kind == '6' || kind == '3' ? 3 : 1;
  const uint64_t samples = uint64_t(w) * h * uint64_t(img.channels);
  if (binary) {
    if (r.i >= size || !std::isspace(data[r.i])) throw ImageError(name + ": corrupt PNM header");
    ++r.i;  // the one whitespace byte before the raster
    if (samples > size - r.i)
      throw ImageError(name + ": truncated PNM (" + std::to_string(size - r.i) + " of " + std::to_string(samples) +
                       " bytes of pixels)");
  } else if (samples > (size - r.i + 1) / 2 + 1) {
    // An ASCII sample takes a digit and a separator at least.
    throw ImageError(name + ": truncated PNM (" + size_text(w, h) + " pixels declared in " + std::to_string(size) +
                     " bytes)");
  }
  img.pixels.resize(size_t(samples));
  for (size_t k = 0; k < size_t(samples); ++k) {
    const uint32_t v = binary ? data[r.i++] : r.number(maxval, "sample");
    if (v > maxval) throw ImageError(name + ": PNM sample above its maximum value");
    img.pixels[k] = uint8_t(maxval == 255 ? v : (v * 255 + maxval / 2) / maxval);
  }
  return img;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - n + i])) != suffix[i]) return false;
  return true;
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(data, size, name);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, size, name);
  if (size >= 2 && data[0] == 'P' && data[1] >= '2' && data[1] <= '6' && data[1] != '4')
    return decode_pnm(data, size, name);
  throw ImageError(name + ": not an image nlc reads (PNG, JPEG, PPM or PGM, recognised by content)");
}

Image read_image(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return decode_image(bytes.data(), bytes.size(), path == "-" ? "standard input" : path);
}

std::vector<uint8_t> encode_pnm(const Image& img) {
  if (img.channels != 1 && img.channels != 3) throw ImageError("PNM: only gray and RGB images");
  const std::string head = std::string(img.channels == 3 ? "P6" : "P5") + "\n" + std::to_string(img.width) + " " +
                           std::to_string(img.height) + "\n255\n";
  std::vector<uint8_t> out(head.begin(), head.end());
  out.insert(out.end(), img.pixels.begin(), img.pixels.end());
  return out;
}

void write_image(const std::string& path, const Image& img, const WriteOptions& options) {
  if (ends_with(path, ".ppm") && img.channels == 1) {
    Image rgb = img;  // PPM holds colour: gray expanded
    rgb.channels = 3;
    rgb.pixels.resize(img.pixels.size() * 3);
    for (size_t i = 0; i < img.pixels.size(); ++i) std::fill_n(&rgb.pixels[3 * i], 3, img.pixels[i]);
    write_file_atomic(path, encode_pnm(rgb), options);
  } else if (ends_with(path, ".pgm") && img.channels == 3) {
    throw ImageError(path + ": a PGM holds gray images and this one is RGB (write .ppm or .png)");
  } else if (ends_with(path, ".ppm") || ends_with(path, ".pgm") || ends_with(path, ".pnm")) {
    write_file_atomic(path, encode_pnm(img), options);
  } else {
    write_png(path, img, options);
  }
}

}  // namespace nlc
