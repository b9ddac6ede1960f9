// Loader for .nlcm model files (spec: docs/model-format.md; writer: models/train/nlc_train/nlcm.py).
// Everything is validated: a truncated, corrupt or wrong-version file throws ModelError with a
// message naming the file and the problem; nothing is read out of bounds.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "nlc/errors.h"

namespace nlc {

struct ModelTensor {
  std::vector<int64_t> dims;
  std::vector<float> data;     // converted to float32 whatever the stored type
  std::vector<int32_t> ints;   // exact values of an integer tensor (int16/int32); else empty
  int64_t numel() const;
};

using ModelParam = std::variant<int64_t, double, std::string, std::vector<double>>;

struct ModelFile {
  static constexpr int kMajor = 1;
  static constexpr int kMinor = 0;
  static constexpr size_t kHeaderBytes = 64;
  // Refuse payloads above this when decompressed: a model is tens of MB; a corrupt size field
  // must not make us allocate gigabytes.
  static constexpr uint64_t kMaxPayloadBytes = uint64_t(1) << 31;
  // The most the payload may exceed its compressed size by (the file's own bytes bound what
  // a loader allocates; real models compress by 1.1-2x).
  static constexpr uint64_t kMaxExpansion = 16;

  std::string source;  // file name, for messages
  int major = 0, minor = 0;
  std::string arch;
  std::map<std::string, ModelParam> params;
  std::map<std::string, ModelTensor> tensors;
  std::array<uint8_t, 32> identity{};  // SHA-256 of the uncompressed payload

  std::string identity_hex() const;
  int64_t param_int(const std::string& key) const;
  double param_float(const std::string& key) const;
  std::vector<double> param_floats(const std::string& key) const;
  // The tensor `name`, which must have exactly `dims`.
  const ModelTensor& tensor(const std::string& name, const std::vector<int64_t>& dims) const;
  // The same for an integer tensor (stored as int16 or int32).
  const std::vector<int32_t>& int_tensor(const std::string& name,
                                         const std::vector<int64_t>& dims) const;
  bool has_tensor(const std::string& name) const { return tensors.count(name) != 0; }
};

ModelFile load_model_file(const std::string& path);
// The identity a model file's header declares (its payload's SHA-256), read without loading
// the file (unverified: load_model_file checks it); all zero for an unreadable file.
std::array<uint8_t, 32> model_file_identity(const std::string& path);

// Lower-case hex of a 32-byte identity (model hashes in messages and tools).
std::string to_hex(const std::array<uint8_t, 32>& bytes);
ModelFile parse_model_file(const uint8_t* data, size_t size, const std::string& source);

}  // namespace nlc
