// The mean-scale hyperprior as an Architecture: one tile <-> its HYPER_LATENT and LATENT
// sections, on whichever backend the model has (the CPU by default). The per-element
// arithmetic between transforms and coder is models/mshp/quantize.h, shared with the GPU
// tile pipeline.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "models/mshp/hyperprior.h"
#include "models/mshp/image_tensor.h"
#include "models/mshp/quantize.h"

namespace nlc {

// ---- the CPU backend ----
namespace mshp {
Tensor CpuBackend::g_a(const Tensor& x) { return m_.g_a(x); }
Tensor CpuBackend::h_a(const Tensor& y_g) { return m_.h_a(y_g); }
Tensor CpuBackend::g_s(const Tensor& y_hat) { return m_.g_s(y_hat); }
IntegerHyperSynthesis::Output CpuBackend::integer_hs(const Tensor& z_hat) {
  return m_.integer_hs().run(z_hat);
}
std::vector<uint8_t> CpuBackend::rans_encode(const int32_t* values, const uint16_t* table_index,
                                             size_t n, const std::vector<QuantizedCdf>& tables,
                                             uint32_t lanes) {
  return nlc::rans_encode(values, table_index, n, tables, lanes);
}
void CpuBackend::rans_decode(const uint8_t* data, size_t size, const uint16_t* table_index,
                             size_t n, const std::vector<QuantizedCdf>& tables, int32_t* values) {
  nlc::rans_decode(data, size, table_index, n, tables, values);
}
}  // namespace mshp

// ---- the architecture's description and backends ----
const std::vector<SectionKind>& mshp::section_kinds() {
  static const std::vector<SectionKind> kinds = {{kHyperLatent, "HYPER_LATENT"}, {kLatent, "LATENT"}};
  return kinds;
}

const std::vector<SectionKind>& mshp::clc_section_kinds() {
  static const std::vector<SectionKind> kinds = {
      {kHyperLatent, "HYPER_LATENT"}, {kReference, "REFERENCE"}, {kLatent, "LATENT"}};
  return kinds;
}

const std::vector<SectionKind>& MeanScaleHyperprior::tile_sections() const {
  return clc_ ? mshp::clc_section_kinds() : mshp::section_kinds();
}

std::vector<uint8_t> MeanScaleHyperprior::recognised_sections() const {
  std::vector<uint8_t> t;  // with or without a dictionary: a CLC stream is explained, not unknown
  for (const SectionKind& k : mshp::clc_section_kinds()) t.push_back(k.type);
  return t;
}

std::string MeanScaleHyperprior::mismatch_note(const bitstream::Parsed& p) const {
  const bitstream::SectionView* ref = nullptr;
  for (const auto& s : p.sections)
    if (s.type == mshp::kReference) {
      ref = &s;
      break;
    }
  if (!ref)
    return clc_ ? "; this model codes with a CLC reference (dictionary " + clc_->id_hex() +
                      ") and the stream has none"
                : "";
  const std::string theirs = ref->size >= mshp::kDictionaryIdBytes ? mshp::dictionary_id_hex(ref->data) : "?";
  if (!clc_)
    return "; the stream is coded with a CLC reference (dictionary " + theirs +
           ") and this model has no dictionary";
  if (theirs != clc_->id_hex())
    return "; the stream's reference dictionary " + theirs + " is not this model's (" + clc_->id_hex() + ")";
  return "";
}

std::vector<std::pair<std::string, std::string>> MeanScaleHyperprior::describe() const {
  char lambdas[96];
  std::snprintf(lambdas, sizeof lambdas, "0 .. %d (lambda %.4g .. %.4g)", num_qualities() - 1,
                lambdas_.front(), lambdas_.back());
  std::vector<std::pair<std::string, std::string>> r = {
      {"N, M", std::to_string(N_) + ", " + std::to_string(M_)}, {"qualities", lambdas}};
  if (clc_)
    r.push_back({"CLC dictionary", std::to_string(clc_->entries()) + " entries of " +
                                       std::to_string(clc_->region()) + "x" + std::to_string(clc_->region()) +
                                       " latents (id " + clc_->id_hex() + ")"});
  return r;
}

void MeanScaleHyperprior::set_backend(std::unique_ptr<ArchBackend> b) {
  if (!b) {
    backend_ = std::make_unique<mshp::CpuBackend>(*this);
    return;
  }
  if (b->arch() != kArch)
    throw std::invalid_argument("backend for '" + b->arch() + "' given to a '" + kArch + "' model");
  backend_.reset(static_cast<mshp::Backend*>(b.release()));
}

std::unique_ptr<ArchBackend> MeanScaleHyperprior::cpu_backend() const {
  return std::make_unique<mshp::CpuBackend>(const_cast<MeanScaleHyperprior&>(*this));
}

void MeanScaleHyperprior::require_coding() const {
  if (!has_integer_hs())
    throw ModelError(source_ + ": model has no integer hyper-synthesis and CDF tables; it can "
                               "estimate rates but not code streams (re-export it with --calib)");
}

// ---- coding ----
void MeanScaleHyperprior::encode_tile(const Image& tile, double q,
                                      std::vector<bitstream::Section>& out) {
  require_coding();
  mshp::Backend& b = *backend_;
  const Gains g = gains(q);
  bitstream::Section sz, sr, sy;
  sz.type = mshp::kHyperLatent;
  sr.type = mshp::kReference;
  sy.type = mshp::kLatent;
  // A backend's whole-tile pipeline knows no reference: CLC tiles go stage by stage, the
  // conditioning on the host (exact, so every backend codes the same stream).
  if (clc_ || !b.encode_tile(tile, g.gain, sz.payload, sy.payload)) {
    Tensor x = image_to_tensor(tile, kAlign);
    Tensor y = b.g_a(x);
    Tensor y_g = scale_channels(y, g.gain);
    Tensor z_hat = round(b.h_a(y_g));
    std::vector<int32_t> indices;
    if (clc_) {
      indices = clc_->match(y);
      sr.payload = clc_->encode_indices(indices);
    }
    const IntegerHyperSynthesis::Output o = entropy_params(z_hat, indices);
    // z: NHWC order, table = channel.
    std::vector<int32_t> zs(z_hat.numel());
    std::vector<uint16_t> zi(z_hat.numel());
    for (size_t i = 0; i < zs.size(); ++i) {
      zs[i] = quant::symbol(z_hat.data()[i]);
      zi[i] = uint16_t(i % size_t(N_));
    }
    // y: symbol round(y_g - mu) in float32, table = scale index.
    std::vector<int32_t> ys(y_g.numel());
    std::vector<uint16_t> yi(y_g.numel());
    for (size_t i = 0; i < ys.size(); ++i) {
      ys[i] = quant::residual_symbol(y_g.data()[i], o.mu_q[i]);
      yi[i] = o.index[i];
    }
    sz.payload = b.rans_encode(zs.data(), zi.data(), zs.size(), z_tables_, default_lane_count(zs.size()));
    sy.payload = b.rans_encode(ys.data(), yi.data(), ys.size(), y_tables_, default_lane_count(ys.size()));
  }
  out.push_back(std::move(sz));
  if (clc_) out.push_back(std::move(sr));
  out.push_back(std::move(sy));
}

IntegerHyperSynthesis::Output MeanScaleHyperprior::entropy_params(
    const Tensor& z_hat, const std::vector<int32_t>& indices) const {
  if (!clc_) return backend_->integer_hs(z_hat);
  std::vector<int32_t> hidden;  // CLC: on the host, whatever the backend (exact either way)
  IntegerHyperSynthesis::Output o = int_hs_.run(z_hat, &hidden);
  clc_->condition(int_hs_, hidden, indices, o);
  return o;
}

Tensor MeanScaleHyperprior::decode_y_hat(const bitstream::SectionView* s, const Gains& gains,
                                         int w, int h) {
  mshp::Backend& b = *backend_;
  const mshp::LatentGeometry g = mshp::latent_geometry(w, h);
  const size_t nz = size_t(g.zh) * g.zw * N_;
  std::vector<uint16_t> zi(nz);
  for (size_t i = 0; i < nz; ++i) zi[i] = uint16_t(i % size_t(N_));
  std::vector<int32_t> zs(nz);
  b.rans_decode(s[0].data, s[0].size, zi.data(), nz, z_tables_, zs.data());
  Tensor z_hat = Tensor::uninitialized(Shape{1, g.zh, g.zw, N_});
  for (size_t i = 0; i < nz; ++i) z_hat.data()[i] = float(zs[i]);

  std::vector<int32_t> indices;
  if (clc_) indices = clc_->decode_indices(s[1].data, s[1].size, size_t(clc_->grid(g.yh)) * clc_->grid(g.yw));
  const IntegerHyperSynthesis::Output o = entropy_params(z_hat, indices);
  const bitstream::SectionView* latent = &s[clc_ ? 2 : 1];
  const size_t ny = size_t(g.yh) * g.yw * M_;
  if (o.mu_q.size() != ny) throw std::logic_error("integer h_s output size mismatch");
  std::vector<uint16_t> yi(o.index.begin(), o.index.end());
  std::vector<int32_t> ys(ny);
  b.rans_decode(latent->data, latent->size, yi.data(), ny, y_tables_, ys.data());

  Tensor y_hat = Tensor::uninitialized(Shape{1, g.yh, g.yw, M_});
  const size_t M = size_t(M_);
  for (size_t i = 0; i < ny; ++i)
    y_hat.data()[i] = quant::dequantize(ys[i], o.mu_q[i], gains.inv_gain[i % M]);
  return y_hat;
}

std::vector<std::string> MeanScaleHyperprior::decode_tiles(const std::vector<TileJob>& jobs) {
  require_coding();
  std::vector<std::string> errors(jobs.size());
  std::vector<Gains> gains;
  gains.reserve(jobs.size());
  for (const TileJob& j : jobs) gains.push_back(this->gains(j.q));
  // Whole tiles on the backend, when it runs them.
  // (A backend's whole-tile pipeline knows no reference: CLC tiles go stage by stage.)
  if (!clc_) {
    std::vector<mshp::Backend::TileDecodeJob> whole;
    whole.reserve(jobs.size());
    const bool sized = backend_->batch_pixels() > 0;  // a backend that may run whole tiles
    for (size_t k = 0; k < jobs.size(); ++k) {
      const bitstream::SectionView* s = jobs[k].sections;
      Image& t = *jobs[k].tile;
      if (sized) t.pixels.resize(size_t(t.width) * t.height * t.channels);
      whole.push_back({s[0].data, s[0].size, s[1].data, s[1].size, &gains[k].inv_gain, jobs[k].tile});
    }
    if (backend_->decode_tiles(whole, errors)) return errors;
  }
  // Stage by stage.
  for (size_t k = 0; k < jobs.size(); ++k) {
    Image& tile = *jobs[k].tile;
    try {
      tile = tensor_to_image(backend_->g_s(decode_y_hat(jobs[k].sections, gains[k], tile.width,
                                                        tile.height)),
                             tile.width, tile.height, tile.channels);
    } catch (const StreamError& e) {
      errors[k] = e.what();
    }
  }
  return errors;
}

Latent MeanScaleHyperprior::decode_latent(const bitstream::SectionView* sections, double q,
                                          int w, int h) {
  require_coding();
  Tensor y_hat = decode_y_hat(sections, gains(q), w, h);
  Latent l;
  l.height = y_hat.h();
  l.width = y_hat.w();
  l.channels = y_hat.c();
  l.data.assign(y_hat.data(), y_hat.data() + y_hat.numel());
  return l;
}

Architecture::Estimate MeanScaleHyperprior::estimate(const Image& img, double q) {
  Result r = forward(image_to_tensor(img, kAlign), q);
  Estimate e;
  e.reconstruction = tensor_to_image(r.x_hat, img.width, img.height, img.channels);
  e.bits = {{"y", r.bits_y}, {"z", r.bits_z}};
  return e;
}

}  // namespace nlc
