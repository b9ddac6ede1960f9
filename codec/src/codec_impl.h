// Inside Encoder and Decoder (internal to libnlc and its tests): the loaded architecture.
// Tests reach it to plug in an emulated backend (tests/emulated_gpu.h).
#pragma once

#include <memory>
#include <string>

#include "models/architecture.h"
#include "nlc/codec.h"

namespace nlc {

struct Encoder::Impl {
  std::unique_ptr<Architecture> model;
  uint32_t tile_size = 0, tile_overlap = 0;  // set_tiling; 0: the default
};
struct Decoder::Impl {
  std::unique_ptr<Architecture> model;
  std::unique_ptr<Architecture> model_free;  // the last model-free codec a stream named
  std::unique_ptr<Architecture> sibling;     // a bundled model a stream named (CLC or base)
  Architecture* last = nullptr;              // the one that decoded the last stream
  std::string device = "cpu";
  nlc::DeviceOptions device_options;
  DecodeLimits limits;
  // The architecture that decodes a stream whose header names `id`: the model's, or a
  // model-free codec's; StreamError (wrong model) otherwise.
  Architecture& for_stream(const uint8_t* data, size_t size);
};

// A file that ships with nlc (the default model, the bundled classifier): $env_var, else
// <prefix>/share/nlc/share_name beside the running program, else `installed` (the
// configured install path), else `source` (the source tree's); ModelError(missing) if none.
std::string bundled_file(const char* env_var, const char* share_name, const char* installed, const char* source,
                         const char* missing);

namespace internal {
// The codec's model, to set a backend directly (tests) or look at it.
Architecture& architecture(Encoder& e);
Architecture& architecture(Decoder& d);
}  // namespace internal

}  // namespace nlc
