// The INR codec as an Architecture: a tile is fitted, quantised and written as INR_PARAMS
// (sizes and weights) and INR_LATENTS (grid symbols); decoding reads the weights, decodes
// the grids with the integer ARM and synthesises the pixels.
#include <openssl/sha.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "models/inr/inr.h"

namespace nlc {
namespace {

class InrCpuBackend final : public ArchBackend {
 public:
  std::string arch() const override { return inr::kArch; }
  std::string describe() const override { return "CPU"; }
};

// Planar [3][P] samples in [0, 1] of an 8-bit image (grey is coded as three equal channels).
std::vector<float> planar(const Image& img) {
  const size_t P = size_t(img.width) * img.height;
  std::vector<float> x(3 * P);
  for (size_t p = 0; p < P; ++p)
    for (int c = 0; c < 3; ++c)
      x[size_t(c) * P + p] = float(img.pixels[p * size_t(img.channels) + size_t(img.channels == 3 ? c : 0)]) / 255.f;
  return x;
}

// Planar [3][P] -> 8-bit pixels: clamp to [0, 1], scale, round half to even; grey averages.
void to_pixels(const std::vector<float>& rgb, Image& img) {
  const size_t P = size_t(img.width) * img.height;
  img.pixels.resize(P * size_t(img.channels));
  for (size_t p = 0; p < P; ++p) {
    float v[3];
    for (int c = 0; c < 3; ++c) {
      const float f = rgb[size_t(c) * P + p];
      v[c] = (f > 0.f ? (f < 1.f ? f : 1.f) : 0.f) * 255.f;
    }
    if (img.channels == 3)
      for (int c = 0; c < 3; ++c) img.pixels[p * 3 + size_t(c)] = uint8_t(std::nearbyint(v[c]));
    else
      img.pixels[p] = uint8_t(std::nearbyint((v[0] + v[1] + v[2]) / 3.f));
  }
}

std::vector<std::vector<int32_t>> round_latents(const std::vector<std::vector<float>>& y) {
  std::vector<std::vector<int32_t>> q(y.size());
  for (size_t l = 0; l < y.size(); ++l)
    for (float v : y[l])
      q[l].push_back(int32_t(std::clamp(std::nearbyint(double(v)), -double(inr::kMaxLatent), double(inr::kMaxLatent))));
  return q;
}

std::vector<std::vector<float>> to_float(const std::vector<std::vector<int32_t>>& q) {
  std::vector<std::vector<float>> y(q.size());
  for (size_t l = 0; l < q.size(); ++l) y[l].assign(q[l].begin(), q[l].end());
  return y;
}

double mse(const std::vector<float>& a, const std::vector<float>& x) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double f = std::clamp(double(a[i]), 0.0, 1.0), d = std::nearbyint(f * 255) / 255 - x[i];
    se += d * d;
  }
  return se / double(a.size());
}

// The weights' steps (Cool-chic's greedy search of per-tensor steps): the ones with the
// lowest D + lambda (R_latents + R_weights) measured on the quantised network and the coded
// latents. First one step for every synthesis and upsampling tensor (2^-6 ... 2^-12) and Q8
// for the ARM, as streams of version 2 had; then each tensor in turn a step coarser while
// that lowers the cost, else finer while it does. The ARM's steps change the coder's tables,
// so the latents are coded again to measure them.
inr::QuantNet quantize_rd(const inr::Net& net, const std::vector<inr::Grid>& gr,
                          const std::vector<std::vector<int32_t>>& qy, const std::vector<float>& x, int w, int h,
                          double lambda) {
  const auto y = to_float(qy);
  const double per_bit = lambda / (double(w) * h);
  auto distortion = [&](const inr::QuantNet& q) { return mse(inr::reconstruct(q.dequantize(), gr, y, w, h), x); };
  auto latent_bits = [&](const inr::QuantNet& q) {
    return 8.0 * double(inr::encode_latents(q.arm(), gr, qy, q.lane_header()).size());
  };
  inr::QuantNet best;
  double best_d = 0, best_cost = INFINITY;
  const double rl8 = latent_bits(inr::quantize(net, 8));  // (the ARM's Q8 values do not depend on the synthesis step)
  for (int step = 6; step <= 12; ++step) {
    inr::QuantNet q = inr::quantize(net, step);
    const double d = distortion(q), cost = d + per_bit * (rl8 + double(inr::param_bits(q)));
    if (cost < best_cost) best_cost = cost, best_d = d, best = std::move(q);
  }
  double best_rl = rl8;
  for (size_t i = 0; i < best.t.size(); ++i) {
    const bool arm = inr::is_arm_tensor(i);
    const int max_step = arm ? inr::kArmStepMax : inr::kStepMax;
    for (int dir : {-1, +1}) {
      bool moved = false;
      for (int step = best.step[i] + dir; step >= 0 && step <= max_step; step += dir) {
        inr::QuantNet q = best;
        inr::requantize(net, i, step, q);
        const double d = arm ? best_d : distortion(q), rl = arm ? latent_bits(q) : best_rl;
        const double cost = d + per_bit * (rl + double(inr::param_bits(q)));
        if (cost >= best_cost) break;
        best_cost = cost, best_d = d, best_rl = rl, best = std::move(q);
        moved = true;
      }
      if (moved) break;
    }
  }
  return best;
}

}  // namespace

InrCodec::InrCodec() : backend_(std::make_unique<InrCpuBackend>()) {
  identity_ = arch_identity();
  static const char* hex = "0123456789abcdef";
  for (uint8_t b : identity_) identity_hex_ += std::string{hex[b >> 4], hex[b & 15]};
}

const std::array<uint8_t, 32>& InrCodec::arch_identity() {
  static const std::array<uint8_t, 32> id = [] {
    std::array<uint8_t, 32> r{};
    const char* s = "nlc:inr-v1";
    SHA256(reinterpret_cast<const unsigned char*>(s), std::strlen(s), r.data());
    return r;
  }();
  return id;
}

double InrCodec::lambda(double q) { return 2e-2 * std::pow(1e-4 / 2e-2, q / 5.0); }

const std::vector<SectionKind>& inr::section_kinds() {
  static const std::vector<SectionKind> kinds = {{kParams, "INR_PARAMS"}, {kLatents, "INR_LATENTS"}};
  return kinds;
}

const std::vector<SectionKind>& InrCodec::tile_sections() const { return inr::section_kinds(); }

InrCodec::Decoded InrCodec::decode_grids(const bitstream::SectionView* s, int w, int h) {
  const int levels = inr::level_count(w, h);
  Decoded d{inr::read_params(s[0].data, s[0].size, levels), inr::grids(w, h, levels), {}};
  d.y = to_float(inr::decode_latents(d.net.arm(), d.grids, s[1].data, s[1].size, d.net.lane_header()));
  return d;
}

std::vector<std::pair<std::string, std::string>> InrCodec::describe() const {
  return {{"fitting", "per image at encode time (effort " + std::to_string(fit_.effort) + ")"}};
}

void InrCodec::set_backend(std::unique_ptr<ArchBackend> b) {
  if (!b) b = cpu_backend();
  if (b->arch() != inr::kArch)
    throw std::invalid_argument("backend for '" + b->arch() + "' given to an '" + inr::kArch + "' codec");
  backend_ = std::move(b);
}

std::unique_ptr<ArchBackend> InrCodec::cpu_backend() const { return std::make_unique<InrCpuBackend>(); }

void InrCodec::encode_tile(const Image& tile, double q, std::vector<bitstream::Section>& out) {
  const int w = tile.width, h = tile.height;
  const std::vector<float> x = planar(tile);
  inr::FitOptions o = fit_;
  o.lambda = lambda(q);
  const inr::Fitted f = inr::fit(x, w, h, o);
  const std::vector<inr::Grid> gr = inr::grids(w, h, f.net.s.levels);
  const auto qy = round_latents(f.y);
  const inr::QuantNet best = quantize_rd(f.net, gr, qy, x, w, h, o.lambda);
  bitstream::Section sp, sl;
  sp.type = inr::kParams;
  sp.payload = inr::write_params(best);
  sl.type = inr::kLatents;
  sl.payload = inr::encode_latents(best.arm(), gr, qy, best.lane_header());
  out.push_back(std::move(sp));
  out.push_back(std::move(sl));
}

Image InrCodec::decode_one(const bitstream::SectionView* s, int w, int h, int channels) {
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  const auto t0 = clock::now();
  const int levels = inr::level_count(w, h);
  const inr::QuantNet qn = inr::read_params(s[0].data, s[0].size, levels);
  const std::vector<inr::Grid> gr = inr::grids(w, h, levels);
  const auto t1 = clock::now();
  const auto y = to_float(inr::decode_latents(qn.arm(), gr, s[1].data, s[1].size, qn.lane_header()));
  const auto t2 = clock::now();
  Image img{w, h, channels, {}};
  double up = 0;
  to_pixels(inr::reconstruct(qn.dequantize(), gr, y, w, h, &up), img);
  const auto t3 = clock::now();
  const double add[4] = {ms(t0, t1), ms(t1, t2), up, ms(t2, t3) - up};
  for (int i = 0; i < 4; ++i) profile_[size_t(i)].second += add[i];
  return img;
}

std::vector<std::string> InrCodec::decode_tiles(const std::vector<TileJob>& jobs) {
  profile_ = {{"parameters", 0}, {"ARM", 0}, {"upsampling", 0}, {"synthesis", 0}};
  std::vector<std::string> errors(jobs.size());
  for (size_t k = 0; k < jobs.size(); ++k) {
    Image& t = *jobs[k].tile;
    try {
      t = decode_one(jobs[k].sections, t.width, t.height, t.channels);
    } catch (const StreamError& e) {
      errors[k] = e.what();
    }
  }
  return errors;
}

Latent InrCodec::decode_latent(const bitstream::SectionView* s, double /*q*/, int w, int h) {
  // The latent of this codec: its grids upsampled to the image, one channel per grid.
  const Decoded d = decode_grids(s, w, h);
  const int levels = int(d.grids.size());
  const size_t P = size_t(w) * h;
  std::vector<float> feat(P * size_t(levels));
  inr::upsample(d.net.dequantize(), d.grids, d.y, feat.data());
  Latent l;
  l.height = h;
  l.width = w;
  l.channels = levels;
  l.data.resize(P * size_t(levels));
  for (int lv = 0; lv < levels; ++lv)
    for (size_t p = 0; p < P; ++p) l.data[p * size_t(levels) + size_t(lv)] = feat[size_t(lv) * P + p];
  return l;
}

Architecture::Estimate InrCodec::estimate(const Image& img, double q) {
  const int w = img.width, h = img.height;
  inr::FitOptions o = fit_;
  o.lambda = lambda(q);
  const std::vector<float> x = planar(img);
  const inr::Fitted f = inr::fit(x, w, h, o);
  const std::vector<inr::Grid> gr = inr::grids(w, h, f.net.s.levels);
  const auto qy = round_latents(f.y);
  const auto y = to_float(qy);
  const inr::QuantNet qn = quantize_rd(f.net, gr, qy, x, w, h, o.lambda);
  const inr::Net n = qn.dequantize();
  Estimate e;
  e.reconstruction = Image{w, h, img.channels, {}};
  to_pixels(inr::reconstruct(n, gr, y, w, h), e.reconstruction);
  e.bits = {{"latents", inr::arm_rate(n, gr, y, nullptr, nullptr)},
            {"weights", double(inr::param_bits(qn))}};
  return e;
}

}  // namespace nlc
