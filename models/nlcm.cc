#include "models/nlcm.h"

#include <openssl/sha.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader (stable since zstd 1.4)
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "bitstream/crc32c.h"

namespace nlc {
namespace {

enum ParamType : uint8_t { kInt = 1, kFloat = 2, kString = 3, kFloatArray = 4 };
enum DType : uint8_t { kF32 = 1, kF16 = 2, kI16 = 3, kI32 = 4 };

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Bounds-checked little-endian reader over the decompressed payload.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& src) : p_(p), n_(n), src_(src) {}
  const uint8_t* take(size_t k, const char* what) {
    if (k > n_ - pos_)
      throw ModelError(src_ + ": model payload ends inside " + what + " (corrupt file)");
    const uint8_t* r = p_ + pos_;
    pos_ += k;
    return r;
  }
  uint8_t u8(const char* w) { return *take(1, w); }
  uint32_t u32(const char* w) { return le32(take(4, w)); }
  uint64_t u64(const char* w) { return le64(take(8, w)); }
  std::string str(const char* w) {
    uint32_t len = u32(w);
    const uint8_t* s = take(len, w);
    return std::string(reinterpret_cast<const char*>(s), len);
  }
  bool done() const { return pos_ == n_; }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  const std::string& src_;
};

}  // namespace

int64_t ModelTensor::numel() const {
  int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

std::string to_hex(const std::array<uint8_t, 32>& bytes) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

std::string ModelFile::identity_hex() const { return to_hex(identity); }

static std::string shape_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

int64_t ModelFile::param_int(const std::string& key) const {
  auto it = params.find(key);
  if (it == params.end() || !std::holds_alternative<int64_t>(it->second))
    throw ModelError(source + ": model lacks integer parameter '" + key + "'");
  return std::get<int64_t>(it->second);
}

double ModelFile::param_float(const std::string& key) const {
  auto it = params.find(key);
  if (it == params.end()) throw ModelError(source + ": model lacks parameter '" + key + "'");
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* i = std::get_if<int64_t>(&it->second)) return double(*i);
  throw ModelError(source + ": model parameter '" + key + "' is not a number");
}

std::vector<double> ModelFile::param_floats(const std::string& key) const {
  auto it = params.find(key);
  if (it == params.end() || !std::holds_alternative<std::vector<double>>(it->second))
    throw ModelError(source + ": model lacks array parameter '" + key + "'");
  return std::get<std::vector<double>>(it->second);
}

const ModelTensor& ModelFile::tensor(const std::string& name,
                                     const std::vector<int64_t>& dims) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw ModelError(source + ": model lacks tensor '" + name + "'");
  if (it->second.dims != dims)
    throw ModelError(source + ": tensor '" + name + "' has shape " +
                     shape_str(it->second.dims) + ", expected " + shape_str(dims));
  return it->second;
}

const std::vector<int32_t>& ModelFile::int_tensor(const std::string& name,
                                                  const std::vector<int64_t>& dims) const {
  const ModelTensor& t = tensor(name, dims);
  if (t.ints.size() != t.data.size())
    throw ModelError(source + ": tensor '" + name + "' must be stored as integers");
  return t.ints;
}

ModelFile parse_model_file(const uint8_t* data, size_t size, const std::string& source) {
  ModelFile m;
  m.source = source;
  if (size < 4 || std::memcmp(data, "NLCM", 4) != 0)
    throw ModelError(source + ": not an nlc model file (bad magic)");
  if (size < ModelFile::kHeaderBytes)
    throw ModelError(source + ": model file truncated inside its header");
  m.major = le16(data + 4);
  m.minor = le16(data + 6);
  if (m.major != ModelFile::kMajor)
    throw ModelError(source + ": model format version " + std::to_string(m.major) + "." +
                     std::to_string(m.minor) + " is not supported (this build reads " +
                     std::to_string(ModelFile::kMajor) + ".x)");
  uint8_t head[ModelFile::kHeaderBytes];
  std::memcpy(head, data, sizeof head);
  uint32_t stored_crc = le32(head + 12);
  std::memset(head + 12, 0, 4);
  if (kCheckCrc && crc32c(head, sizeof head) != stored_crc)
    throw ModelError(source + ": model header checksum mismatch (corrupt file)");
  if (le32(data + 8) != 0)
    throw ModelError(source + ": model header has unknown flags set");
  uint64_t csize = le64(data + 16), rsize = le64(data + 24);
  if (csize > size - ModelFile::kHeaderBytes)
    throw ModelError(source + ": model file truncated (" + std::to_string(size) +
                     " bytes, header announces " +
                     std::to_string(csize + ModelFile::kHeaderBytes) + ")");
  if (csize < size - ModelFile::kHeaderBytes)
    throw ModelError(source + ": model file has trailing bytes after its payload");
  if (rsize > ModelFile::kMaxPayloadBytes)
    throw ModelError(source + ": model payload size " + std::to_string(rsize) +
                     " exceeds the limit");
  // Memory is allocated only as the file justifies it: zstd turns a few bytes into megabytes
  // of zeros, so a tiny file could announce gigabytes. Real payloads (weights) compress by
  // 1.1-2x; ModelFile::kMaxExpansion leaves room for any model and none for a bomb.
  if (rsize > csize * ModelFile::kMaxExpansion + (1u << 16))
    throw ModelError(source + ": model payload of " + std::to_string(rsize) + " bytes from " +
                     std::to_string(csize) + " compressed bytes is implausible (corrupt file)");
  const uint8_t* comp = data + ModelFile::kHeaderBytes;
  unsigned long long frame = ZSTD_getFrameContentSize(comp, csize);
  if (frame == ZSTD_CONTENTSIZE_ERROR || frame == ZSTD_CONTENTSIZE_UNKNOWN || frame != rsize)
    throw ModelError(source + ": model payload is not a valid zstd frame of the announced size");
  ZSTD_frameHeader fh;
  if (ZSTD_getFrameHeader(&fh, comp, csize) != 0 || !fh.checksumFlag)
    throw ModelError(source + ": model payload's zstd frame has no content checksum (docs/model-format.md requires one)");
  std::vector<uint8_t> raw(rsize);
  size_t got = ZSTD_decompress(raw.data(), raw.size(), comp, csize);
  if (ZSTD_isError(got) || got != rsize)
    throw ModelError(source + ": model payload does not decompress (" +
                     (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size") + ")");
  SHA256(raw.data(), raw.size(), m.identity.data());
  if (std::memcmp(m.identity.data(), data + 32, 32) != 0)
    throw ModelError(source + ": model payload does not match its SHA-256 (corrupt file)");

  Reader r(raw.data(), raw.size(), source);
  m.arch = r.str("the architecture name");
  uint32_t nparams = r.u32("the parameter count");
  for (uint32_t i = 0; i < nparams; ++i) {
    std::string key = r.str("a parameter name");
    uint8_t type = r.u8("a parameter type");
    switch (type) {
      case kInt:
        m.params[key] = int64_t(r.u64("an integer parameter"));
        break;
      case kFloat: {
        uint64_t b = r.u64("a float parameter");
        double d;
        std::memcpy(&d, &b, 8);
        m.params[key] = d;
        break;
      }
      case kString:
        m.params[key] = r.str("a string parameter");
        break;
      case kFloatArray: {
        uint32_t n = r.u32("an array parameter");
        const uint8_t* p = r.take(size_t(n) * 8, "an array parameter");
        std::vector<double> v(n);
        for (uint32_t k = 0; k < n; ++k) {
          uint64_t b = le64(p + 8 * size_t(k));
          std::memcpy(&v[k], &b, 8);
        }
        m.params[key] = std::move(v);
        break;
      }
      default:
        throw ModelError(source + ": parameter '" + key + "' has unknown type " +
                         std::to_string(type));
    }
  }
  uint32_t ntensors = r.u32("the tensor count");
  for (uint32_t i = 0; i < ntensors; ++i) {
    std::string name = r.str("a tensor name");
    uint8_t dtype = r.u8("a tensor type");
    uint8_t ndim = r.u8("a tensor rank");
    if (ndim > 8) throw ModelError(source + ": tensor '" + name + "' has rank > 8");
    ModelTensor t;
    uint64_t numel = 1;
    for (int d = 0; d < ndim; ++d) {
      uint32_t dim = r.u32("tensor dimensions");
      t.dims.push_back(dim);
      if (dim != 0 && numel > ModelFile::kMaxPayloadBytes / dim)
        throw ModelError(source + ": tensor '" + name + "' is impossibly large");
      numel *= dim;
    }
    size_t esize = dtype == kF32 || dtype == kI32 ? 4 : dtype == kF16 || dtype == kI16 ? 2 : 0;
    if (esize == 0)
      throw ModelError(source + ": tensor '" + name + "' has unknown type " +
                       std::to_string(dtype));
    uint64_t nbytes = r.u64("a tensor size");
    if (nbytes != numel * esize)
      throw ModelError(source + ": tensor '" + name + "' byte size does not match its shape");
    const uint8_t* p = r.take(size_t(nbytes), "tensor data");
    t.data.resize(size_t(numel));
    for (size_t k = 0; k < t.data.size(); ++k) {
      const uint8_t* e = p + k * esize;
      switch (dtype) {
        case kF32: {
          uint32_t b = le32(e);
          std::memcpy(&t.data[k], &b, 4);
          break;
        }
        case kF16: t.data[k] = half_to_float(le16(e)); break;
        case kI16: t.data[k] = float(int16_t(le16(e))); break;
        default: t.data[k] = float(int32_t(le32(e))); break;
      }
    }
    if (dtype == kI16 || dtype == kI32) {
      t.ints.resize(t.data.size());
      for (size_t k = 0; k < t.ints.size(); ++k)
        t.ints[k] = dtype == kI16 ? int32_t(int16_t(le16(p + k * 2))) : int32_t(le32(p + k * 4));
    }
    if (!m.tensors.emplace(name, std::move(t)).second)
      throw ModelError(source + ": tensor '" + name + "' appears twice");
  }
  if (!r.done()) throw ModelError(source + ": model payload has trailing bytes");
  return m;
}

ModelFile load_model_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ModelError(path + ": is a folder, not a model file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ModelError(path + ": cannot open model file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw ModelError(path + ": read error");
  return parse_model_file(bytes.data(), bytes.size(), path);
}

std::array<uint8_t, 32> model_file_identity(const std::string& path) {
  std::array<uint8_t, 32> id{};
  std::ifstream f(path, std::ios::binary);
  uint8_t head[ModelFile::kHeaderBytes];
  if (f && f.read(reinterpret_cast<char*>(head), sizeof head))
    std::copy(head + 32, head + 64, id.begin());  // docs/model-format.md: bytes 32..63
  return id;
}

}  // namespace nlc
