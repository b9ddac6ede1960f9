// Conditional latent coding (CLC; docs/clc.md): a dictionary of integer reference latents in
// the model file, one entry chosen per region of R x R latents by the encoder (CLM), the
// reference synthesised from the chosen entries by the decoder (CLS), and a conditional
// branch of the integer h_s that corrects mu and sigma from the reference. The indices travel
// in a REFERENCE section. Everything after the indices is integer arithmetic shared by
// encoder and decoder, so a CLC stream decodes identically everywhere; the trainer's exact
// twin is models/train/nlc_train/clc.py.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "entropy/rans.h"
#include "kernels/cpu/tensor.h"
#include "models/mshp/integer_hs.h"
#include "models/nlcm.h"

namespace nlc::mshp {

inline constexpr uint8_t kReference = 0x03;  // a tile's dictionary indices (1.3)
inline constexpr int32_t kRefMax = 2047;     // |reference value|: signed 12-bit
inline constexpr int kDsigMin = -128, kDsigMax = 127;  // scale change, 1/16 octaves
inline constexpr size_t kDictionaryIdBytes = 8;

// s * 2^(k/16), exact integer arithmetic (rounding half up): the normative scale change.
int64_t pow2_scale(int64_t s, int k);
// A dictionary id (kDictionaryIdBytes at p) in lower-case hex, as messages and tools show it.
std::string dictionary_id_hex(const uint8_t* p);

class ReferenceDictionary {
 public:
  // Whether a model file carries CLC (parameter clc = 1).
  static bool present(const ModelFile& f);
  // hidden_channels: the integer h_s's last layer input channels (3M/2).
  ReferenceDictionary(const ModelFile& f, int M, int hidden_channels);

  int region() const { return R_; }
  int entries() const { return K_; }
  const std::array<uint8_t, kDictionaryIdBytes>& id() const { return id_; }
  std::string id_hex() const { return dictionary_id_hex(id_.data()); }
  // Regions per side of a latent grid of n: ceil(n / R).
  int grid(int n) const { return (n + R_ - 1) / R_; }

  // CLM (encoder only; any choice decodes): per region of y (the ungained latent,
  // [1,h,w,M]), row-major, the entry whose features are nearest the region's.
  std::vector<int32_t> match(const Tensor& y) const;

  // The REFERENCE section payload: the dictionary id, then the indices as a rANS lane stream.
  std::vector<uint8_t> encode_indices(const std::vector<int32_t>& indices) const;
  // Its inverse for `count` regions; StreamError for another dictionary, a damaged section
  // or an index outside the dictionary.
  std::vector<int32_t> decode_indices(const uint8_t* data, size_t size, size_t count) const;

  // CLS and the conditional branch: o (the integer h_s output on an h x w latent grid, whose
  // last layer read `hidden`) becomes the conditioned mu_q, sigma_q and scale index.
  void condition(const IntegerHyperSynthesis& hs, const std::vector<int32_t>& hidden,
                 const std::vector<int32_t>& indices, IntegerHyperSynthesis::Output& o) const;

 private:
  int M_ = 0, R_ = 0, K_ = 0, C2_ = 0;
  std::vector<int32_t> entries_;  // [K][R][R][M] (channels last)
  std::vector<int32_t> pooled_;   // [K][M]
  std::vector<float> feature_mean_, feature_std_, entry_features_;  // [2M], [2M], [K][2M]
  IntegerHyperSynthesis::Layer c1_, c2_;
  std::vector<QuantizedCdf> index_table_;
  std::array<uint8_t, kDictionaryIdBytes> id_{};
};

}  // namespace nlc::mshp
