#include "models/mshp/clc.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "bitstream/stream_error.h"
#include "models/cdf_tables.h"

namespace nlc::mshp {
namespace {

// 2^(f/16) in 16.16 fixed point, f = 0..15 (docs/clc.md; clc.py's POW2_TABLE).
constexpr int64_t kPow2Table[16] = {65536, 68438, 71468, 74632, 77936, 81386, 84990, 88752,
                                    92682, 96785, 101070, 105545, 110218, 115098, 120194, 125515};
constexpr int kPowFracBits = 16;
constexpr int64_t kOutClamp = IntegerHyperSynthesis::kOutClamp;

int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

std::string dictionary_id_hex(const uint8_t* p) {
  std::array<uint8_t, 32> a{};
  std::copy_n(p, kDictionaryIdBytes, a.begin());
  return to_hex(a).substr(0, 2 * kDictionaryIdBytes);
}

int64_t pow2_scale(int64_t s, int k) {
  const int e = int(floor_div(k, 16));
  const int f = k - 16 * e;
  int64_t t = s * kPow2Table[f];              // |s| <= 2^30: |t| < 2^47
  if (e > 0) t *= int64_t(1) << e;            // e <= 7: |t| < 2^54
  const int sh = kPowFracBits - std::min(e, 0);
  return (t + (int64_t(1) << (sh - 1))) >> sh;  // arithmetic shift: floor
}

bool ReferenceDictionary::present(const ModelFile& f) {
  auto it = f.params.find("clc");
  return it != f.params.end() && std::holds_alternative<int64_t>(it->second) &&
         std::get<int64_t>(it->second) == 1;
}

ReferenceDictionary::ReferenceDictionary(const ModelFile& f, int M, int hidden_channels)
    : M_(M), C2_(hidden_channels) {
  R_ = f.int_tensor("clc.region", {1})[0];
  if (R_ < 1 || R_ > 64) throw ModelError(f.source + ": implausible CLC region size");
  auto it = f.tensors.find("clc.entries");
  if (it == f.tensors.end() || it->second.dims.size() != 4)
    throw ModelError(f.source + ": CLC model lacks 'clc.entries' [K, M, R, R]");
  const int64_t K = it->second.dims[0];
  if (K < 1 || K > 65536) throw ModelError(f.source + ": implausible CLC dictionary size");
  K_ = int(K);
  const auto& e = f.int_tensor("clc.entries", {K, M, R_, R_});
  entries_.resize(e.size());
  pooled_.assign(size_t(K) * M, 0);
  const int64_t area = int64_t(R_) * R_;
  for (int k = 0; k < K_; ++k)
    for (int c = 0; c < M; ++c) {
      int64_t sum = 0;
      for (int y = 0; y < R_; ++y)
        for (int x = 0; x < R_; ++x) {
          const int32_t v = e[((size_t(k) * M + c) * R_ + y) * R_ + x];
          if (v < -kRefMax || v > kRefMax)
            throw ModelError(f.source + ": CLC entry value outside +-" + std::to_string(kRefMax));
          entries_[((size_t(k) * R_ + y) * R_ + x) * M + c] = v;
          sum += v;
        }
      pooled_[size_t(k) * M + c] = int32_t(floor_div(sum + area / 2, area));
    }
  feature_mean_ = f.tensor("clc.feature_mean", {2 * M}).data;
  feature_std_ = f.tensor("clc.feature_std", {2 * M}).data;
  entry_features_ = f.tensor("clc.entry_features", {K, 2 * M}).data;

  auto bias = f.tensors.find("clc.c1.bias");
  if (bias == f.tensors.end() || bias->second.dims.size() != 1 || bias->second.dims[0] < 1 ||
      bias->second.dims[0] > 4096)
    throw ModelError(f.source + ": CLC model lacks a plausible 'clc.c1.bias'");
  const int width = int(bias->second.dims[0]);
  IntegerHyperSynthesis::Layer g1;
  g1.cin = C2_ + 2 * M;
  g1.cout = width;
  g1.k = 3;
  g1.pad = 1;
  std::vector<int64_t> in1(size_t(g1.cin), kRefMax);
  std::fill(in1.begin(), in1.begin() + C2_, IntegerHyperSynthesis::kActMax);
  c1_ = IntegerHyperSynthesis::load_layer(f, "clc.c1", g1, in1);
  IntegerHyperSynthesis::Layer g2;
  g2.cin = width;
  g2.cout = 2 * M;
  g2.k = 1;
  c2_ = IntegerHyperSynthesis::load_layer(f, "clc.c2", g2,
                                          std::vector<int64_t>(size_t(width), IntegerHyperSynthesis::kActMax));
  index_table_ = load_cdf_tables(f, "clc_index", 1);
  if (index_table_[0].offset != 0 || index_table_[0].num_symbols() < K_)
    throw ModelError(f.source + ": the CLC index table does not cover the dictionary");

  // The dictionary's identity (docs/clc.md): SHA-256 over its tensors in name order, each
  // as its name then its values as little-endian int32 or float32.
  std::vector<uint8_t> bytes;
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("clc.", 0) != 0 && name.rfind("cdf.clc_index.", 0) != 0) continue;
    bytes.insert(bytes.end(), name.begin(), name.end());
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint32_t u;
      if (!t.ints.empty()) {
        u = uint32_t(t.ints[size_t(i)]);
      } else {
        std::memcpy(&u, &t.data[size_t(i)], 4);
      }
      for (int b = 0; b < 4; ++b) bytes.push_back(uint8_t(u >> (8 * b)));
    }
  }
  std::array<uint8_t, 32> digest{};
  SHA256(bytes.data(), bytes.size(), digest.data());
  std::copy_n(digest.begin(), kDictionaryIdBytes, id_.begin());
}

std::vector<int32_t> ReferenceDictionary::match(const Tensor& y) const {
  const int h = y.h(), w = y.w(), M = M_;
  if (y.c() != M) throw std::invalid_argument("CLC match: wrong latent channels");
  const int gh = grid(h), gw = grid(w);
  std::vector<int32_t> out;
  out.reserve(size_t(gh) * gw);
  std::vector<double> mean(M), var(M);
  std::vector<float> feat(2 * size_t(M));
  for (int gy = 0; gy < gh; ++gy)
    for (int gx = 0; gx < gw; ++gx) {
      const int y0 = gy * R_, y1 = std::min(h, y0 + R_), x0 = gx * R_, x1 = std::min(w, x0 + R_);
      const double n = double(y1 - y0) * (x1 - x0);
      std::fill(mean.begin(), mean.end(), 0.0);
      std::fill(var.begin(), var.end(), 0.0);
      for (int yy = y0; yy < y1; ++yy)
        for (int xx = x0; xx < x1; ++xx)
          for (int c = 0; c < M; ++c) mean[c] += y.data()[(size_t(yy) * w + xx) * M + c];
      for (int c = 0; c < M; ++c) mean[c] /= n;
      for (int yy = y0; yy < y1; ++yy)
        for (int xx = x0; xx < x1; ++xx)
          for (int c = 0; c < M; ++c) {
            const double d = y.data()[(size_t(yy) * w + xx) * M + c] - mean[c];
            var[c] += d * d;
          }
      for (int c = 0; c < M; ++c) {
        feat[c] = float((mean[c] - feature_mean_[c]) / feature_std_[c]);
        feat[M + c] = float((std::sqrt(var[c] / n) - feature_mean_[M + c]) / feature_std_[M + c]);
      }
      int best = 0;
      double best_d = std::numeric_limits<double>::infinity();
      for (int k = 0; k < K_; ++k) {
        const float* e = &entry_features_[size_t(k) * 2 * M];
        double d = 0;
        for (int i = 0; i < 2 * M; ++i) d += double(feat[i] - e[i]) * (feat[i] - e[i]);
        if (d < best_d) best_d = d, best = k;
      }
      out.push_back(best);
    }
  return out;
}

std::vector<uint8_t> ReferenceDictionary::encode_indices(const std::vector<int32_t>& indices) const {
  std::vector<uint16_t> table(indices.size(), 0);
  std::vector<uint8_t> out(id_.begin(), id_.end());
  const std::vector<uint8_t> lanes =
      rans_encode(indices.data(), table.data(), indices.size(), index_table_, default_lane_count(indices.size()));
  out.insert(out.end(), lanes.begin(), lanes.end());
  return out;
}

std::vector<int32_t> ReferenceDictionary::decode_indices(const uint8_t* data, size_t size,
                                                         size_t count) const {
  if (size < kDictionaryIdBytes) throw StreamError("REFERENCE section is shorter than its dictionary id");
  if (!std::equal(id_.begin(), id_.end(), data))
    throw StreamError("stream's reference dictionary " + dictionary_id_hex(data) + " is not this model's (" +
                      id_hex() + ")");
  std::vector<uint16_t> table(count, 0);
  std::vector<int32_t> idx(count);
  rans_decode(data + kDictionaryIdBytes, size - kDictionaryIdBytes, table.data(), count, index_table_,
              idx.data());
  for (int32_t k : idx)
    if (k < 0 || k >= K_)
      throw StreamError("REFERENCE index " + std::to_string(k) + " is outside the dictionary of " +
                        std::to_string(K_) + " entries");
  return idx;
}

void ReferenceDictionary::condition(const IntegerHyperSynthesis& hs, const std::vector<int32_t>& hidden,
                                    const std::vector<int32_t>& indices,
                                    IntegerHyperSynthesis::Output& o) const {
  const int h = o.h, w = o.w, M = M_;
  const size_t pixels = size_t(h) * w;
  if (o.n != 1 || o.c != M || hidden.size() != pixels * C2_)
    throw std::logic_error("CLC: h_s output and hidden activations do not match");
  const int gw = grid(w);
  if (indices.size() != size_t(grid(h)) * gw) throw std::logic_error("CLC: index count");
  // The branch's input per latent position: [hidden, reference, pooled reference], the
  // reference being the entry of the position's region (CLS).
  const int cin = C2_ + 2 * M;
  std::vector<int32_t> x(pixels * cin);
  for (int y = 0; y < h; ++y)
    for (int xx = 0; xx < w; ++xx) {
      const size_t p = size_t(y) * w + xx, k = size_t(indices[size_t(y / R_) * gw + xx / R_]);
      int32_t* in = &x[p * cin];
      std::copy_n(&hidden[p * C2_], C2_, in);
      std::copy_n(&entries_[((k * R_ + y % R_) * R_ + xx % R_) * M], M, in + C2_);
      std::copy_n(&pooled_[k * M], M, in + C2_ + M);
    }
  int oh = 0, ow = 0;
  const std::vector<int64_t> r1 = IntegerHyperSynthesis::conv(c1_, x, 1, h, w, oh, ow);
  std::vector<int32_t> a1(r1.size());
  for (size_t i = 0; i < r1.size(); ++i)
    a1[i] = int32_t(std::clamp<int64_t>(r1[i], 0, IntegerHyperSynthesis::kActMax));
  const std::vector<int64_t> r2 = IntegerHyperSynthesis::conv(c2_, a1, 1, h, w, oh, ow);
  for (size_t p = 0; p < pixels; ++p)
    for (int c = 0; c < M; ++c) {
      const size_t i = p * M + c;
      const int64_t dmu = std::clamp(r2[p * 2 * M + c], -kOutClamp, kOutClamp);
      const int dsig = int(std::clamp<int64_t>(r2[p * 2 * M + M + c], kDsigMin, kDsigMax));
      o.mu_q[i] = int32_t(std::clamp(int64_t(o.mu_q[i]) + dmu, -kOutClamp, kOutClamp));
      o.sigma_q[i] = int32_t(std::clamp(pow2_scale(o.sigma_q[i], dsig), -kOutClamp, kOutClamp));
      o.index[i] = hs.scale_index(o.sigma_q[i]);
    }
}

}  // namespace nlc::mshp
