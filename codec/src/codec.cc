#include "nlc/codec.h"
#include "codec/src/image_tensor.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>

#include "bitstream/container.h"
#include "codec/src/accelerator.h"
#include "entropy/cdf_tables.h"
#include "entropy/rans.h"
#include "models/hyperprior.h"
#include "models/quantize.h"

#ifndef NLC_DEFAULT_MODEL
#define NLC_DEFAULT_MODEL ""
#endif

namespace nlc {
namespace {

struct Geometry {
  int zh, zw, yh, yw;
};

Geometry geometry(uint32_t width, uint32_t height) {
  const int a = MeanScaleHyperprior::kAlign;
  Geometry g;
  const int pad_h = int((height + a - 1) / a * a), pad_w = int((width + a - 1) / a * a);
  g.yh = pad_h / 16;
  g.yw = pad_w / 16;
  g.zh = pad_h / 64;
  g.zw = pad_w / 64;
  return g;
}

uint32_t quality_to_q16(double q, double max_q) {
  if (!(q >= 0.0 && q <= max_q))
    throw std::invalid_argument("quality " + std::to_string(q) + " is outside [0, " +
                                std::to_string(max_q) + "]");
  return uint32_t(std::lround(q * 65536.0));
}

}  // namespace

// The quantised CDFs the model file carries (one per z channel, one per scale index).
struct CodecTables {
  std::vector<QuantizedCdf> z, y;
};

namespace {
std::unique_ptr<MeanScaleHyperprior> load_codec_model(const std::string& path,
                                                      std::unique_ptr<CodecTables>& tables) {
  ModelFile f = load_model_file(path);
  auto m = std::make_unique<MeanScaleHyperprior>(f, Backend::kOptimized);
  if (!m->has_integer_hs())
    throw ModelError(path + ": model has no integer hyper-synthesis and CDF tables; it can "
                            "estimate rates but not code streams (re-export it with --calib)");
  tables = std::make_unique<CodecTables>();
  tables->z = load_cdf_tables(f, "z", size_t(m->N()));
  tables->y = load_cdf_tables(f, "gaussian", m->integer_hs().scale_table().size());
  return m;
}
}  // namespace

// In the body, not the initialiser list: tables_ is declared after model_.
Encoder::Encoder(const std::string& model_path) { model_ = load_codec_model(model_path, tables_); }
Encoder::~Encoder() = default;
void Encoder::set_accelerator(const AcceleratorFactory& make) {
  accel_ = make ? make(*model_) : nullptr;
}
std::string Encoder::device() const { return accel_ ? accel_->describe() : "CPU"; }
double Encoder::max_quality() const { return model_->num_qualities() - 1; }
const std::string& Encoder::model_identity() const { return model_->identity_hex(); }

namespace {

// One tile (or the whole image): analysis, integer h_s, the two entropy-coded sections.
// `a`: the accelerator that runs the heavy stages, or null for the CPU.
void encode_tile(MeanScaleHyperprior& m, Accelerator* a, const CodecTables& tables,
                 const Image& tile, double q, std::vector<bitstream::Section>& sections) {
  auto g = m.gains(q);
  bitstream::Section sz, sy;
  sz.type = bitstream::kHyperLatent;
  sy.type = bitstream::kLatent;
  if (a && a->encode_tile(tile, g.gain, tables.z, tables.y, sz.payload, sy.payload)) {
    sections.push_back(std::move(sz));
    sections.push_back(std::move(sy));
    return;
  }
  Tensor x = image_to_tensor(tile, MeanScaleHyperprior::kAlign);
  Tensor y_g = MeanScaleHyperprior::scale_channels(a ? a->g_a(x) : m.g_a(x), g.gain);
  Tensor z_hat = MeanScaleHyperprior::round(a ? a->h_a(y_g) : m.h_a(y_g));
  IntegerHyperSynthesis::Output o = a ? a->integer_hs(z_hat) : m.integer_hs().run(z_hat);

  // z: NHWC order, table = channel.
  std::vector<int32_t> zs(z_hat.numel());
  std::vector<uint16_t> zi(z_hat.numel());
  for (size_t i = 0; i < zs.size(); ++i) {
    zs[i] = quant::symbol(z_hat.data()[i]);
    zi[i] = uint16_t(i % size_t(m.N()));
  }
  // y: symbol round(y_g - mu) in float32, table = scale index.
  std::vector<int32_t> ys(y_g.numel());
  std::vector<uint16_t> yi(y_g.numel());
  for (size_t i = 0; i < ys.size(); ++i) {
    ys[i] = quant::residual_symbol(y_g.data()[i], o.mu_q[i]);
    yi[i] = o.index[i];
  }
  auto code = [a](const std::vector<int32_t>& v, const std::vector<uint16_t>& t,
                  const std::vector<QuantizedCdf>& tab) {
    return a ? a->rans_encode(v.data(), t.data(), v.size(), tab, default_lane_count(v.size()))
             : rans_encode(v.data(), t.data(), v.size(), tab, default_lane_count(v.size()));
  };
  sz.payload = code(zs, zi, tables.z);
  sy.payload = code(ys, yi, tables.y);
  sections.push_back(std::move(sz));
  sections.push_back(std::move(sy));
}

Image crop(const Image& img, int x0, int y0, int w, int h) {
  Image t{w, h, img.channels, std::vector<uint8_t>(size_t(w) * h * img.channels)};
  const size_t row = size_t(w) * img.channels;
  for (int y = 0; y < h; ++y)
    std::memcpy(&t.pixels[size_t(y) * row],
                &img.pixels[(size_t(y0 + y) * img.width + x0) * img.channels], row);
  return t;
}

}  // namespace

std::vector<uint8_t> Encoder::encode(const Image& img, double quality, EncodeStats* stats) {
  auto t0 = std::chrono::steady_clock::now();
  if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != size_t(img.width) * img.height * img.channels)
    throw ImageError("encode: empty image, unsupported channel count or wrong pixel count");
  if (uint32_t(img.width) > bitstream::kMaxDimension || uint32_t(img.height) > bitstream::kMaxDimension)
    throw ImageError("image " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                     " exceeds the format's 65535 pixels per side");
  const uint32_t q16 = quality_to_q16(quality, max_quality());
  const double q = q16 / 65536.0;

  bitstream::Header h;
  h.model_id = model_->identity();
  h.width = uint32_t(img.width);
  h.height = uint32_t(img.height);
  h.colour = img.channels == 1 ? bitstream::ColourFormat::kGray : bitstream::ColourFormat::kRgb;
  h.quality_q16 = q16;
  const bool tiled = uint64_t(img.width) * uint64_t(img.height) > kMaxUntiledPixels;
  h.tile_size = tiled ? kTileSize : 0;

  std::vector<bitstream::Section> sections;
  if (!tiled) {
    encode_tile(*model_, accel_.get(), *tables_, img, q, sections);
  } else {
    for (int y0 = 0; y0 < img.height; y0 += int(kTileSize))
      for (int x0 = 0; x0 < img.width; x0 += int(kTileSize))
        encode_tile(*model_, accel_.get(), *tables_,
                    crop(img, x0, y0, std::min(int(kTileSize), img.width - x0),
                         std::min(int(kTileSize), img.height - y0)),
                    q, sections);
  }
  std::vector<uint8_t> out = bitstream::write(h, sections);
  if (stats) {
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats->bytes = out.size();
    stats->bpp = 8.0 * double(out.size()) / (double(img.width) * img.height);
  }
  return out;
}

std::vector<std::vector<uint8_t>> Encoder::encode_batch(const std::vector<Image>& images,
                                                        double quality) {
  std::vector<std::vector<uint8_t>> out;
  out.reserve(images.size());
  for (const Image& img : images) out.push_back(encode(img, quality));
  return out;
}

Decoder::Decoder(const std::string& model_path) { model_ = load_codec_model(model_path, tables_); }
Decoder::~Decoder() = default;
void Decoder::set_accelerator(const AcceleratorFactory& make) {
  accel_ = make ? make(*model_) : nullptr;
}
std::string Decoder::device() const { return accel_ ? accel_->describe() : "CPU"; }

const std::string& Decoder::model_identity() const { return model_->identity_hex(); }

namespace {

// One tile of w x h pixels from its two sections, stage by stage (on the CPU, or with the
// accelerator's stages).
Image decode_tile_stages(MeanScaleHyperprior& m, Accelerator* a, const CodecTables& tables,
                         const bitstream::SectionView& sz, const bitstream::SectionView& sy,
                         const MeanScaleHyperprior::Gains& gains, int w, int h, int channels) {
  Geometry g = geometry(uint32_t(w), uint32_t(h));
  const size_t nz = size_t(g.zh) * g.zw * m.N();
  std::vector<uint16_t> zi(nz);
  for (size_t i = 0; i < nz; ++i) zi[i] = uint16_t(i % size_t(m.N()));
  std::vector<int32_t> zs(nz);
  if (a)
    a->rans_decode(sz.data, sz.size, zi.data(), nz, tables.z, zs.data());
  else
    rans_decode(sz.data, sz.size, zi.data(), nz, tables.z, zs.data());
  Tensor z_hat = Tensor::uninitialized(Shape{1, g.zh, g.zw, m.N()});
  for (size_t i = 0; i < nz; ++i) z_hat.data()[i] = float(zs[i]);

  IntegerHyperSynthesis::Output o = a ? a->integer_hs(z_hat) : m.integer_hs().run(z_hat);
  const size_t ny = size_t(g.yh) * g.yw * m.M();
  if (o.mu_q.size() != ny) throw std::logic_error("integer h_s output size mismatch");
  std::vector<uint16_t> yi(o.index.begin(), o.index.end());
  std::vector<int32_t> ys(ny);
  if (a)
    a->rans_decode(sy.data, sy.size, yi.data(), ny, tables.y, ys.data());
  else
    rans_decode(sy.data, sy.size, yi.data(), ny, tables.y, ys.data());

  Tensor y_hat = Tensor::uninitialized(Shape{1, g.yh, g.yw, m.M()});
  const size_t M = size_t(m.M());
  for (size_t i = 0; i < ny; ++i) {
    y_hat.data()[i] = quant::dequantize(ys[i], o.mu_q[i], gains.inv_gain[i % M]);
  }
  return tensor_to_image(a ? a->g_s(y_hat) : m.g_s(y_hat), w, h, channels);
}

// A stream checked against this decoder, with its output image and its tiles.
struct Prepared {
  bitstream::Parsed p;
  MeanScaleHyperprior::Gains gains;
  Image out;
  struct Tile {
    int x0, y0, w, h;
  };
  std::vector<Tile> tiles;  // tile k's sections are p.sections[2k], [2k + 1]
};

Prepared prepare(MeanScaleHyperprior& m, const uint8_t* data, size_t size) {
  Prepared r;
  bitstream::Parsed& p = r.p;
  p = bitstream::parse(data, size);
  if (p.header.model_id != m.identity())
    throw StreamError("stream was encoded with model sha256:" + to_hex(p.header.model_id).substr(0, 16) +
                      "..., this decoder has model sha256:" + m.identity_hex().substr(0, 16) +
                      "... (wrong model)");
  const double q = p.header.quality_q16 / 65536.0;
  if (q > m.num_qualities() - 1) throw StreamError("stream quality is outside the model's range");
  const uint32_t W = p.header.width, H = p.header.height;
  const uint32_t T = p.header.tile_size;
  if (uint64_t(W) * H > kMaxDecodedPixels)
    throw StreamError("stream image " + std::to_string(W) + "x" + std::to_string(H) +
                      " is larger than this decoder reconstructs (" +
                      std::to_string(kMaxDecodedPixels) + " pixels)");
  if (T == 0 && uint64_t(W) * H > kMaxUntiledPixels)
    throw StreamError("untiled stream larger than " + std::to_string(kMaxUntiledPixels) +
                      " pixels (this decoder needs such images tiled)");
  if (T != 0 && (T > 4096 || uint64_t(T) * T > kMaxUntiledPixels))
    throw StreamError("stream tile size " + std::to_string(T) + " is larger than this decoder's limit");
  const uint32_t tiles_x = T ? (W + T - 1) / T : 1, tiles_y = T ? (H + T - 1) / T : 1;
  const size_t tiles = size_t(tiles_x) * tiles_y;
  if (p.sections.size() != 2 * tiles)
    throw StreamError("stream has " + std::to_string(p.sections.size()) + " coded sections, " +
                      "its geometry needs " + std::to_string(2 * tiles));
  for (size_t i = 0; i < p.sections.size(); ++i)
    if (p.sections[i].type != (i % 2 ? bitstream::kLatent : bitstream::kHyperLatent))
      throw StreamError("stream sections are not HYPER_LATENT, LATENT pairs in order");
  r.gains = m.gains(q);
  r.out = Image{int(W), int(H), p.header.colour == bitstream::ColourFormat::kGray ? 1 : 3, {}};
  r.out.pixels.resize(size_t(W) * H * size_t(r.out.channels));
  for (uint32_t ty = 0; ty < tiles_y; ++ty)
    for (uint32_t tx = 0; tx < tiles_x; ++tx) {
      const uint32_t x0 = T ? tx * T : 0, y0 = T ? ty * T : 0;
      r.tiles.push_back({int(x0), int(y0), int(T ? std::min(T, W - x0) : W),
                         int(T ? std::min(T, H - y0) : H)});
    }
  return r;
}

void place(const Image& t, Image& out, int x0, int y0) {
  const size_t row = size_t(t.width) * out.channels;
  for (int y = 0; y < t.height; ++y)
    std::memcpy(&out.pixels[(size_t(y0 + y) * out.width + x0) * out.channels],
                &t.pixels[size_t(y) * row], row);
}

// Decodes the prepared streams' tiles into their images: stage by stage (CPU, or the
// accelerator's stages), or all tiles through the accelerator's decode_tiles in batches of
// up to kBatchPixels. A failing tile throws StreamError, the first in stream and tile order,
// its message prefixed by prefix(stream index).
void decode_prepared(MeanScaleHyperprior& m, Accelerator* a, const CodecTables& tables,
                     std::vector<Prepared>& streams,
                     const std::function<std::string(size_t)>& prefix) {
  struct Ref {
    size_t stream, tile;
  };
  std::vector<Ref> order;
  for (size_t i = 0; i < streams.size(); ++i)
    for (size_t k = 0; k < streams[i].tiles.size(); ++k) order.push_back({i, k});
  // Without an accelerator, one tile at a time (the memory of one tile at most).
  const uint64_t kBatchPixels = a ? uint64_t(1) << 25 : 1;
  std::vector<Image> tiles;
  std::vector<Accelerator::TileDecodeJob> jobs;
  std::vector<std::string> errors;
  for (size_t first = 0; first < order.size();) {
    size_t last = first;
    uint64_t pixels = 0;
    while (last < order.size()) {
      const auto& t = streams[order[last].stream].tiles[order[last].tile];
      if (last > first && pixels + uint64_t(t.w) * t.h > kBatchPixels) break;
      pixels += uint64_t(t.w) * t.h;
      ++last;
    }
    // With an accelerator: all tiles of the batch to it at once (their images sized for it).
    tiles.assign(last - first, Image{});
    jobs.clear();
    for (size_t r = first; a && r < last; ++r) {
      Prepared& s = streams[order[r].stream];
      const auto& t = s.tiles[order[r].tile];
      Image& tile = tiles[r - first];
      tile = Image{t.w, t.h, s.out.channels, std::vector<uint8_t>(size_t(t.w) * t.h * s.out.channels)};
      const auto& sz = s.p.sections[2 * order[r].tile];
      const auto& sy = s.p.sections[2 * order[r].tile + 1];
      jobs.push_back({sz.data, sz.size, sy.data, sy.size, &s.gains.inv_gain, &tile});
    }
    errors.assign(jobs.size(), "");
    const bool batched = a && a->decode_tiles(jobs, tables.z, tables.y, errors);
    for (size_t r = first; r < last; ++r) {
      Prepared& s = streams[order[r].stream];
      const auto& t = s.tiles[order[r].tile];
      Image& tile = tiles[r - first];
      try {
        if (!batched) {
          tile = decode_tile_stages(m, a, tables, s.p.sections[2 * order[r].tile],
                                    s.p.sections[2 * order[r].tile + 1], s.gains, t.w, t.h,
                                    s.out.channels);
        } else if (!errors[r - first].empty()) {
          throw StreamError(errors[r - first]);
        }
      } catch (const StreamError& e) {
        throw StreamError(prefix(order[r].stream) + e.what());
      }
      place(tile, s.out, t.x0, t.y0);
    }
    first = last;
  }
}

}  // namespace

Image Decoder::decode(const uint8_t* data, size_t size) {
  std::vector<Prepared> one;
  one.push_back(prepare(*model_, data, size));
  decode_prepared(*model_, accel_.get(), *tables_, one, [](size_t) { return std::string(); });
  return std::move(one[0].out);
}

std::vector<Image> Decoder::decode_batch(const std::vector<std::vector<uint8_t>>& streams) {
  auto prefix = [](size_t i) { return "stream " + std::to_string(i) + ": "; };
  std::vector<Prepared> prepared;
  prepared.reserve(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    try {
      prepared.push_back(prepare(*model_, streams[i].data(), streams[i].size()));
    } catch (const StreamError& e) {
      throw StreamError(prefix(i) + e.what());
    }
  }
  decode_prepared(*model_, accel_.get(), *tables_, prepared, prefix);
  std::vector<Image> out;
  out.reserve(prepared.size());
  for (auto& p : prepared) out.push_back(std::move(p.out));
  return out;
}

std::string default_model_path() {
  if (const char* env = std::getenv("NLC_MODEL"); env && *env) return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "nlc" / "default.nlcm";
    if (fs::exists(installed)) return installed.string();
  }
#ifdef NLC_INSTALLED_MODEL
  if (fs::exists(NLC_INSTALLED_MODEL)) return NLC_INSTALLED_MODEL;
#endif
  if (fs::exists(NLC_DEFAULT_MODEL)) return NLC_DEFAULT_MODEL;
  throw ModelError("no model given and the bundled model was not found; use --model PATH");
}

}  // namespace nlc
