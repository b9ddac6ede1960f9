// nlc: command-line front end (usage text below). Exit codes: 0 success, 1 runtime failure
// (bad input, bad model, undecodable stream), 2 usage error.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "eval/eval.h"
#include "nlc/classify.h"
#include "nlc/codec.h"
#include "nlc/image.h"
#include "cli/json.h"
#include "cli/npy.h"
#include "cli/serve.h"

namespace {

// The usage text; the INR efforts' range and default are nlc/codec.h's.
std::string usage() {
  return
    "usage: nlc <command> [options]\n"
    "\n"
    "commands:\n"
    "  encode IN -o OUT.nlc [-q Q]           compress an image to a stream: PNG, JPEG (EXIF\n"
    "                                        orientation applied), PPM or PGM, 8-bit RGB or\n"
    "                                        gray, recognised by its content\n"
    "         [--clc]                        with the bundled CLC model: the default model's\n"
    "                                        transforms, its entropy model conditioned on a\n"
    "                                        reference from a dictionary (docs/clc.md)\n"
    "         [--codec inr [--effort E]]     with the INR codec: a model fitted to this image\n"
    "                                        (no model file; effort 0.." + std::to_string(nlc::kMaxEffort) +
    ", default " + std::to_string(nlc::kDefaultEffort) + "; progress\n"
    "                                        on stderr; Ctrl-C stops fitting and still writes)\n"
    "         [--tile T[:O]]                 code images larger than T x T in tiles of T\n"
    "                                        overlapping by O (default: tiles of 1024 by 16\n"
    "                                        above 2048 x 2048 pixels; T a multiple of 64 up\n"
    "                                        to 2048, O 0 or a multiple of 16 up to T / 2)\n"
    "  decode IN.nlc -o OUT.png              decompress a stream (OUT.ppm/.pgm/.pnm: PNM)\n"
    "  decode IN.nlc --latent -o OUT.npy     the decoded latent without the synthesis: float32\n"
    "                                        height x width x channels, numpy .npy\n"
    "  info IN.nlc                           header, sections, sizes and bpp of a stream\n"
    "  classify IN.nlc... [--classifier PATH] [--top K] [--json]\n"
    "                                        labels of streams from their latents, without\n"
    "                                        decoding pixels (default classifier: Imagenette's\n"
    "                                        10 classes; K default 5); exit 1 if any fails\n"
    "  serve [--listen HOST:PORT] [--classifier PATH] [--threads N] [--max-body BYTES]\n"
    "        [--queue N] [--token T]         HTTP service (README, \"Vision services\"):\n"
    "                                        POST /v1/classify, /v1/decode, /v1/latent with a\n"
    "                                        .nlc body; GET /healthz, /metrics. Default\n"
    "                                        127.0.0.1:8080 (port 0: any free one); N requests\n"
    "                                        coded at once (default: the cores), N more wait\n"
    "                                        (--queue, default 64), then 503; bodies up to\n"
    "                                        64 MiB; --token: Authorization: Bearer T on all\n"
    "                                        but /healthz; SIGTERM finishes requests, exits\n"
    "  estimate IN [-o OUT.png] [-q Q]       run the model without coding: reconstruction,\n"
    "                                        estimated bpp and PSNR\n"
    "  model-info                            print the model's architecture and identity\n"
    "                                        (-m: a codec model or a classifier)\n"
    "  compare A B                           PSNR-RGB between two 8-bit images (any input format)\n"
    "  eval DIR [-q LIST] [--baselines LIST] [-o OUTDIR] [--published JSON] [--label TEXT]\n"
    "                                        rate-distortion on every PNG in DIR through real\n"
    "                                        files: bpp, PSNR-RGB, MS-SSIM, times, BD-rates;\n"
    "                                        writes OUTDIR/report.json, report.csv, rd.svg\n"
    "                                        (-q 0,1.5,3; baselines jpeg,webp,avif,jpeg2000;\n"
    "                                        OUTDIR default nlc-eval; --limit N: first N images;\n"
    "                                        --codec inr [--effort E]: the INR codec's curve;\n"
    "                                        --clc: the CLC model's curve, and BD-rate against\n"
    "                                        the same transforms without the reference)\n"
    "  bench IN [-q Q] [--repeat N] [--batch B] [--codec inr [--effort E]]\n"
    "                                        time encode and decode through the API on this\n"
    "                                        machine (wall clock, after one warm-up call):\n"
    "                                        median and best ms, MP/s, frames/s; --batch B\n"
    "                                        also decodes B copies per call (decode_batch)\n"
    "  ('-' as IN or OUT: standard input or output)\n"
    "\n"
    "options:\n"
    "  -q, --quality Q    continuous quality in [0, Q-1] of the model (default 3)\n"
    "  -m, --model PATH   model file (.nlcm); default: $NLC_MODEL, else the bundled model\n"
    "  --reference        run the plain reference kernels instead of the optimised ones\n"
    "  --threads N        CPU threads for the optimised kernels (default: all cores)\n"
    "  --device D         encode/decode on cpu (default), cuda, or auto (the GPU when one is\n"
    "                     usable, else the CPU with one line on stderr)\n"
    "  --tensor-cores     with the GPU: convolutions on tensor cores (reduced precision)\n"
    "  --force            replace a read-only output file\n"
    "  --max-pixels N     decode: refuse streams of more than N pixels (default and most:\n"
    "                     16384 x 16384), before allocating anything\n"
    "  --max-seconds S    decode: stop (exit 1) once decoding has run S seconds (checked\n"
    "                     after each tile; default: no limit)\n"
    "  -h, --help         this text\n"
    "\n"
    "exit codes: 0 success, 1 failure (unreadable input, bad model...), 2 usage error\n";
}

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};


struct Options {
  std::string command, input, output, model;
  double quality = 3.0;
  std::string quality_text, baselines, published, label, device = "cpu";
  bool tensor_cores = false;
  size_t limit = 0;
  int repeat = 5, batch = 0;
  bool reference = false, latent = false, force = false;
  int threads = 0;
  std::string codec;  // "" (the model's) or "inr"
  bool clc = false;   // --clc: the bundled CLC model
  int effort = nlc::kDefaultEffort;
  uint32_t tile = 0, tile_overlap = 0;  // --tile T[:O]; 0: the encoder's default
  std::vector<std::string> inputs;      // classify: every stream
  std::string classifier;               // --classifier PATH
  int top = 5;
  bool json = false;
  nlc_cli::ServeOptions serve;  // serve's own options
  nlc::DecodeLimits limits;
};

double number(const std::string& v, const std::string& what) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || !end || *end) throw UsageError(what + " '" + v + "' is not a number");
  return x;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* what) -> std::string {
      if (i + 1 >= argc) throw UsageError(std::string(what) + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(usage().c_str(), stdout);
      std::exit(0);
    } else if (a == "-o" || a == "--output") {
      o.output = value("-o");
    } else if (a == "-q" || a == "--quality") {
      o.quality_text = value("-q");
    } else if (a == "-m" || a == "--model") {
      o.model = value("--model");
    } else if (a == "--device") {
      o.device = value("--device");
      if (o.device != "cpu" && o.device != "cuda" && o.device != "auto")
        throw UsageError("--device must be cpu, cuda or auto, not '" + o.device + "'");
    } else if (a == "--tensor-cores") {
      o.tensor_cores = true;
    } else if (a == "--baselines") {
      o.baselines = value("--baselines");
    } else if (a == "--published") {
      o.published = value("--published");
    } else if (a == "--label") {
      o.label = value("--label");
    } else if (a == "--limit") {
      const int n = std::atoi(value("--limit").c_str());
      if (n <= 0) throw UsageError("--limit needs a positive number");
      o.limit = size_t(n);
    } else if (a == "--repeat") {
      o.repeat = std::atoi(value("--repeat").c_str());
      if (o.repeat <= 0) throw UsageError("--repeat needs a positive number");
    } else if (a == "--batch") {
      o.batch = std::atoi(value("--batch").c_str());
      // Every copy's output image is held at once: bounded so that a typo cannot exhaust memory.
      if (o.batch <= 0 || o.batch > 1024) throw UsageError("--batch needs a number in [1, 1024]");
    } else if (a == "--clc") {
      o.clc = true;
    } else if (a == "--codec") {
      o.codec = value("--codec");
      if (o.codec != "inr") throw UsageError("--codec must be inr (or left out for the model's codec)");
    } else if (a == "--effort") {
      const std::string e = value("--effort");
      if (e.size() != 1 || e[0] < '0' || e[0] > '0' + nlc::kMaxEffort)
        throw UsageError("--effort must be an integer from 0 to " + std::to_string(nlc::kMaxEffort));
      o.effort = e[0] - '0';
    } else if (a == "--tile") {
      const std::string v = value("--tile");
      const size_t colon = v.find(':');
      const double t = number(v.substr(0, colon), "--tile");
      const double ov = colon == std::string::npos ? 0 : number(v.substr(colon + 1), "--tile overlap");
      if (!(t >= 64 && t <= 2048) || std::fmod(t, 64) != 0 || !(ov >= 0 && ov <= 128) || std::fmod(ov, 16) != 0 ||
          2 * ov > t)
        throw UsageError("--tile T[:O]: T a multiple of 64 from 64 to 2048, O 0 or a multiple of 16 up to T / 2 and 128");
      o.tile = uint32_t(t);
      o.tile_overlap = uint32_t(ov);
    } else if (a == "--classifier") {
      o.classifier = value("--classifier");
    } else if (a == "--top") {
      const double k = number(value("--top"), "--top");
      if (!(k >= 1 && k <= 1000) || k != std::floor(k)) throw UsageError("--top must be a whole number from 1 to 1000");
      o.top = int(k);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--listen") {
      o.serve.listen = value("--listen");
    } else if (a == "--token") {
      o.serve.token = value("--token");
      if (o.serve.token.empty()) throw UsageError("--token must not be empty");
    } else if (a == "--max-body") {
      const double n = number(value("--max-body"), "--max-body");
      if (!(n >= 1 && n <= double(size_t(1) << 32)) || n != std::floor(n))
        throw UsageError("--max-body must be a whole number of bytes from 1 to 4 GiB");
      o.serve.max_body = size_t(n);
    } else if (a == "--queue") {
      const double n = number(value("--queue"), "--queue");
      if (!(n >= 0 && n <= 100000) || n != std::floor(n)) throw UsageError("--queue must be a whole number from 0 to 100000");
      o.serve.queue = int(n);
    } else if (a == "--force") {
      o.force = true;
    } else if (a == "--max-pixels") {
      const double n = number(value("--max-pixels"), "--max-pixels");
      if (!(n >= 1) || n > double(nlc::kMaxDecodedPixels) || n != std::floor(n))
        throw UsageError("--max-pixels must be a whole number from 1 to " + std::to_string(nlc::kMaxDecodedPixels));
      o.limits.max_pixels = uint64_t(n);
    } else if (a == "--max-seconds") {
      o.limits.max_seconds = number(value("--max-seconds"), "--max-seconds");
      if (!(o.limits.max_seconds > 0)) throw UsageError("--max-seconds must be positive");
    } else if (a == "--latent") {
      o.latent = true;
    } else if (a == "--reference") {
      o.reference = true;
    } else if (a == "--threads") {
      o.threads = std::atoi(value("--threads").c_str());
      if (o.threads <= 0) throw UsageError("--threads needs a positive number");
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError("unknown option " + a);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.empty()) throw UsageError("no command given");
  if (!o.quality_text.empty() && pos[0] != "eval") o.quality = number(o.quality_text, "quality");
  o.command = pos[0];
  if (o.command == "estimate" || o.command == "encode" || o.command == "decode" ||
      o.command == "info" || o.command == "bench") {
    if (pos.size() != 2) throw UsageError(o.command + " takes one input");
    o.input = pos[1];
    if ((o.command == "encode" || o.command == "decode") && o.output.empty())
      throw UsageError(o.command + " needs -o OUTPUT");
  } else if (o.command == "compare") {
    if (pos.size() != 3) throw UsageError("compare takes two images");
    o.input = pos[1];
    o.output = pos[2];
  } else if (o.command == "eval") {
    if (pos.size() != 2) throw UsageError("eval takes one folder");
    o.input = pos[1];
  } else if (o.command == "classify") {
    if (pos.size() < 2) throw UsageError("classify takes one or more streams");
    o.inputs.assign(pos.begin() + 1, pos.end());
  } else if (o.command == "serve") {
    if (pos.size() != 1) throw UsageError("serve takes no arguments (options only)");
  } else if (o.command == "model-info") {
    if (pos.size() != 1) throw UsageError("model-info takes no arguments");
  } else {
    throw UsageError("unknown command '" + o.command + "'");
  }
  return o;
}

int info(const Options& o) {
  std::vector<uint8_t> bytes = nlc::read_file(o.input);
  const nlc::StreamInfo i = nlc::stream_info(bytes.data(), bytes.size());
  double pixels = double(i.width) * i.height;
  std::printf("stream      %s\nversion     %d.%d\nmodel       sha256:%s\n", o.input.c_str(),
              i.major, i.minor, i.model_identity.c_str());
  std::printf("image       %ux%u, %d-bit %s\nquality     %.5f\ntiles       %s\n", i.width,
              i.height, i.bit_depth, i.channels == 1 ? "gray" : "RGB", i.quality,
              i.tile_size ? (std::to_string(i.tile_size) +
                             (i.tile_overlap ? " overlapping by " + std::to_string(i.tile_overlap) : std::string()))
                                .c_str()
                          : "one");
  for (const auto& s : i.sections)
    std::printf("section     %-12s %8zu bytes at %zu\n", s.name.c_str(), s.size, s.offset);
  if (i.skipped_optional) std::printf("skipped     %zu unknown optional sections\n", i.skipped_optional);
  std::printf("size        %zu bytes\nbpp         %.6f\n", bytes.size(), 8.0 * double(bytes.size()) / pixels);
  return 0;
}

// --device: cpu leaves the codec on the CPU; cuda requires a usable GPU; auto takes the GPU
// when one is usable, else says so in one line and stays on the CPU.
template <class Codec>
void choose_device(Codec& codec, const std::string& device, bool tensor_cores) {
  nlc::DeviceOptions opt;
  opt.tensor_cores = tensor_cores;
  const std::string why = codec.set_device(device, opt);
  if (!why.empty()) std::fprintf(stderr, "nlc: no usable GPU (%s); using the CPU\n", why.c_str());
}

nlc::WriteOptions write_options(const Options& o) {
  nlc::WriteOptions w;
  w.replace_read_only = o.force;
  return w;
}

// Ctrl-C while a codec fits its model: the first stops fitting (the stream is still written,
// from the state reached), a second one ends the program.
std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) {
  if (g_stop.exchange(true)) std::_Exit(130);
}

// An encoder for --codec inr: progress on stderr (iteration, loss, bpp and PSNR estimates,
// time left), Ctrl-C stops fitting.
nlc::Encoder fitting_encoder(const Options& o) {
  nlc::FitOptions f;
  f.effort = o.effort;
  f.stop = &g_stop;
  const auto t0 = std::chrono::steady_clock::now();
  f.progress = [t0](const nlc::FitProgress& p) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double eta = p.done > 0 ? s * (1 - p.done) / p.done : 0;
    std::fprintf(stderr, "\rfitting %5d/%d %s loss %.5f  %.3f bpp  %.2f dB  %4.0f s left ",
                 p.iteration, p.total, p.scale == 1 ? "(1/2 size)" : "          ", p.loss, p.bpp, p.psnr, eta);
    if (p.iteration == p.total) std::fputc('\n', stderr);
  };
  std::signal(SIGINT, on_sigint);
  return nlc::Encoder::without_model(o.codec, f);
}

// Wall-clock seconds of `repeat` calls of f after one warm-up call (cuDNN's algorithm
// choice, memory pools, oneDNN's primitives): median and best.
// repeat 0: one call, timed, without warm-up (a fitting encoder's minutes).
template <class F>
std::pair<double, double> time_calls(int repeat, F f) {
  using clock = std::chrono::steady_clock;
  if (repeat == 0) {
    const auto t0 = clock::now();
    f();
    const double t = std::chrono::duration<double>(clock::now() - t0).count();
    return {t, t};
  }
  f();
  std::vector<double> t;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = clock::now();
    f();
    t.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front()};
}

// nlc bench: the codec's speed on this machine and device, through the public API.
int bench(const Options& o, const std::string& model_path) {
  const nlc::Image img = nlc::read_image(o.input);
  const bool fits = !o.codec.empty();  // a codec that fits per image: encode is timed once
  nlc::FitOptions fit;
  fit.effort = o.effort;
  nlc::Encoder enc = fits ? nlc::Encoder::without_model(o.codec, fit) : nlc::Encoder(model_path);
  nlc::Decoder dec(model_path);
  choose_device(enc, o.device, o.tensor_cores);
  choose_device(dec, o.device, o.tensor_cores);
  const double mp = double(img.width) * img.height * 1e-6;
  std::vector<uint8_t> stream;
  std::printf("%s: %dx%d, quality %.3g, device %s, %d threads, %d timed calls each\n",
              o.input.c_str(), img.width, img.height, o.quality, dec.device().c_str(),
              nlc::threads(), o.repeat);
  auto report = [&](const char* what, std::pair<double, double> t, double frames) {
    std::printf("%-14s median %9.2f ms  best %9.2f ms  %8.2f MP/s  %8.2f frames/s\n", what,
                t.first * 1e3, t.second * 1e3, frames * mp / t.first, frames / t.first);
  };
  report("encode", time_calls(fits ? 0 : o.repeat, [&] { stream = enc.encode(img, o.quality); }), 1);
  std::printf("%-14s %zu bytes, %.4f bpp\n", "stream", stream.size(), 8.0 * double(stream.size()) / (mp * 1e6));
  nlc::Image out;
  report("decode", time_calls(o.repeat, [&] { out = dec.decode(stream); }), 1);
  // Where the last decode's time went, for codecs that report it.
  for (const auto& [stage, ms] : dec.last_profile()) std::printf("  %-12s %9.2f ms\n", stage.c_str(), ms);
  std::printf("%-14s %.3f dB\n", "PSNR-RGB", nlc::psnr(img, out));
  if (o.batch > 0) {
    const std::vector<std::vector<uint8_t>> streams(size_t(o.batch), stream);
    const std::string what = "decode x" + std::to_string(o.batch);
    report(what.c_str(), time_calls(o.repeat, [&] { dec.decode_batch(streams); }), o.batch);
  }
  return 0;
}

// Labels of streams from their latents (compressed-domain inference). Every stream is
// tried; a failing one is named on stderr and makes the exit status 1.
int classify(const Options& o, const std::string& codec_model) {
  nlc::Classifier c(o.classifier.empty() ? nlc::default_classifier_path() : o.classifier, codec_model);
  c.set_limits(o.limits);
  int status = 0;
  bool first = true;
  if (o.json) std::printf("[");
  for (const std::string& in : o.inputs) {
    nlc::Classification r;
    try {
      const std::vector<uint8_t> s = nlc::read_file(in);
      r = c.classify(s, o.top);
    } catch (const nlc::StreamError& e) {
      std::fprintf(stderr, "nlc: %s: invalid stream: %s\n", in.c_str(), e.what());
      status = 1;
      continue;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nlc: %s: error: %s\n", in.c_str(), e.what());
      status = 1;
      continue;
    }
    if (o.json) {
      std::printf("%s\n {\"file\": %s, \"top\": [", first ? "" : ",", nlc_cli::json_string(in).c_str());
      for (size_t i = 0; i < r.top.size(); ++i)
        std::printf("%s{\"class\": %s, \"label\": %s, \"probability\": %.6f}", i ? ", " : "",
                    nlc_cli::json_string(r.top[i].id).c_str(), nlc_cli::json_string(r.top[i].name).c_str(), r.top[i].probability);
      std::printf("], \"decode_ms\": %.3f, \"infer_ms\": %.3f}", r.decode_ms, r.infer_ms);
    } else {
      std::printf("%s:", in.c_str());
      for (size_t i = 0; i < r.top.size(); ++i)
        std::printf("%s %s %.4f", i ? "," : "", r.top[i].name.c_str(), r.top[i].probability);
      std::printf("\n");
    }
    first = false;
  }
  if (o.json) std::printf("%s]\n", first ? "" : "\n");
  return status;
}

int run(const Options& o) {
  using clock = std::chrono::steady_clock;
  nlc::set_threads(o.threads);
  if (o.command == "info") return info(o);
  if (o.command == "compare") {
    nlc::Image a = nlc::read_image(o.input), b = nlc::read_image(o.output);
    std::printf("PSNR-RGB %.3f dB\n", nlc::psnr(a, b));
    return 0;
  }
  if (o.command == "eval") {
    nlc::eval::Options e;
    e.dir = o.input;
    if (!o.output.empty()) e.out_dir = o.output;
    e.model = o.model;
    e.codec = o.codec;
    e.clc = o.clc;
    e.effort = o.effort;
    for (const auto& q : split(o.quality_text)) e.qualities.push_back(number(q, "quality"));
    e.baselines = split(o.baselines);
    e.published = o.published;
    e.label = o.label;
    e.limit = o.limit;
    return nlc::eval::run(e);
  }
  std::string model_path = !o.model.empty() ? o.model : o.clc ? nlc::default_clc_model_path()
                                                               : nlc::default_model_path();
  if (o.command == "encode") {
    nlc::Image img = nlc::read_image(o.input);
    nlc::Encoder enc = o.codec.empty() ? nlc::Encoder(model_path) : fitting_encoder(o);
    choose_device(enc, o.device, o.tensor_cores);
    if (o.tile) enc.set_tiling(o.tile, o.tile_overlap);
    nlc::EncodeStats st;
    std::vector<uint8_t> s = enc.encode(img, o.quality, &st);
    nlc::write_file_atomic(o.output, s, write_options(o));
    std::fprintf(stderr, "%s: %dx%d -> %zu bytes, %.4f bpp, %.3f s\n", o.input.c_str(), img.width,
                 img.height, st.bytes, st.bpp, st.seconds);
    return 0;
  }
  if (o.command == "bench") return bench(o, model_path);
  if (o.command == "classify") return classify(o, o.model.empty() ? "" : model_path);
  if (o.command == "serve") {
    nlc_cli::ServeOptions s = o.serve;
    s.classifier = o.classifier;
    s.model = o.model.empty() ? "" : model_path;
    s.threads = o.threads;
    // A service decodes untrusted streams: 16 Mpixels and 30 s a request unless told otherwise.
    s.limits.max_pixels = o.limits.max_pixels == nlc::DecodeLimits{}.max_pixels ? uint64_t(1) << 24 : o.limits.max_pixels;
    s.limits.max_seconds = o.limits.max_seconds > 0 ? o.limits.max_seconds : 30;
    return nlc_cli::serve(s);
  }
  if (o.command == "decode" && o.latent) {
    std::vector<uint8_t> s = nlc::read_file(o.input);
    nlc::Decoder dec(model_path);
    dec.set_limits(o.limits);
    choose_device(dec, o.device, o.tensor_cores);
    const nlc::DecodedLatent l = dec.decode_latent(s.data(), s.size());
    nlc::write_file_atomic(o.output, nlc_cli::npy(l), write_options(o));
    std::fprintf(stderr, "%s: latent %dx%dx%d (1/%d of the padded image), quality %.5f\n",
                 o.input.c_str(), l.height, l.width, l.channels, l.stride, l.quality);
    return 0;
  }
  if (o.command == "decode") {
    std::vector<uint8_t> s = nlc::read_file(o.input);
    nlc::Decoder dec(model_path);
    dec.set_limits(o.limits);
    choose_device(dec, o.device, o.tensor_cores);
    auto t0 = clock::now();
    nlc::Image img = dec.decode(s);
    double secs = std::chrono::duration<double>(clock::now() - t0).count();
    nlc::write_image(o.output, img, write_options(o));
    std::fprintf(stderr, "%s: %dx%d decoded in %.3f s\n", o.input.c_str(), img.width, img.height, secs);
    return 0;
  }
  if (o.command == "model-info") {
    const nlc::ModelInfo m = nlc::model_info(model_path);
    std::printf("model     %s\narch      %s (format %d.%d)\nidentity  sha256:%s\n", m.path.c_str(),
                m.arch.c_str(), m.format_major, m.format_minor, m.identity.c_str());
    for (const auto& [k, v] : m.details) std::printf("%-9s %s\n", k.c_str(), v.c_str());
    return 0;
  }
  nlc::Image img = nlc::read_image(o.input);
  const nlc::Estimate e = nlc::estimate(model_path, img, o.quality, o.reference);
  if (!o.output.empty()) nlc::write_image(o.output, e.reconstruction, write_options(o));
  std::printf("%s: %dx%d, quality %.3g, model %.12s\n", o.input.c_str(), img.width, img.height,
              o.quality, nlc::model_info(model_path).identity.c_str());
  std::string parts;
  for (const auto& [k, v] : e.bpp_parts) {
    char b[64];
    std::snprintf(b, sizeof b, "%s%s %.4f", parts.empty() ? "" : " + ", k.c_str(), v);
    parts += b;
  }
  std::printf("estimated rate  %.4f bpp (%s)\n", e.bpp, parts.c_str());
  std::printf("PSNR-RGB        %.3f dB (8-bit reconstruction)\n", nlc::psnr(img, e.reconstruction));
  std::printf("time            %.3f s (%s kernels, %d threads)\n", e.seconds,
              o.reference ? "reference" : "optimised", nlc::threads());
  if (!o.output.empty()) std::printf("wrote           %s\n", o.output.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "nlc: %s\n\n%s", e.what(), usage().c_str());
    return 2;
  } catch (const nlc::StreamError& e) {
    std::fprintf(stderr, "nlc: invalid stream: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nlc: error: %s\n", e.what());
    return 1;
  }
}
