// The exceptions the nlc C++ API throws; each message names the input and the problem.
#pragma once

#include <stdexcept>

namespace nlc {

// An input image nlc cannot read or code (unreadable file, 16-bit, alpha, too large...).
class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A model file that is missing, truncated, corrupt, of another version or architecture.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A stream (or part of one) that cannot be decoded exactly: truncated, corrupt, meant for
// another model, or needing something this decoder does not have.
class StreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A stream that asks for more than the decoder's limits allow (DecodeLimits in codec.h):
// more pixels, or more decoding time. A kind of StreamError (the stream is refused), told
// apart so that a service can answer "too large" rather than "corrupt".
class LimitError : public StreamError {
 public:
  using StreamError::StreamError;
};

// A device that cannot be used: --device cuda without a usable GPU, a missing or broken
// GPU plugin, an architecture the GPU backend does not run.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace nlc
