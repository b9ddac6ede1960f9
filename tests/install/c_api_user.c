/* A program outside the nlc tree, built against the installed library through pkg-config:
 * encodes a generated image with the C API, decodes it, and checks an error path. */
#include <nlc/nlc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const int w = 37, h = 21;
  unsigned char* px = malloc((size_t)w * h * 3);
  for (int i = 0; i < w * h * 3; ++i) px[i] = (unsigned char)(i * 7);
  nlc_encoder* enc = NULL;
  nlc_decoder* dec = NULL;
  nlc_set_threads(1);
  if (nlc_encoder_create(argv[1], &enc) != NLC_OK || nlc_decoder_create(argv[1], &dec) != NLC_OK) {
    fprintf(stderr, "create: %s\n", nlc_last_error());
    return 1;
  }
  uint8_t* s = NULL;
  size_t n = 0;
  if (nlc_encode(enc, px, w, h, 3, (size_t)w * 3, 2.0, &s, &n) != NLC_OK) {
    fprintf(stderr, "encode: %s\n", nlc_last_error());
    return 1;
  }
  uint8_t* out = NULL;
  int ow = 0, oh = 0, oc = 0;
  if (nlc_decode(dec, s, n, &out, &ow, &oh, &oc) != NLC_OK || ow != w || oh != h || oc != 3) {
    fprintf(stderr, "decode: %s\n", nlc_last_error());
    return 1;
  }
  nlc_free(out);
  float* latent = NULL;
  int lh = 0, lw = 0, lc = 0, ls = 0;
  double lq = 0;
  if (nlc_decode_latent(dec, s, n, &latent, &lh, &lw, &lc, &ls, &lq) != NLC_OK || ls != 16 ||
      lh != (h + 63) / 64 * 4 || lw != (w + 63) / 64 * 4 || lc <= 0 || lq != 2.0) {
    fprintf(stderr, "decode_latent: %s (%dx%dx%d, stride %d, quality %g)\n", nlc_last_error(),
            lh, lw, lc, ls, lq);
    return 1;
  }
  nlc_free(latent);
  if (nlc_decode_latent(dec, s, n / 2, &latent, &lh, &lw, &lc, &ls, &lq) != NLC_ERROR_STREAM) {
    fprintf(stderr, "decode_latent: a truncated stream was not reported\n");
    return 1;
  }
  /* Limits: a stream over max_pixels is NLC_ERROR_LIMIT with the limit named; 0 restores. */
  if (nlc_decoder_set_limits(dec, (uint64_t)w * h - 1, 0) != NLC_OK ||
      nlc_decode(dec, s, n, &out, &ow, &oh, &oc) != NLC_ERROR_LIMIT || !strstr(nlc_last_error(), "limit") ||
      nlc_decoder_set_limits(dec, 0, -1) != NLC_ERROR_ARGUMENT || nlc_decoder_set_limits(dec, 0, 0) != NLC_OK) {
    fprintf(stderr, "decoder limits: %s\n", nlc_last_error());
    return 1;
  }
  if (nlc_decode(dec, s, n, &out, &ow, &oh, &oc) != NLC_OK) {
    fprintf(stderr, "decode after the limits were lifted: %s\n", nlc_last_error());
    return 1;
  }
  nlc_free(out);
  const size_t bytes = n;
  if (nlc_decode(dec, s, n / 2, &out, &ow, &oh, &oc) != NLC_ERROR_STREAM || !*nlc_last_error()) {
    fprintf(stderr, "a truncated stream was not reported\n");
    return 1;
  }
  nlc_free(s);
  if (nlc_encode(enc, px, w, h, 3, (size_t)w * 3, 99.0, &s, &n) != NLC_ERROR_ARGUMENT) {
    fprintf(stderr, "an out-of-range quality was not reported\n");
    return 1;
  }
  /* Bad arguments get a status and a message; a folder is not a model; an image larger than
   * the format allows is refused before its pixels are read (px holds 37x21 pixels only). */
  if (nlc_encoder_create(argv[1], NULL) != NLC_ERROR_ARGUMENT || !*nlc_last_error()) {
    fprintf(stderr, "a NULL out-pointer was not reported with a message\n");
    return 1;
  }
  nlc_decoder* none = NULL;
  if (nlc_decoder_create("/", &none) != NLC_ERROR_MODEL || !strstr(nlc_last_error(), "folder")) {
    fprintf(stderr, "a folder as the model: %s\n", nlc_last_error());
    return 1;
  }
  if (nlc_encode(enc, px, 70000, 2, 3, (size_t)70000 * 3, 2.0, &s, &n) != NLC_ERROR_IMAGE) {
    fprintf(stderr, "an image wider than the format was not refused: %s\n", nlc_last_error());
    return 1;
  }
  /* Device selection through the library: cpu works, an unknown name is an argument error,
   * auto works everywhere (on the CPU it says why not the GPU), cuda works or says why not. */
  if (nlc_decoder_set_device(dec, "cpu", 0) != NLC_OK ||
      nlc_encoder_set_device(enc, "gpu", 0) != NLC_ERROR_ARGUMENT ||
      nlc_decoder_set_device(dec, "auto", 0) != NLC_OK) {
    fprintf(stderr, "device selection: %s\n", nlc_last_error());
    return 1;
  }
  const nlc_status cuda = nlc_decoder_set_device(dec, "cuda", 0);
  if (cuda != NLC_OK && (cuda != NLC_ERROR_DEVICE || !strstr(nlc_last_error(), "device cuda"))) {
    fprintf(stderr, "device cuda: status %d, %s\n", (int)cuda, nlc_last_error());
    return 1;
  }
  if (nlc_psnr(px, px, (size_t)w * h * 3) != nlc_psnr(px, px, 1) || nlc_psnr(px, s ? s : px, 1) < 0) {
    fprintf(stderr, "nlc_psnr of equal images is not infinite\n");
    return 1;
  }
  printf("nlc %s: %dx%d -> %zu bytes -> %dx%d; errors reported: %s\n", nlc_version(), w, h, bytes,
         ow, oh, nlc_last_error());
  nlc_encoder_destroy(enc);
  nlc_decoder_destroy(dec);
  free(px);
  return 0;
}
