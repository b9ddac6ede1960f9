// A decoded latent as a numpy .npy file (format 1.0: magic, header length, a Python dict
// literal padded with spaces to a multiple of 64 bytes, then the little-endian float32
// data): what `nlc decode --latent` writes and `nlc serve`'s /v1/latent returns.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "nlc/codec.h"

namespace nlc_cli {

inline std::vector<uint8_t> npy(const nlc::DecodedLatent& l) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(l.height) + ", " +
                     std::to_string(l.width) + ", " + std::to_string(l.channels) + "), }";
  const size_t pre = 10;  // magic (6), version (2), header length (2)
  dict.append((64 - (pre + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  static_assert(std::endian::native == std::endian::little, "npy writer assumes little endian");
  const std::string magic = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size() & 255) + char(dict.size() >> 8);
  std::string out = magic + dict;
  out.append(reinterpret_cast<const char*>(l.data.data()), l.data.size() * sizeof(float));
  return std::vector<uint8_t>(out.begin(), out.end());
}

}  // namespace nlc_cli
