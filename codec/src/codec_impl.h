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
};
struct Decoder::Impl {
  std::unique_ptr<Architecture> model;
};

namespace internal {
// The codec's model, to set a backend directly (tests) or look at it.
Architecture& architecture(Encoder& e);
Architecture& architecture(Decoder& d);
}  // namespace internal

}  // namespace nlc
