// Encoder and Decoder: images, tiles, the container and the quality. What a tile's
// sections hold is the architecture's business (models/architecture.h); this file never
// looks inside a latent.
#include "nlc/codec.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>

#include "bitstream/container.h"
#include "codec/src/codec_impl.h"
#include "codec/src/device.h"
#include "kernels/cpu/ops.h"
#include "models/architecture.h"
#include "models/classifier/classifier.h"
#include "models/inr/inr.h"

#ifndef NLC_DEFAULT_MODEL
#define NLC_DEFAULT_MODEL ""
#endif

namespace nlc {
void apply_threads();
struct CodecAccess {
  static Architecture& get(Encoder& e) { return *e.impl_->model; }
  static Architecture& get(Decoder& d) { return *d.impl_->model; }
};
namespace internal {
Architecture& architecture(Encoder& e) { return CodecAccess::get(e); }
Architecture& architecture(Decoder& d) { return CodecAccess::get(d); }
}  // namespace internal

namespace {

Image crop(const Image& img, int x0, int y0, int w, int h) {
  Image t{w, h, img.channels, std::vector<uint8_t>(size_t(w) * h * img.channels)};
  const size_t row = size_t(w) * img.channels;
  for (int y = 0; y < h; ++y)
    std::memcpy(&t.pixels[size_t(y) * row],
                &img.pixels[(size_t(y0 + y) * img.width + x0) * img.channels], row);
  return t;
}

void place(const Image& t, Image& out, int x0, int y0) {
  const size_t row = size_t(t.width) * out.channels;
  for (int y = 0; y < t.height; ++y)
    std::memcpy(&out.pixels[(size_t(y0 + y) * out.width + x0) * out.channels],
                &t.pixels[size_t(y) * row], row);
}

// Assembles an image from its tiles as they decode in raster order. Tiles that meet edge to
// edge are copied. Overlapping tiles (docs/bitstream.md, "Tiles") are blended with linear
// ramps across each overlap of O pixels: at offset i into it the later tile weighs 2i + 1
// and the earlier 2O - (2i + 1), in both directions, in integers, rounded once, so that
// every decoder assembles the same pixels from the same tiles. A band of tile rows is summed
// horizontally (weights x pixel, scaled by 2O), and written out once the next band has added
// its share of the rows they overlap; memory is one band, not the image.
class Compositor {
 public:
  Compositor(Image& out, int overlap) : out_(out), O_(overlap) {}

  void add(const Image& t, int x0, int y0) {
    if (O_ == 0) {
      const size_t need = (size_t(y0) + size_t(t.height)) * size_t(out_.width) * size_t(out_.channels);
      if (out_.pixels.size() < need) out_.pixels.resize(need);
      place(t, out_, x0, y0);
      return;
    }
    if (band_.empty() || y0 != band_y0_) start_band(y0, t.height);
    const int C = out_.channels, W = out_.width;
    for (int y = 0; y < t.height; ++y) {
      uint16_t* row = &band_[(size_t(y) * W + x0) * C];
      const uint8_t* p = &t.pixels[size_t(y) * t.width * C];
      for (int x = 0; x < t.width; ++x) {
        const int w = weight(x, x0, t.width, W);
        for (int c = 0; c < C; ++c) row[size_t(x) * C + c] = uint16_t(row[size_t(x) * C + c] + w * p[size_t(x) * C + c]);
      }
    }
  }
  // Writes what remains (the last band); call once after the last tile.
  void finish() {
    if (!band_.empty()) flush_band(true);
  }

 private:
  // A tile's weight at column (or row) x of its own span [0, n) starting at p0 in an image of
  // side `side`: ramps up over its first O pixels unless it starts the image, and down over
  // its last O unless it ends the image (where the next tile starts).
  int weight(int x, int p0, int n, int side) const {
    if (p0 > 0 && x < O_) return 2 * x + 1;
    if (p0 + n < side && x >= n - O_) return 2 * O_ - (2 * (x - (n - O_)) + 1);
    return 2 * O_;
  }
  void start_band(int y0, int h) {
    if (!band_.empty()) flush_band(false);
    band_y0_ = y0;
    band_h_ = h;
    band_.assign(size_t(h) * out_.width * out_.channels, 0);
  }
  // Rows of the band: the first O (if not the first band) blend with the carried rows of the
  // band above; the last rows past the next band's start are carried (unless `last`).
  void flush_band(bool last) {
    const int C = out_.channels, W = out_.width, two_o = 2 * O_;
    const size_t row = size_t(W) * C;
    const int keep_from = last ? band_h_ : band_h_ - O_;
    const size_t need = (size_t(band_y0_) + size_t(keep_from)) * row;
    if (out_.pixels.size() < need) out_.pixels.resize(need);
    for (int y = 0; y < keep_from; ++y) {
      uint8_t* o = &out_.pixels[(size_t(band_y0_) + y) * row];
      const uint16_t* b = &band_[size_t(y) * row];
      if (band_y0_ > 0 && y < O_) {
        const uint32_t wb = uint32_t(2 * y + 1), wa = uint32_t(two_o) - wb, den = uint32_t(two_o * two_o);
        const uint16_t* a = &carry_[size_t(y) * row];
        for (size_t i = 0; i < row; ++i) o[i] = uint8_t((a[i] * wa + b[i] * wb + den / 2) / den);
      } else {
        for (size_t i = 0; i < row; ++i) o[i] = uint8_t((b[i] + uint32_t(O_)) / uint32_t(two_o));
      }
    }
    if (!last) carry_.assign(band_.begin() + ptrdiff_t(keep_from * row), band_.end());
    band_.clear();
  }

  Image& out_;
  const int O_;
  int band_y0_ = 0, band_h_ = 0;
  std::vector<uint16_t> band_, carry_;
};

// A stream checked against a decoder's model, with its tiles.
struct Prepared {
  bitstream::Parsed p;
  double q = 0;
  int channels = 3;
  struct Tile {
    int x0, y0, w, h;  // what the tile codes: its w x h pixels at x0, y0
    int nw, nh;        // its own part: w, h less what overlaps the next tiles
  };
  std::vector<Tile> tiles;  // tile k's sections are p.sections[k * per_tile ...]
};

Prepared prepare(const Architecture& m, const uint8_t* data, size_t size, const DecodeLimits& limits) {
  Prepared r;
  bitstream::Parsed& p = r.p;
  const std::vector<uint8_t> known = m.recognised_sections();
  p = bitstream::parse(data, size, &known);
  if (p.header.model_id != m.identity())
    throw StreamError("stream was encoded with model sha256:" + to_hex(p.header.model_id).substr(0, 16) +
                      "..., this decoder has model sha256:" + m.identity_hex().substr(0, 16) +
                      "... (wrong model" + m.mismatch_note(p) + ")");
  r.q = bitstream::q16_to_quality(p.header.quality_q16);
  if (r.q > m.max_quality()) throw StreamError("stream quality is outside the model's range");
  const uint32_t W = p.header.width, H = p.header.height;
  const uint32_t T = p.header.tile_size, O = p.header.tile_overlap;
  if (uint64_t(W) * H > kMaxDecodedPixels)
    throw LimitError("stream image " + std::to_string(W) + "x" + std::to_string(H) +
                     " is larger than this decoder reconstructs (" + std::to_string(kMaxDecodedPixels) +
                     " pixels)");
  if (uint64_t(W) * H > limits.max_pixels)
    throw LimitError("stream image " + std::to_string(W) + "x" + std::to_string(H) + " is larger than the limit of " +
                     std::to_string(limits.max_pixels) + " pixels");
  if (T == 0 && uint64_t(W) * H > kMaxUntiledPixels)
    throw StreamError("untiled stream larger than " + std::to_string(kMaxUntiledPixels) +
                      " pixels (this decoder needs such images tiled)");
  if (T != 0 && (T > 4096 || uint64_t(T) * T > kMaxUntiledPixels))
    throw StreamError("stream tile size " + std::to_string(T) + " is larger than this decoder's limit");
  if (T % uint32_t(m.align()))
    throw StreamError("stream tile size " + std::to_string(T) + " is not a multiple of " +
                      std::to_string(m.align()));
  // Tiles of T x T start every S = T - O pixels (O: the overlap, 0 unless flagged); as many
  // as cover the side: ceil((side - O) / S), at least one.
  const uint32_t S = T - O;
  auto count = [&](uint32_t side) { return T == 0 || side <= T ? 1u : (side - O + S - 1) / S; };
  const uint32_t tiles_x = count(W), tiles_y = count(H);
  const size_t tiles = size_t(tiles_x) * tiles_y;
  const auto& kinds = m.tile_sections();
  if (p.sections.size() != kinds.size() * tiles)
    throw StreamError("stream has " + std::to_string(p.sections.size()) + " coded sections, " +
                      "its geometry needs " + std::to_string(kinds.size() * tiles));
  for (size_t i = 0; i < p.sections.size(); ++i)
    if (p.sections[i].type != kinds[i % kinds.size()].type) {
      std::string names;
      for (const auto& k : kinds) names += std::string(names.empty() ? "" : ", ") + k.name;
      throw StreamError("stream sections are not " + names + " in order for each tile");
    }
  r.channels = p.header.colour == bitstream::ColourFormat::kGray ? 1 : 3;
  for (uint32_t ty = 0; ty < tiles_y; ++ty)
    for (uint32_t tx = 0; tx < tiles_x; ++tx) {
      const uint32_t x0 = tx * S, y0 = ty * S;
      const uint32_t w = T ? std::min(T, W - x0) : W, h = T ? std::min(T, H - y0) : H;
      r.tiles.push_back({int(x0), int(y0), int(w), int(h), int(tx + 1 < tiles_x ? S : w),
                         int(ty + 1 < tiles_y ? S : h)});
    }
  return r;
}

// The time limit of one decode call (DecodeLimits::max_seconds), checked between tiles.
class Deadline {
 public:
  explicit Deadline(double seconds) : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  void check(size_t done, size_t total, const char* what = "tiles") const {
    if (seconds_ <= 0) return;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (t > seconds_)
      throw LimitError("decoding took longer than the limit of " + fmt_seconds(seconds_) + " s (stopped after " +
                       std::to_string(done) + " of " + std::to_string(total) + " " + what + ")");
  }

 private:
  static std::string fmt_seconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", s);
    return b;
  }
  double seconds_;
  std::chrono::steady_clock::time_point start_;
};

// Decodes the prepared streams' tiles into `out` (one image each, sized here): one tile at a
// time on a backend that does not batch (bounded memory), else as many tiles per call as
// the backend takes. A failing tile throws StreamError, the first in stream and tile order,
// its message prefixed by prefix(stream index).
void decode_prepared(Architecture& m, std::vector<Prepared>& streams, std::vector<Image>& out,
                     const std::function<std::string(size_t)>& prefix, const Deadline& deadline) {
  // Output images grow as their tiles decode (raster order), so that a short stream that
  // declares a huge image costs memory only for what its data proves.
  out.clear();
  for (const Prepared& s : streams) out.push_back(Image{int(s.p.header.width), int(s.p.header.height), s.channels, {}});
  std::vector<Compositor> assemble;
  assemble.reserve(streams.size());
  for (size_t i = 0; i < streams.size(); ++i)
    assemble.emplace_back(out[i], int(streams[i].p.header.tile_overlap));
  struct Ref {
    size_t stream, tile;
  };
  std::vector<Ref> order;
  for (size_t i = 0; i < streams.size(); ++i)
    for (size_t k = 0; k < streams[i].tiles.size(); ++k) order.push_back({i, k});
  const uint64_t batch = std::max<uint64_t>(m.backend().batch_pixels(), 1);
  const size_t per_tile = m.tile_sections().size();
  std::vector<Image> tiles;
  std::vector<Architecture::TileJob> jobs;
  for (size_t first = 0; first < order.size();) {
    size_t last = first;
    uint64_t pixels = 0;
    while (last < order.size()) {
      const auto& t = streams[order[last].stream].tiles[order[last].tile];
      if (last > first && pixels + uint64_t(t.w) * t.h > batch) break;
      pixels += uint64_t(t.w) * t.h;
      ++last;
    }
    tiles.assign(last - first, Image{});
    jobs.clear();
    for (size_t r = first; r < last; ++r) {
      const Prepared& s = streams[order[r].stream];
      const auto& t = s.tiles[order[r].tile];
      tiles[r - first] = Image{t.w, t.h, s.channels, {}};
      jobs.push_back({&s.p.sections[order[r].tile * per_tile], s.q, &tiles[r - first]});
    }
    const std::vector<std::string> errors = m.decode_tiles(jobs);
    for (size_t r = first; r < last; ++r) {
      if (!errors[r - first].empty()) throw StreamError(prefix(order[r].stream) + errors[r - first]);
      const auto& t = streams[order[r].stream].tiles[order[r].tile];
      assemble[order[r].stream].add(tiles[r - first], t.x0, t.y0);
      if (order[r].tile + 1 == streams[order[r].stream].tiles.size()) assemble[order[r].stream].finish();
    }
    first = last;
    if (first < order.size()) deadline.check(first, order.size());
  }
}

std::unique_ptr<Architecture> load_for_coding(const std::string& path) {
  return load_architecture(path, Kernels::kOptimized);
}

}  // namespace

// ---- Encoder ----
Encoder::Encoder(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  impl_->model = load_for_coding(model_path);
}
Encoder::Encoder() : impl_(std::make_unique<Impl>()) {}

Encoder Encoder::without_model(const std::string& codec, const FitOptions& fit) {
  auto a = model_free_architecture(codec);
  if (!a) throw std::invalid_argument("no codec '" + codec + "' that needs no model (known: inr)");
  if (auto* inr = dynamic_cast<InrCodec*>(a.get())) {
    inr::FitOptions o;
    static_cast<FitOptions&>(o) = fit;
    inr->set_fit(o);
  }
  Encoder e;
  e.impl_->model = std::move(a);
  return e;
}
Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;
std::string Encoder::set_device(const std::string& device, const DeviceOptions& options) {
  return select_device(*impl_->model, device, options);
}
std::string Encoder::device() const { return impl_->model->backend().describe(); }
double Encoder::max_quality() const { return impl_->model->max_quality(); }
const std::string& Encoder::model_identity() const { return impl_->model->identity_hex(); }

std::vector<uint8_t> Encoder::encode(const Image& img, double quality, EncodeStats* stats) {
  apply_threads();
  Architecture& m = *impl_->model;
  auto t0 = std::chrono::steady_clock::now();
  if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != size_t(img.width) * img.height * img.channels)
    throw ImageError("encode: empty image, unsupported channel count or wrong pixel count");
  if (uint32_t(img.width) > bitstream::kMaxDimension || uint32_t(img.height) > bitstream::kMaxDimension)
    throw ImageError("image " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                     " exceeds the format's 65535 pixels per side");
  const uint32_t q16 = bitstream::quality_to_q16(quality, m.max_quality());
  const double q = bitstream::q16_to_quality(q16);

  bitstream::Header h;
  h.minor = uint8_t(m.stream_minor());
  h.model_id = m.identity();
  h.width = uint32_t(img.width);
  h.height = uint32_t(img.height);
  h.colour = img.channels == 1 ? bitstream::ColourFormat::kGray : bitstream::ColourFormat::kRgb;
  h.quality_q16 = q16;
  const uint32_t T = impl_->tile_size ? impl_->tile_size : kTileSize;
  const bool tiled = impl_->tile_size ? uint32_t(img.width) > T || uint32_t(img.height) > T
                                      : uint64_t(img.width) * uint64_t(img.height) > kMaxUntiledPixels;
  h.tile_size = tiled ? T : 0;
  h.tile_overlap = tiled ? (impl_->tile_size ? impl_->tile_overlap : kTileOverlap) : 0;
  if (h.tile_overlap) h.minor = std::max<uint8_t>(h.minor, 2);

  std::vector<bitstream::Section> sections;
  if (!tiled) {
    m.encode_tile(img, q, sections);
  } else {
    // Tiles of T start every T - O pixels: each overlaps the next by O, where the decoder
    // blends the two (no seams at low rates).
    const int S = int(h.tile_size - h.tile_overlap), t = int(h.tile_size);
    auto starts = [&](int side) {
      std::vector<int> v{0};
      while (v.back() + t < side) v.push_back(v.back() + S);
      return v;
    };
    for (int y0 : starts(img.height))
      for (int x0 : starts(img.width))
        m.encode_tile(crop(img, x0, y0, std::min(t, img.width - x0), std::min(t, img.height - y0)), q, sections);
  }
  std::vector<uint8_t> out = bitstream::write(h, sections);
  if (stats) {
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats->bytes = out.size();
    stats->bpp = 8.0 * double(out.size()) / (double(img.width) * img.height);
  }
  return out;
}

void Encoder::set_tiling(uint32_t tile_size, uint32_t overlap) {
  if (tile_size == 0 && overlap == 0) {
    impl_->tile_size = impl_->tile_overlap = 0;
    return;
  }
  if (tile_size < 64 || tile_size > 2048 || tile_size % 64 || tile_size % uint32_t(impl_->model->align()))
    throw std::invalid_argument("tile size " + std::to_string(tile_size) + " must be a multiple of 64 from 64 to 2048");
  if (overlap % 16 || overlap > bitstream::kMaxTileOverlap || 2 * overlap > tile_size)
    throw std::invalid_argument("tile overlap " + std::to_string(overlap) +
                                " must be 0 or a multiple of 16 up to min(128, half the tile size)");
  impl_->tile_size = tile_size;
  impl_->tile_overlap = overlap;
}

std::vector<std::vector<uint8_t>> Encoder::encode_batch(const std::vector<Image>& images,
                                                        double quality) {
  std::vector<std::vector<uint8_t>> out;
  out.reserve(images.size());
  for (const Image& img : images) out.push_back(encode(img, quality));
  return out;
}

// ---- Decoder ----
Decoder::Decoder(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  impl_->model = load_for_coding(model_path);
}
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;
std::string Decoder::set_device(const std::string& device, const DeviceOptions& options) {
  const std::string why = select_device(*impl_->model, device, options);
  impl_->device = device;
  impl_->device_options = options;
  impl_->model_free.reset();  // made again, on this device, when a stream needs it
  impl_->sibling.reset();
  return why;
}

Architecture& Decoder::Impl::for_stream(const uint8_t* data, size_t size) {
  // Only picks which architecture validates the stream (prepare() parses and checks all of
  // it, CRCs included), so the identity is read where the header keeps it, unverified.
  last = model.get();
  std::array<uint8_t, 32> id{};
  if (size < bitstream::kModelIdOffset + 32) return *model;
  std::memcpy(id.data(), data + bitstream::kModelIdOffset, 32);
  if (id == model->identity()) return *model;
  if (model_free && id == model_free->identity()) return *(last = model_free.get());
  if (auto a = model_free_architecture(id)) {
    select_device(*a, device == "cuda" ? "auto" : device, device_options);
    model_free = std::move(a);
    return *(last = model_free.get());
  }
  // The bundled models know each other: the default model and its CLC twin share their
  // transforms, so a decoder of one decodes the other's streams (identity from the file's
  // header, loaded only when a stream names it).
  if (sibling && id == sibling->identity()) return *(last = sibling.get());
  for (auto path_of : {default_model_path, default_clc_model_path}) {
    std::string path;
    try {
      path = path_of();
    } catch (const ModelError&) {
      continue;
    }
    const std::array<uint8_t, 32> fid = model_file_identity(path);
    if (fid == std::array<uint8_t, 32>{} || fid != id) continue;
    sibling = load_architecture(path);
    select_device(*sibling, device == "cuda" ? "auto" : device, device_options);
    return *(last = sibling.get());
  }
  return *model;  // prepare() names the mismatch
}

std::vector<std::pair<std::string, double>> Decoder::last_profile() const {
  return impl_->last ? impl_->last->last_decode_profile() : std::vector<std::pair<std::string, double>>{};
}
std::string Decoder::device() const { return impl_->model->backend().describe(); }
const std::string& Decoder::model_identity() const { return impl_->model->identity_hex(); }

void Decoder::set_limits(const DecodeLimits& limits) {
  impl_->limits = limits;
  impl_->limits.max_pixels = std::min(limits.max_pixels, kMaxDecodedPixels);
}
const DecodeLimits& Decoder::limits() const { return impl_->limits; }

namespace {
// A stream's error with "stream i: " before it, of the same kind (a LimitError stays one).
[[noreturn]] void rethrow_with_prefix(const StreamError& e, const std::string& prefix) {
  if (dynamic_cast<const LimitError*>(&e)) throw LimitError(prefix + e.what());
  throw StreamError(prefix + e.what());
}

Image decode_one(Decoder::Impl& d, const uint8_t* data, size_t size, const Deadline& deadline) {
  Architecture& m = d.for_stream(data, size);
  std::vector<Prepared> one;
  one.push_back(prepare(m, data, size, d.limits));
  std::vector<Image> out;
  decode_prepared(m, one, out, [](size_t) { return std::string(); }, deadline);
  return std::move(out[0]);
}
}  // namespace

Image Decoder::decode(const uint8_t* data, size_t size) {
  apply_threads();
  return decode_one(*impl_, data, size, Deadline(impl_->limits.max_seconds));
}

std::vector<Image> Decoder::decode_batch(const std::vector<std::vector<uint8_t>>& streams) {
  apply_threads();
  auto prefix = [](size_t i) { return "stream " + std::to_string(i) + ": "; };
  // Streams of a model-free codec: one by one (each has its own network).
  bool mixed = false;
  for (size_t i = 0; i < streams.size() && !mixed; ++i) {
    try {
      mixed = &impl_->for_stream(streams[i].data(), streams[i].size()) != impl_->model.get();
    } catch (const StreamError& e) {
      rethrow_with_prefix(e, prefix(i));
    }
  }
  const Deadline deadline(impl_->limits.max_seconds);
  if (mixed) {
    std::vector<Image> out;
    for (size_t i = 0; i < streams.size(); ++i) {
      try {
        if (i > 0) deadline.check(i, streams.size(), "streams");
        out.push_back(decode_one(*impl_, streams[i].data(), streams[i].size(), deadline));
      } catch (const StreamError& e) {
        rethrow_with_prefix(e, prefix(i));
      }
    }
    return out;
  }
  std::vector<Prepared> prepared;
  prepared.reserve(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    try {
      prepared.push_back(prepare(*impl_->model, streams[i].data(), streams[i].size(), impl_->limits));
    } catch (const StreamError& e) {
      rethrow_with_prefix(e, prefix(i));
    }
  }
  std::vector<Image> out;
  decode_prepared(*impl_->model, prepared, out, prefix, deadline);
  return out;
}

DecodedLatent Decoder::decode_latent(const uint8_t* data, size_t size) {
  apply_threads();
  const Deadline deadline(impl_->limits.max_seconds);
  Architecture& m = impl_->for_stream(data, size);
  const Prepared s = prepare(m, data, size, impl_->limits);
  const int stride = m.latent_stride(), a = m.align();
  auto padded = [a](uint32_t v) { return int((v + uint32_t(a) - 1) / uint32_t(a) * uint32_t(a)); };
  DecodedLatent r;
  r.quality = s.q;
  r.stride = stride;
  // Element (i, j) of the image's latent sits at pixel (stride i, stride j); it ends where the
  // last tile's (padded) latent ends.
  r.height = (s.tiles.back().y0 + padded(uint32_t(s.tiles.back().h))) / stride;
  r.width = (s.tiles.back().x0 + padded(uint32_t(s.tiles.back().w))) / stride;
  const size_t per_tile = m.tile_sections().size();
  for (size_t k = 0; k < s.tiles.size(); ++k) {
    if (k > 0) deadline.check(k, s.tiles.size());
    const auto& t = s.tiles[k];
    // Tiles start at multiples of the tile size, itself a multiple of align (prepare), so
    // each tile's latent lands on whole latent elements. Of overlapping tiles, each gives
    // the latent of its own part (the overlap's latent is its next tiles').
    Latent l = m.decode_latent(&s.p.sections[k * per_tile], s.q, t.w, t.h);
    if (k == 0) r.channels = l.channels;
    const int ly = t.y0 / stride, lx = t.x0 / stride;
    const int lh = std::min(l.height, padded(uint32_t(t.nh)) / stride), lw = std::min(l.width, padded(uint32_t(t.nw)) / stride);
    if (l.channels != r.channels || ly + lh > r.height || lx + lw > r.width)
      throw std::logic_error("tile latent does not fit the image's latent");
    // Grows with the tiles decoded (raster order), as decode()'s images do.
    const size_t need = size_t(ly + lh) * size_t(r.width) * size_t(r.channels);
    if (r.data.size() < need) r.data.resize(need, 0.f);
    const size_t row = size_t(lw) * size_t(l.channels), lrow = size_t(l.width) * size_t(l.channels);
    for (int y = 0; y < lh; ++y)
      std::memcpy(&r.data[(size_t(ly + y) * r.width + size_t(lx)) * size_t(r.channels)],
                  &l.data[size_t(y) * lrow], row * sizeof(float));
  }
  return r;
}

// ---- without a codec ----
std::string bundled_file(const char* env_var, const char* share_name, const char* installed, const char* source,
                         const char* missing) {
  if (const char* env = std::getenv(env_var); env && *env) return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (!ec) {  // a relocated install: <prefix>/bin/nlc and <prefix>/share/nlc/
    const fs::path beside = exe.parent_path().parent_path() / "share" / "nlc" / share_name;
    if (fs::exists(beside)) return beside.string();
  }
  if (*installed && fs::exists(installed)) return installed;
  if (*source && fs::exists(source)) return source;
  throw ModelError(missing);
}

#ifndef NLC_INSTALLED_MODEL
#define NLC_INSTALLED_MODEL ""
#endif
std::string default_model_path() {
  return bundled_file("NLC_MODEL", "default.nlcm", NLC_INSTALLED_MODEL, NLC_DEFAULT_MODEL,
                      "no model given and the bundled model was not found; use --model PATH");
}

#ifndef NLC_INSTALLED_CLC_MODEL
#define NLC_INSTALLED_CLC_MODEL ""
#endif
std::string default_clc_model_path() {
  return bundled_file("NLC_CLC_MODEL", "clc.nlcm", NLC_INSTALLED_CLC_MODEL, NLC_DEFAULT_CLC_MODEL,
                      "the bundled CLC model was not found; use --model PATH");
}

namespace {
// OpenMP's thread count is a per-thread setting; the library's is process-wide, applied at
// the start of every coding call from whichever thread makes it.
std::atomic<int> g_threads{0};
}  // namespace
void apply_threads() {
  if (const int n = g_threads.load(std::memory_order_relaxed); n > 0) set_num_threads(n);
}
void set_threads(int n) {
  if (n > 0) {
    g_threads.store(n, std::memory_order_relaxed);
    set_num_threads(n);
  }
}
int threads() {
  apply_threads();
  return num_threads();
}

ModelInfo model_info(const std::string& model_path) {
  const ModelFile f = load_model_file(model_path);
  ModelInfo i;
  i.path = model_path;
  i.arch = f.arch;
  i.identity = f.identity_hex();
  i.format_major = f.major;
  i.format_minor = f.minor;
  if (f.arch == LatentClassifier::kArch) {  // not a codec: no quality range
    i.details = LatentClassifier(f, Kernels::kReference).describe();
    return i;
  }
  const auto m = load_architecture(f);
  i.max_quality = m->max_quality();
  i.details = m->describe();
  return i;
}

StreamInfo stream_info(const uint8_t* data, size_t size) {
  const bitstream::Parsed p = bitstream::parse(data, size);
  StreamInfo i;
  const auto& h = p.header;
  i.major = h.major;
  i.minor = h.minor;
  i.model_identity = to_hex(h.model_id);
  i.width = h.width;
  i.height = h.height;
  i.bit_depth = h.bit_depth;
  i.channels = h.colour == bitstream::ColourFormat::kGray ? 1 : 3;
  i.quality = bitstream::q16_to_quality(h.quality_q16);
  i.tile_size = h.tile_size;
  i.tile_overlap = h.tile_overlap;
  for (const auto& s : p.sections) {
    StreamInfo::Section x;
    x.type = s.type;
    static const char* digits = "0123456789abcdef";
    x.name = std::string("0x") + digits[s.type >> 4] + digits[s.type & 15];
    for (const SectionKind& k : all_section_kinds())
      if (k.type == s.type) x.name = k.name;
    x.size = s.size;
    x.offset = s.offset;
    i.sections.push_back(x);
  }
  i.skipped_optional = p.skipped_optional;
  i.bytes = size;
  return i;
}

Estimate estimate(const std::string& model_path, const Image& img, double quality,
                  bool reference_kernels) {
  auto m = load_architecture(model_path, reference_kernels ? Kernels::kReference : Kernels::kOptimized);
  const auto t0 = std::chrono::steady_clock::now();
  Architecture::Estimate a = m->estimate(img, quality);
  Estimate e;
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  e.reconstruction = std::move(a.reconstruction);
  const double pixels = double(img.width) * img.height;
  for (const auto& [part, bits] : a.bits) {
    e.bpp_parts.push_back({part, bits / pixels});
    e.bpp += bits / pixels;
  }
  return e;
}

}  // namespace nlc
