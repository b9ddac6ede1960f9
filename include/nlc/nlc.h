/* nlc C API: encode 8-bit images to .nlc streams and decode them back.
 *
 * For the FFmpeg filter and other languages. Every function returns an nlc_status; on
 * failure nlc_last_error() gives a message for the calling thread. Buffers returned by nlc
 * are released with nlc_free(). An encoder or decoder must not be used by two threads at
 * once; create one per thread. Link with -lnlc (pkg-config: nlc).
 */
#ifndef NLC_NLC_H
#define NLC_NLC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NLC_OK = 0,
  NLC_ERROR_ARGUMENT = 1, /* bad parameter (null pointer, quality out of range...) */
  NLC_ERROR_IMAGE = 2,    /* image nlc cannot code (size, channels) */
  NLC_ERROR_MODEL = 3,    /* model file missing, corrupt, wrong version */
  NLC_ERROR_STREAM = 4,   /* stream truncated, corrupt, or for another model */
  NLC_ERROR_MEMORY = 5,   /* out of memory */
  NLC_ERROR_INTERNAL = 6, /* anything else */
  NLC_ERROR_DEVICE = 7,   /* the device asked for cannot be used (no GPU, no plugin) */
  NLC_ERROR_LIMIT = 8     /* the stream needs more than nlc_decoder_set_limits allows */
} nlc_status;

typedef struct nlc_encoder nlc_encoder;
typedef struct nlc_decoder nlc_decoder;

const char* nlc_version(void);
/* Message of the calling thread's last failure ("" if none). */
const char* nlc_last_error(void);
void nlc_free(void* p);
/* CPU threads for coding, process-wide: every later call from any thread uses n (default:
 * all cores; n <= 0 leaves it). */
void nlc_set_threads(int n);

/* model_path NULL: the bundled/installed default model ($NLC_MODEL first). */
nlc_status nlc_encoder_create(const char* model_path, nlc_encoder** out);
void nlc_encoder_destroy(nlc_encoder* enc);
/* Highest quality the encoder's model accepts (qualities are continuous in [0, max]). */
double nlc_encoder_max_quality(const nlc_encoder* enc);
/* pixels: 8-bit, channels 1 (gray) or 3 (RGB, interleaved), rows `stride` bytes apart.
 * On success *stream (nlc_free it) holds *size bytes. */
nlc_status nlc_encode(nlc_encoder* enc, const uint8_t* pixels, int width, int height,
                      int channels, size_t stride, double quality, uint8_t** stream,
                      size_t* size);

/* Where the encoder runs: "cpu" (default), "cuda" (NLC_ERROR_DEVICE when no GPU is usable)
 * or "auto" (the GPU when usable, else the CPU; then nlc_last_error() says why the GPU was
 * not used). tensor_cores: nonzero lets GPU convolutions use tensor cores (reduced
 * precision). The streams decode identically on every device. */
nlc_status nlc_encoder_set_device(nlc_encoder* enc, const char* device, int tensor_cores);

nlc_status nlc_decoder_create(const char* model_path, nlc_decoder** out);
void nlc_decoder_destroy(nlc_decoder* dec);
/* The stream's dequantised latent, without the synthesis (what vision models read instead of
 * pixels; bit-identical to what nlc_decode synthesises from): on success *latent (nlc_free
 * it) holds height*width*channels float32 values, row-major with channels last; the latent
 * is 1/stride of the image (padded up) per side; *quality is the stream's. */
nlc_status nlc_decode_latent(nlc_decoder* dec, const uint8_t* stream, size_t size,
                             float** latent, int* height, int* width, int* channels,
                             int* stride, double* quality);
/* Bounds on what one stream may cost (C++ nlc::DecodeLimits): streams of more than max_pixels
 * pixels are refused before anything is allocated (0: the format's limit, 16384*16384); a
 * decode stops with NLC_ERROR_LIMIT once it has run max_seconds (checked after each tile;
 * 0: no limit, the default). A service decoding untrusted streams should set both. */
nlc_status nlc_decoder_set_limits(nlc_decoder* dec, uint64_t max_pixels, double max_seconds);
/* As nlc_encoder_set_device. */
nlc_status nlc_decoder_set_device(nlc_decoder* dec, const char* device, int tensor_cores);
/* On success *pixels (nlc_free it) holds width*height*channels bytes, rows packed. */
nlc_status nlc_decode(nlc_decoder* dec, const uint8_t* stream, size_t size, uint8_t** pixels,
                      int* width, int* height, int* channels);

/* Writes size bytes to path as nlc's tools do: a regular file through a temporary file in
 * its folder, flushed and renamed (nothing half-written is left; the replaced file's mode is
 * kept; a symlink's target is replaced; hard links are kept; a read-only file is refused);
 * devices and FIFOs are written directly. */
nlc_status nlc_write_file(const char* path, const uint8_t* data, size_t size);

/* PSNR in dB between two 8-bit images of n bytes each (peak 255 over all samples; infinity
 * when equal): nlc's one definition, as `nlc compare` and `nlc eval` report it. */
double nlc_psnr(const uint8_t* a, const uint8_t* b, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* NLC_NLC_H */
