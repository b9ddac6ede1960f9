#include <gtest/gtest.h>
#include <png.h>
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
