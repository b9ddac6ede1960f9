#include <gtest/gtest.h>
#include <png.h>
#include <turbojpeg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nlc/image.h"
#include "models/mshp/image_tensor.h"

namespace nlc {
namespace {
namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("nlc-image-test-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Writes a PNG with any libpng colour type / depth (for the refusal tests).
void write_raw_png(const std::string& path, int w, int h, int color_type, int depth) {
  FILE* f = std::fopen(path.c_str(), "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, w, h, depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  int channels = color_type == PNG_COLOR_TYPE_RGBA ? 4 : color_type == PNG_COLOR_TYPE_RGB ? 3 : 1;
  std::vector<uint8_t> row(size_t(w) * channels * (depth / 8), 7);
  for (int y = 0; y < h; ++y) png_write_row(png, row.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

TEST(Image, PngRoundTripRgbAndGray) {
  auto d = temp_dir();
  for (int ch : {1, 3}) {
    Image img{5, 3, ch, {}};
    for (int i = 0; i < 5 * 3 * ch; ++i) img.pixels.push_back(uint8_t(i * 17));
    std::string p = (d / ("rt" + std::to_string(ch) + ".png")).string();
    write_png(p, img);
    Image back = read_png(p);
    EXPECT_EQ(back.width, 5);
    EXPECT_EQ(back.height, 3);
    EXPECT_EQ(back.channels, ch);
    EXPECT_EQ(back.pixels, img.pixels);
  }
  // Nothing but the outputs is left behind (the temporary files were renamed).
  int files = 0;
  for (auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
  fs::remove_all(d);
}

TEST(Image, RefusesWhatItCannotCode) {
  auto d = temp_dir();
  std::string p16 = (d / "16.png").string(), pa = (d / "a.png").string(),
              junk = (d / "junk.png").string(), cut = (d / "cut.png").string();
  write_raw_png(p16, 4, 4, PNG_COLOR_TYPE_RGB, 16);
  write_raw_png(pa, 4, 4, PNG_COLOR_TYPE_RGBA, 8);
  try {
    read_png(p16);
    FAIL();
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("16-bit"), std::string::npos);
  }
  try {
    read_png(pa);
    FAIL();
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("alpha"), std::string::npos);
  }
  std::ofstream(junk) << "not a png";
  EXPECT_THROW(read_png(junk), ImageError);
  EXPECT_THROW(read_png((d / "missing.png").string()), ImageError);
  // A truncated PNG: every prefix fails cleanly.
  write_raw_png(cut, 16, 16, PNG_COLOR_TYPE_RGB, 8);
  std::ifstream in(cut, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t n = 0; n + 1 < all.size(); n += 7) {
    std::ofstream(cut, std::ios::binary | std::ios::trunc).write(all.data(), std::streamsize(n));
    EXPECT_THROW(read_png(cut), ImageError) << n;
  }
  fs::remove_all(d);
}

// A 57-byte PNG (signature, IHDR declaring 16384x16384 RGB, an empty IDAT, IEND; valid CRCs)
// is refused before its image is allocated: deflate cannot expand 57 bytes to 805 MB (the
// reader used to allocate the declared size first and fail on the missing data).
TEST(Image, ShortPngDeclaringAHugeImageIsRefusedBeforeAllocating) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  auto chunk = [&png](const char* type, std::vector<uint8_t> data) {
    const uint32_t n = uint32_t(data.size());
    for (int i = 3; i >= 0; --i) png.push_back(uint8_t(n >> (8 * i)));
    std::vector<uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    const uint32_t crc = uint32_t(crc32(0, body.data(), uInt(body.size())));
    for (int i = 3; i >= 0; --i) png.push_back(uint8_t(crc >> (8 * i)));
  };
  chunk("IHDR", {0, 0, 0x40, 0, 0, 0, 0x40, 0, 8, 2, 0, 0, 0});  // 16384 x 16384, 8-bit RGB
  chunk("IDAT", {});
  chunk("IEND", {});
  ASSERT_EQ(png.size(), 57u);
  struct rusage before {}, after {};
  getrusage(RUSAGE_SELF, &before);
  try {
    decode_png(png.data(), png.size(), "bomb.png");
    FAIL() << "accepted";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("more than its 57 bytes can hold"), std::string::npos) << e.what();
  }
  getrusage(RUSAGE_SELF, &after);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 100 * 1024) << "KiB more peak memory";
#endif
}

// ---- JPEG and PNM input (codec/src/image_formats.cc) ----

// A 16x16 JPEG of four flat 8x8 quadrants (TL red, TR green, BL blue, BR white; 4:4:4, quality
// 100, so each decodes within a few levels), with an EXIF orientation tag when o > 0.
std::vector<uint8_t> quadrant_jpeg(int o, bool big_endian = false) {
  const uint8_t colours[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  std::vector<uint8_t> rgb(16 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) rgb[(y * 16 + x) * 3 + c] = colours[(y / 8) * 2 + x / 8][c];
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, rgb.data(), 16, 0, 16, TJPF_RGB, &buf, &size, TJSAMP_444, 100, 0), 0);
  std::vector<uint8_t> jpg(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  if (o > 0) {
    // APP1: "Exif\0\0", a TIFF header, IFD0 with one entry (0x0112, SHORT, 1, o).
    std::vector<uint8_t> tiff = big_endian
        ? std::vector<uint8_t>{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, uint8_t(o), 0, 0, 0, 0, 0, 0}
        : std::vector<uint8_t>{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, uint8_t(o), 0, 0, 0, 0, 0, 0, 0};
    std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), tiff.begin(), tiff.end());
    app1[2] = uint8_t((app1.size() - 2) >> 8);
    app1[3] = uint8_t(app1.size() - 2);
    jpg.insert(jpg.begin() + 2, app1.begin(), app1.end());
  }
  return jpg;
}

// Every EXIF orientation turns the picture upright: which stored quadrant shows at each
// corner follows the EXIF table (2 mirrors, 3 turns 180 degrees, 6 turns 90 clockwise, ...).
TEST(Image, JpegExifOrientationIsApplied) {
  const char* shown[9] = {"", "RGBW", "GRWB", "WBGR", "BWRG", "RBGW", "BRWG", "WGBR", "GWRB"};  // TL TR BL BR
  auto name_of = [](const Image& img, int x, int y) {
    const uint8_t* p = &img.pixels[(size_t(y) * img.width + x) * 3];
    auto hi = [](uint8_t v) { return v > 200; };
    auto lo = [](uint8_t v) { return v < 55; };
    if (hi(p[0]) && hi(p[1]) && hi(p[2])) return 'W';
    if (hi(p[0]) && lo(p[1]) && lo(p[2])) return 'R';
    if (lo(p[0]) && hi(p[1]) && lo(p[2])) return 'G';
    if (lo(p[0]) && lo(p[1]) && hi(p[2])) return 'B';
    return '?';
  };
  for (bool be : {false, true})
    for (int o = 0; o <= 8; ++o) {
      const std::vector<uint8_t> jpg = quadrant_jpeg(o, be);
      const Image img = decode_image(jpg.data(), jpg.size(), "q.jpg");
      ASSERT_EQ(img.channels, 3);
      ASSERT_EQ(img.width, 16);
      const std::string got = {name_of(img, 3, 3), name_of(img, 12, 3), name_of(img, 3, 12), name_of(img, 12, 12)};
      EXPECT_EQ(got, shown[std::max(o, 1)]) << "orientation " << o << (be ? " big-endian" : "");
    }
}

TEST(Image, JpegGrayAndDamagedJpegs) {
  std::vector<uint8_t> gray(24 * 16, 77);
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(tj, gray.data(), 24, 0, 16, TJPF_GRAY, &buf, &size, TJSAMP_GRAY, 90, 0), 0);
  const std::vector<uint8_t> jpg(buf, buf + size);
  // CMYK: refused with the reason
  std::vector<uint8_t> cmyk(8 * 8 * 4, 40);
  ASSERT_EQ(tjCompress2(tj, cmyk.data(), 8, 0, 8, TJPF_CMYK, &buf, &size, TJSAMP_444, 90, 0), 0);
  const std::vector<uint8_t> cm(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  const Image img = decode_image(jpg.data(), jpg.size(), "g.jpg");
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.width, 24);
  EXPECT_EQ(img.height, 16);
  for (uint8_t v : img.pixels) EXPECT_NEAR(v, 77, 2);
  try {
    decode_image(cm.data(), cm.size(), "c.jpg");
    FAIL() << "CMYK accepted";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("CMYK"), std::string::npos) << e.what();
  }
  // every truncation is refused (never a grey-filled picture), and a huge declared size in
  // a short sequential file is refused before allocating
  for (size_t cut = 3; cut < jpg.size(); cut += 7) EXPECT_THROW(decode_image(jpg.data(), cut, "t.jpg"), ImageError) << cut;
  std::vector<uint8_t> big = jpg;
  for (size_t i = 2; i + 8 < big.size(); ++i)
    if (big[i] == 0xFF && big[i + 1] == 0xC0) {
      big[i + 5] = 0x40, big[i + 6] = 0x00, big[i + 7] = 0x40, big[i + 8] = 0x00;  // 16384 x 16384
      break;
    }
  try {
    decode_image(big.data(), big.size(), "big.jpg");
    FAIL() << "accepted";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("bytes can hold"), std::string::npos) << e.what();
  }
}

TEST(Image, PnmBinaryAsciiAndRefusals) {
  auto bytes = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  auto dec = [](const std::vector<uint8_t>& v) { return decode_image(v.data(), v.size(), "t.pnm"); };
  // binary P6 with a comment, and ASCII P3 of the same pixels
  std::vector<uint8_t> p6 = bytes("P6\n# a comment\n2 1\n255\n");
  for (int v : {1, 2, 3, 250, 251, 252}) p6.push_back(uint8_t(v));
  const Image a = dec(p6), b = dec(bytes("P3 2 1 255\n1 2 3\n250 251 252\n"));
  EXPECT_EQ(a.channels, 3);
  EXPECT_EQ(a.pixels, (std::vector<uint8_t>{1, 2, 3, 250, 251, 252}));
  EXPECT_EQ(b.pixels, a.pixels);
  // P2 with maximum value 15: scaled to 0..255
  const Image g = dec(bytes("P2\n3 1\n15\n0 7 15\n"));
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 119, 255}));
  // encode_pnm reads back exactly
  EXPECT_EQ(dec(encode_pnm(a)).pixels, a.pixels);
  EXPECT_EQ(dec(encode_pnm(g)).pixels, g.pixels);
  for (const char* bad : {"P6\n2 1\n255\n\x01\x02", "P5\n0 4\n255\n", "P5\n4 4\n65535\n", "P3 1 1 255\n1 2",
                          "P2 1 1 10\n11\n", "P6\n99999999 99999999\n255\n", "P5 2 2", "P7\n", "GIF89a"})
    EXPECT_THROW(dec(bytes(bad)), ImageError) << bad;
  try {
    dec(bytes("P5\n4 4\n65535\n"));
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("16-bit"), std::string::npos) << e.what();
  }
  // a short file declaring a huge image: refused before allocating
  try {
    dec(bytes("P6\n16384 16384\n255\n\x01"));
    FAIL() << "accepted";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(Image, WriteImagePicksPnmByName) {
  const fs::path d = temp_dir();
  Image gray{3, 2, 1, {0, 50, 100, 150, 200, 250}};
  write_image((d / "g.pgm").string(), gray);
  write_image((d / "g.ppm").string(), gray);
  write_image((d / "g.png").string(), gray);
  EXPECT_EQ(read_image((d / "g.pgm").string()).pixels, gray.pixels);
  const Image rgb = read_image((d / "g.ppm").string());
  ASSERT_EQ(rgb.channels, 3);
  EXPECT_EQ(rgb.pixels[3 * 4 + 1], 200);
  EXPECT_EQ(read_image((d / "g.png").string()).pixels, gray.pixels);  // content, not name
  EXPECT_THROW(write_image((d / "x.pgm").string(), rgb), ImageError);
  fs::remove_all(d);
}

// Outputs: devices are written, not replaced (as root the old code renamed a regular file
// over /dev/null); a symlink's target is replaced and the link kept; modes are kept and new
// files follow the umask; read-only files are refused unless asked; hard links stay linked.
TEST(Image, OutputsRespectWhatTheyReplace) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("nlc_write_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::vector<uint8_t> a = {1, 2, 3}, b = {4, 5, 6, 7};
  auto read = [](const fs::path& p) { return read_file(p.string()); };
  auto mode = [](const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 07777;
  };
  write_file_atomic("/dev/null", a);
  struct stat dn {};
  ASSERT_EQ(::stat("/dev/null", &dn), 0);
  EXPECT_TRUE(S_ISCHR(dn.st_mode)) << "/dev/null was replaced";
  const mode_t old_mask = umask(027);
  write_file_atomic((dir / "new").string(), a);
  EXPECT_EQ(mode(dir / "new"), 0640u);
  umask(old_mask);
  ::chmod((dir / "new").c_str(), 0600);
  write_file_atomic((dir / "new").string(), b);
  EXPECT_EQ(mode(dir / "new"), 0600u);
  EXPECT_EQ(read(dir / "new"), b);
  fs::create_symlink(dir / "new", dir / "link");
  write_file_atomic((dir / "link").string(), a);
  EXPECT_TRUE(fs::is_symlink(dir / "link"));
  EXPECT_EQ(read(dir / "new"), a);
  fs::create_hard_link(dir / "new", dir / "hard");
  write_file_atomic((dir / "new").string(), b);
  EXPECT_EQ(read(dir / "hard"), b);
  EXPECT_EQ(fs::hard_link_count(dir / "new"), 2u);
  write_file_atomic((dir / "ro").string(), a);
  ::chmod((dir / "ro").c_str(), 0444);
  EXPECT_THROW(write_file_atomic((dir / "ro").string(), b), ImageError);
  EXPECT_EQ(read(dir / "ro"), a);
  WriteOptions force;
  force.replace_read_only = true;
  write_file_atomic((dir / "ro").string(), b, force);
  EXPECT_EQ(read(dir / "ro"), b);
  EXPECT_EQ(mode(dir / "ro"), 0444u);
  EXPECT_THROW(write_file_atomic(dir.string(), a), ImageError);
  fs::remove_all(dir);
}

TEST(Image, TensorPaddingReplicatesEdgesAndCropsBack) {
  Image img{3, 2, 3, {}};
  for (int i = 0; i < 18; ++i) img.pixels.push_back(uint8_t(10 * i));
  Tensor t = image_to_tensor(img, 4);
  EXPECT_EQ(t.shape(), (Shape{1, 4, 4, 3}));
  EXPECT_FLOAT_EQ(t.at(0, 3, 3, 0), t.at(0, 1, 2, 0));
  Image back = tensor_to_image(t, 3, 2, 3);
  EXPECT_EQ(back.pixels, img.pixels);
  EXPECT_TRUE(std::isinf(psnr(img, back)));
}

}  // namespace
}  // namespace nlc
