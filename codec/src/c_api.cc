// The C API (nlc/nlc.h) over the C++ Encoder/Decoder: exceptions become status codes and a
// thread-local message; nothing throws across the boundary.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "nlc/codec.h"
#include "nlc/image.h"
#include "nlc/nlc.h"


struct nlc_encoder {
  nlc::Encoder enc;
};
struct nlc_decoder {
  nlc::Decoder dec;
};

namespace {

thread_local std::string g_error;

template <class F>
nlc_status guarded(F&& f) {
  try {
    g_error.clear();
    f();
    return NLC_OK;
  } catch (const nlc::ImageError& e) {
    g_error = e.what();
    return NLC_ERROR_IMAGE;
  } catch (const nlc::ModelError& e) {
    g_error = e.what();
    return NLC_ERROR_MODEL;
  } catch (const nlc::LimitError& e) {
    g_error = e.what();
    return NLC_ERROR_LIMIT;
  } catch (const nlc::StreamError& e) {
    g_error = e.what();
    return NLC_ERROR_STREAM;
  } catch (const nlc::DeviceError& e) {
    g_error = e.what();
    return NLC_ERROR_DEVICE;
  } catch (const std::invalid_argument& e) {
    g_error = e.what();
    return NLC_ERROR_ARGUMENT;
  } catch (const std::bad_alloc&) {
    g_error = "out of memory";
    return NLC_ERROR_MEMORY;
  } catch (const std::exception& e) {
    g_error = e.what();
    return NLC_ERROR_INTERNAL;
  } catch (...) {
    g_error = "unknown error";
    return NLC_ERROR_INTERNAL;
  }
}

uint8_t* copy_out(const uint8_t* p, size_t n) {
  auto* out = static_cast<uint8_t*>(std::malloc(n ? n : 1));
  if (!out) throw std::bad_alloc();
  if (n) std::memcpy(out, p, n);
  return out;
}

// Device selection: "auto" that stays on the CPU succeeds and leaves the reason as the
// thread's last message.
template <class Codec>
nlc_status set_device(Codec& c, const char* device, int tensor_cores, const char* what) {
  if (!device) {
    g_error = std::string(what) + ": invalid argument (device is NULL)";
    return NLC_ERROR_ARGUMENT;
  }
  std::string why;
  nlc::DeviceOptions o;
  o.tensor_cores = tensor_cores != 0;
  nlc_status st = guarded([&] { why = c.set_device(device, o); });
  if (st == NLC_OK && !why.empty()) g_error = "no usable GPU (" + why + "); using the CPU";
  return st;
}

}  // namespace

extern "C" {

const char* nlc_version(void) { return NLC_VERSION_STRING; }
const char* nlc_last_error(void) { return g_error.c_str(); }
void nlc_free(void* p) { std::free(p); }
void nlc_set_threads(int n) { nlc::set_threads(n); }

nlc_status nlc_encoder_create(const char* model_path, nlc_encoder** out) {
  if (!out) {
    g_error = "nlc_encoder_create: invalid argument (out is NULL)";
    return NLC_ERROR_ARGUMENT;
  }
  *out = nullptr;
  return guarded([&] {
    *out = new nlc_encoder{nlc::Encoder(model_path ? model_path : nlc::default_model_path())};
  });
}

void nlc_encoder_destroy(nlc_encoder* enc) { delete enc; }

double nlc_encoder_max_quality(const nlc_encoder* enc) { return enc ? enc->enc.max_quality() : 0; }

nlc_status nlc_encode(nlc_encoder* enc, const uint8_t* pixels, int width, int height,
                      int channels, size_t stride, double quality, uint8_t** stream,
                      size_t* size) {
  if (!enc || !pixels || !stream || !size || width <= 0 || height <= 0 ||
      (channels != 1 && channels != 3) || stride < size_t(width) * size_t(channels)) {
    g_error = "nlc_encode: invalid argument";
    return NLC_ERROR_ARGUMENT;
  }
  *stream = nullptr;
  *size = 0;
  // Before copying the image: a size the format cannot carry is refused without allocating.
  if (width > 65535 || height > 65535) {
    g_error = "image " + std::to_string(width) + "x" + std::to_string(height) +
              " exceeds the format's 65535 pixels per side";
    return NLC_ERROR_IMAGE;
  }
  return guarded([&] {
    nlc::Image img{width, height, channels, {}};
    img.pixels.resize(size_t(width) * height * channels);
    const size_t row = size_t(width) * channels;
    for (int y = 0; y < height; ++y)
      std::memcpy(img.pixels.data() + size_t(y) * row, pixels + size_t(y) * stride, row);
    std::vector<uint8_t> s = enc->enc.encode(img, quality);
    *stream = copy_out(s.data(), s.size());
    *size = s.size();
  });
}

nlc_status nlc_encoder_set_device(nlc_encoder* enc, const char* device, int tensor_cores) {
  if (!enc) {
    g_error = "nlc_encoder_set_device: invalid argument (encoder is NULL)";
    return NLC_ERROR_ARGUMENT;
  }
  return set_device(enc->enc, device, tensor_cores, "nlc_encoder_set_device");
}

nlc_status nlc_decoder_create(const char* model_path, nlc_decoder** out) {
  if (!out) {
    g_error = "nlc_decoder_create: invalid argument (out is NULL)";
    return NLC_ERROR_ARGUMENT;
  }
  *out = nullptr;
  return guarded([&] {
    *out = new nlc_decoder{nlc::Decoder(model_path ? model_path : nlc::default_model_path())};
  });
}

void nlc_decoder_destroy(nlc_decoder* dec) { delete dec; }

nlc_status nlc_decode(nlc_decoder* dec, const uint8_t* stream, size_t size, uint8_t** pixels,
                      int* width, int* height, int* channels) {
  if (!dec || (!stream && size) || !pixels || !width || !height || !channels) {
    g_error = "nlc_decode: invalid argument";
    return NLC_ERROR_ARGUMENT;
  }
  *pixels = nullptr;
  return guarded([&] {
    nlc::Image img = dec->dec.decode(stream, size);
    *pixels = copy_out(img.pixels.data(), img.pixels.size());
    *width = img.width;
    *height = img.height;
    *channels = img.channels;
  });
}

nlc_status nlc_decoder_set_limits(nlc_decoder* dec, uint64_t max_pixels, double max_seconds) {
  if (!dec || !(max_seconds >= 0)) {
    g_error = "nlc_decoder_set_limits: invalid argument (decoder is NULL or max_seconds negative or NaN)";
    return NLC_ERROR_ARGUMENT;
  }
  return guarded([&] {
    nlc::DecodeLimits l;
    if (max_pixels) l.max_pixels = max_pixels;
    l.max_seconds = max_seconds;
    dec->dec.set_limits(l);
  });
}

nlc_status nlc_decoder_set_device(nlc_decoder* dec, const char* device, int tensor_cores) {
  if (!dec) {
    g_error = "nlc_decoder_set_device: invalid argument (decoder is NULL)";
    return NLC_ERROR_ARGUMENT;
  }
  return set_device(dec->dec, device, tensor_cores, "nlc_decoder_set_device");
}

nlc_status nlc_decode_latent(nlc_decoder* dec, const uint8_t* stream, size_t size,
                             float** latent, int* height, int* width, int* channels,
                             int* stride, double* quality) {
  if (!dec || (!stream && size) || !latent || !height || !width || !channels || !stride ||
      !quality) {
    g_error = "nlc_decode_latent: invalid argument (a NULL pointer)";
    return NLC_ERROR_ARGUMENT;
  }
  *latent = nullptr;
  return guarded([&] {
    const nlc::DecodedLatent l = dec->dec.decode_latent(stream, size);
    const size_t bytes = l.data.size() * sizeof(float);
    *latent = reinterpret_cast<float*>(copy_out(reinterpret_cast<const uint8_t*>(l.data.data()), bytes));
    *height = l.height;
    *width = l.width;
    *channels = l.channels;
    *stride = l.stride;
    *quality = l.quality;
  });
}

nlc_status nlc_write_file(const char* path, const uint8_t* data, size_t size) {
  if (!path || (!data && size)) {
    g_error = "nlc_write_file: invalid argument (a NULL pointer)";
    return NLC_ERROR_ARGUMENT;
  }
  return guarded([&] { nlc::write_file_atomic(path, std::vector<uint8_t>(data, data + size)); });
}

double nlc_psnr(const uint8_t* a, const uint8_t* b, size_t n) { return nlc::psnr(a, b, n); }

}  // extern "C"
