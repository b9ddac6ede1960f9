#include "eval/baselines.h"

#include <avif/avif.h>
#include <jconfig.h>  // LIBJPEG_TURBO_VERSION_NUMBER
#include <openjpeg.h>
#include <turbojpeg.h>
#include <webp/decode.h>
#include <webp/encode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace nlc::eval {
namespace {

std::runtime_error failure(const std::string& codec, const std::string& what) {
  return std::runtime_error(codec + ": " + what);
}

void check_rgb(const Image& img) {
  if (img.channels != 3) throw std::invalid_argument("baselines take RGB images");
}

// ---- JPEG (libjpeg-turbo) -------------------------------------------------------------
std::vector<uint8_t> jpeg_encode(const Image& img, double quality) {
  check_rgb(img);
  std::unique_ptr<void, int (*)(tjhandle)> h(tjInitCompress(), tjDestroy);
  if (!h) throw failure("jpeg", "tjInitCompress failed");
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  if (tjCompress2(h.get(), img.pixels.data(), img.width, 0, img.height, TJPF_RGB, &buf, &size,
                  TJSAMP_420, int(std::lround(quality)), TJFLAG_ACCURATEDCT) != 0) {
    tjFree(buf);
    throw failure("jpeg", tjGetErrorStr2(h.get()));
  }
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  return out;
}

Image jpeg_decode(const std::vector<uint8_t>& bytes) {
  std::unique_ptr<void, int (*)(tjhandle)> h(tjInitDecompress(), tjDestroy);
  if (!h) throw failure("jpeg", "tjInitDecompress failed");
  int w = 0, hgt = 0, sub = 0, cs = 0;
  if (tjDecompressHeader3(h.get(), bytes.data(), bytes.size(), &w, &hgt, &sub, &cs) != 0)
    throw failure("jpeg", tjGetErrorStr2(h.get()));
  Image img{w, hgt, 3, std::vector<uint8_t>(size_t(w) * size_t(hgt) * 3)};
  if (tjDecompress2(h.get(), bytes.data(), bytes.size(), img.pixels.data(), w, 0, hgt, TJPF_RGB,
                    TJFLAG_ACCURATEDCT) != 0)
    throw failure("jpeg", tjGetErrorStr2(h.get()));
  return img;
}

// ---- WebP (libwebp) -------------------------------------------------------------------
std::vector<uint8_t> webp_encode(const Image& img, double quality) {
  check_rgb(img);
  WebPConfig config;
  if (!WebPConfigInit(&config)) throw failure("webp", "library version mismatch");
  config.quality = float(quality);
  config.method = 6;
  WebPPicture pic;
  if (!WebPPictureInit(&pic)) throw failure("webp", "library version mismatch");
  pic.width = img.width;
  pic.height = img.height;
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  pic.writer = WebPMemoryWrite;
  pic.custom_ptr = &writer;
  const bool ok = WebPPictureImportRGB(&pic, img.pixels.data(), img.width * 3) &&
                  WebPEncode(&config, &pic);
  const int error = pic.error_code;
  WebPPictureFree(&pic);
  std::vector<uint8_t> out(writer.mem, writer.mem + writer.size);
  WebPMemoryWriterClear(&writer);
  if (!ok) throw failure("webp", "encoding failed (error " + std::to_string(error) + ")");
  return out;
}

Image webp_decode(const std::vector<uint8_t>& bytes) {
  int w = 0, h = 0;
  uint8_t* rgb = WebPDecodeRGB(bytes.data(), bytes.size(), &w, &h);
  if (!rgb) throw failure("webp", "decoding failed");
  Image img{w, h, 3, std::vector<uint8_t>(rgb, rgb + size_t(w) * size_t(h) * 3)};
  WebPFree(rgb);
  return img;
}

// ---- AVIF (libavif + libaom) ----------------------------------------------------------
std::vector<uint8_t> avif_encode(const Image& img, double quality) {
  check_rgb(img);
  std::unique_ptr<avifImage, void (*)(avifImage*)> image(
      avifImageCreate(uint32_t(img.width), uint32_t(img.height), 8, AVIF_PIXEL_FORMAT_YUV444),
      avifImageDestroy);
  avifRGBImage rgb;
  avifRGBImageSetDefaults(&rgb, image.get());
  rgb.format = AVIF_RGB_FORMAT_RGB;
  rgb.pixels = const_cast<uint8_t*>(img.pixels.data());  // read only
  rgb.rowBytes = uint32_t(img.width) * 3;
  if (avifImageRGBToYUV(image.get(), &rgb) != AVIF_RESULT_OK)
    throw failure("avif", "RGB to YUV conversion failed");
  std::unique_ptr<avifEncoder, void (*)(avifEncoder*)> enc(avifEncoderCreate(),
                                                             avifEncoderDestroy);
  enc->codecChoice = AVIF_CODEC_CHOICE_AOM;
  enc->speed = 6;
  enc->maxThreads = 1;
  enc->minQuantizer = enc->maxQuantizer = int(std::lround(quality));
  avifRWData out = AVIF_DATA_EMPTY;
  const avifResult r = avifEncoderWrite(enc.get(), image.get(), &out);
  if (r != AVIF_RESULT_OK) {
    avifRWDataFree(&out);
    throw failure("avif", avifResultToString(r));
  }
  std::vector<uint8_t> bytes(out.data, out.data + out.size);
  avifRWDataFree(&out);
  return bytes;
}

Image avif_decode(const std::vector<uint8_t>& bytes) {
  std::unique_ptr<avifDecoder, void (*)(avifDecoder*)> dec(avifDecoderCreate(),
                                                             avifDecoderDestroy);
  std::unique_ptr<avifImage, void (*)(avifImage*)> image(avifImageCreateEmpty(),
                                                         avifImageDestroy);
  avifResult r = avifDecoderReadMemory(dec.get(), image.get(), bytes.data(), bytes.size());
  if (r != AVIF_RESULT_OK) throw failure("avif", avifResultToString(r));
  avifRGBImage rgb;
  avifRGBImageSetDefaults(&rgb, image.get());
  rgb.format = AVIF_RGB_FORMAT_RGB;
  rgb.depth = 8;
  avifRGBImageAllocatePixels(&rgb);
  r = avifImageYUVToRGB(image.get(), &rgb);
  Image img{int(image->width), int(image->height), 3, {}};
  if (r == AVIF_RESULT_OK)
    for (uint32_t y = 0; y < rgb.height; ++y)
      img.pixels.insert(img.pixels.end(), rgb.pixels + size_t(y) * rgb.rowBytes,
                        rgb.pixels + size_t(y) * rgb.rowBytes + size_t(rgb.width) * 3);
  avifRGBImageFreePixels(&rgb);
  if (r != AVIF_RESULT_OK) throw failure("avif", avifResultToString(r));
  return img;
}

// ---- JPEG 2000 (OpenJPEG) -------------------------------------------------------------
struct MemoryStream {
  std::vector<uint8_t>* out = nullptr;
  const std::vector<uint8_t>* in = nullptr;
  size_t pos = 0;
};

OPJ_SIZE_T mem_write(void* buf, OPJ_SIZE_T n, void* user) {
  auto* m = static_cast<MemoryStream*>(user);
  if (m->out->size() < m->pos + n) m->out->resize(m->pos + n);
  std::memcpy(m->out->data() + m->pos, buf, n);
  m->pos += n;
  return n;
}
OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
  auto* m = static_cast<MemoryStream*>(user);
  if (m->pos >= m->in->size()) return OPJ_SIZE_T(-1);
  n = std::min(n, m->in->size() - m->pos);
  std::memcpy(buf, m->in->data() + m->pos, n);
  m->pos += n;
  return n;
}
OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
  auto* m = static_cast<MemoryStream*>(user);
  const size_t size = m->out ? m->out->size() : m->in->size();
  if (n < 0 && size_t(-n) > m->pos) return -1;
  m->pos = size_t(OPJ_OFF_T(m->pos) + n);
  if (!m->out && m->pos > size) m->pos = size;
  return n;
}
OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
  auto* m = static_cast<MemoryStream*>(user);
  if (n < 0) return OPJ_FALSE;
  m->pos = size_t(n);
  return OPJ_TRUE;
}

using StreamPtr = std::unique_ptr<opj_stream_t, void (*)(opj_stream_t*)>;
using CodecPtr = std::unique_ptr<opj_codec_t, void (*)(opj_codec_t*)>;
using ImagePtr = std::unique_ptr<opj_image_t, void (*)(opj_image_t*)>;

StreamPtr memory_stream(MemoryStream& m, bool input) {
  StreamPtr s(opj_stream_create(1 << 16, input ? OPJ_TRUE : OPJ_FALSE), opj_stream_destroy);
  if (!s) throw failure("jpeg2000", "cannot create a stream");
  opj_stream_set_user_data(s.get(), &m, nullptr);
  if (input) {
    opj_stream_set_user_data_length(s.get(), m.in->size());
    opj_stream_set_read_function(s.get(), mem_read);
  } else {
    opj_stream_set_write_function(s.get(), mem_write);
  }
  opj_stream_set_skip_function(s.get(), mem_skip);
  opj_stream_set_seek_function(s.get(), mem_seek);
  return s;
}

// `quality` is the target rate in bpp: OpenJPEG takes a compression ratio to 24-bit RGB.
std::vector<uint8_t> j2k_encode(const Image& img, double bpp) {
  check_rgb(img);
  opj_image_cmptparm_t cmpt[3];
  std::memset(cmpt, 0, sizeof cmpt);
  for (auto& c : cmpt) {
    c.dx = c.dy = 1;
    c.w = OPJ_UINT32(img.width);
    c.h = OPJ_UINT32(img.height);
    c.prec = 8;
    c.sgnd = 0;
  }
  ImagePtr image(opj_image_create(3, cmpt, OPJ_CLRSPC_SRGB), opj_image_destroy);
  if (!image) throw failure("jpeg2000", "cannot create an image");
  image->x1 = OPJ_UINT32(img.width);
  image->y1 = OPJ_UINT32(img.height);
  const size_t n = size_t(img.width) * size_t(img.height);
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < n; ++i) image->comps[c].data[i] = img.pixels[i * 3 + size_t(c)];
  opj_cparameters_t p;
  opj_set_default_encoder_parameters(&p);
  p.tcp_numlayers = 1;
  p.tcp_rates[0] = float(24.0 / bpp);
  p.cp_disto_alloc = 1;
  p.irreversible = 1;
  p.tcp_mct = 1;
  // The default 6 resolutions need sides >= 32; small images get fewer.
  while (p.numresolution > 1 && (std::min(img.width, img.height) >> (p.numresolution - 1)) < 1)
    --p.numresolution;
  CodecPtr codec(opj_create_compress(OPJ_CODEC_J2K), opj_destroy_codec);
  std::vector<uint8_t> out;
  MemoryStream m{&out, nullptr, 0};
  StreamPtr stream = memory_stream(m, false);
  if (!opj_setup_encoder(codec.get(), &p, image.get()) ||
      !opj_start_compress(codec.get(), image.get(), stream.get()) ||
      !opj_encode(codec.get(), stream.get()) || !opj_end_compress(codec.get(), stream.get()))
    throw failure("jpeg2000", "encoding failed");
  stream.reset();  // flushes
  return out;
}

Image j2k_decode(const std::vector<uint8_t>& bytes) {
  CodecPtr codec(opj_create_decompress(OPJ_CODEC_J2K), opj_destroy_codec);
  opj_dparameters_t p;
  opj_set_default_decoder_parameters(&p);
  MemoryStream m{nullptr, &bytes, 0};
  StreamPtr stream = memory_stream(m, true);
  opj_image_t* raw = nullptr;
  if (!opj_setup_decoder(codec.get(), &p) ||
      !opj_read_header(stream.get(), codec.get(), &raw))
    throw failure("jpeg2000", "cannot read the codestream header");
  ImagePtr image(raw, opj_image_destroy);
  if (!opj_decode(codec.get(), stream.get(), image.get()) ||
      !opj_end_decompress(codec.get(), stream.get()))
    throw failure("jpeg2000", "decoding failed");
  if (image->numcomps != 3) throw failure("jpeg2000", "expected 3 components");
  const auto& c0 = image->comps[0];
  Image img{int(c0.w), int(c0.h), 3, std::vector<uint8_t>(size_t(c0.w) * c0.h * 3)};
  for (int c = 0; c < 3; ++c) {
    if (image->comps[c].w != c0.w || image->comps[c].h != c0.h)
      throw failure("jpeg2000", "components differ in size");
    for (size_t i = 0; i < size_t(c0.w) * c0.h; ++i)
      img.pixels[i * 3 + size_t(c)] = uint8_t(std::clamp(image->comps[c].data[i], 0, 255));
  }
  return img;
}

}  // namespace

std::vector<std::string> baseline_names() { return {"jpeg", "webp", "avif", "jpeg2000"}; }

Baseline make_baseline(const std::string& name) {
  if (name == "jpeg")
    return {"jpeg",
            "libjpeg-turbo " + std::to_string(LIBJPEG_TURBO_VERSION_NUMBER / 1000000) + "." +
                std::to_string(LIBJPEG_TURBO_VERSION_NUMBER / 1000 % 1000) + "." +
                std::to_string(LIBJPEG_TURBO_VERSION_NUMBER % 1000),
            "quality (4:2:0)",
            {5, 10, 20, 30, 50, 70, 85, 95}, jpeg_encode, jpeg_decode};
  if (name == "webp") {
    const int v = WebPGetEncoderVersion();
    return {"webp",
            "libwebp " + std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 255) + "." +
                std::to_string(v & 255),
            "quality (method 6)", {0, 5, 20, 40, 60, 80, 90, 95}, webp_encode, webp_decode};
  }
  if (name == "avif") {
    if (!avifCodecName(AVIF_CODEC_CHOICE_AOM, AVIF_CODEC_FLAG_CAN_ENCODE))
      throw std::invalid_argument("avif: this libavif was built without the libaom encoder");
    return {"avif", std::string("libavif ") + avifVersion() + " + libaom",
            "quantizer 0-63 (4:4:4, speed 6)", {58, 52, 46, 40, 34, 28, 22, 16}, avif_encode,
            avif_decode};
  }
  if (name == "jpeg2000")
    return {"jpeg2000", std::string("OpenJPEG ") + opj_version(), "target bpp (9/7, 1 layer)",
            {0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0}, j2k_encode, j2k_decode};
  throw std::invalid_argument("unknown baseline '" + name + "' (known: jpeg, webp, avif, jpeg2000)");
}

}  // namespace nlc::eval
