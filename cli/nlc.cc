// nlc: command-line front end.
//
//   nlc estimate IN.png [-o OUT.png] [-q Q] [--model PATH] [--reference] [--threads N]
//       Runs the model on IN (analysis, quantisation, synthesis), writes the reconstruction,
//       prints the rate the entropy model estimates and the PSNR of the 8-bit result.
//   nlc model-info [--model PATH]
//
// Exit codes: 0 success, 1 runtime failure (bad input, bad model), 2 usage error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "models/hyperprior.h"
#include "nlc/image.h"

#ifndef NLC_DEFAULT_MODEL
#define NLC_DEFAULT_MODEL ""
#endif

namespace {

const char* kUsage =
    "usage: nlc <command> [options]\n"
    "\n"
    "commands:\n"
    "  estimate IN.png [-o OUT.png] [-q Q]   run the model, write the reconstruction,\n"
    "                                        print estimated bpp and PSNR\n"
    "  model-info                            print the model's architecture and identity\n"
    "\n"
    "options:\n"
    "  -q, --quality Q    continuous quality in [0, Q-1] of the model (default 3)\n"
    "  -m, --model PATH   model file (.nlcm); default: $NLC_MODEL, else the bundled model\n"
    "  --reference        run the plain reference kernels instead of the optimised ones\n"
    "  --threads N        CPU threads for the optimised kernels (default: all cores)\n"
    "  -h, --help         this text\n"
    "\n"
    "exit codes: 0 success, 1 failure (unreadable input, bad model...), 2 usage error\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string default_model_path(const char* argv0) {
  if (const char* env = std::getenv("NLC_MODEL"); env && *env) return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "nlc" / "default.nlcm";
    if (fs::exists(installed)) return installed.string();
  }
  (void)argv0;
  if (fs::exists(NLC_DEFAULT_MODEL)) return NLC_DEFAULT_MODEL;
  throw nlc::ModelError("no model given and the bundled model was not found; use --model PATH");
}

struct Options {
  std::string command, input, output, model;
  double quality = 3.0;
  bool reference = false;
  int threads = 0;
};

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
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "-o" || a == "--output") {
      o.output = value("-o");
    } else if (a == "-q" || a == "--quality") {
      std::string v = value("-q");
      char* end = nullptr;
      o.quality = std::strtod(v.c_str(), &end);
      if (!end || *end) throw UsageError("quality '" + v + "' is not a number");
    } else if (a == "-m" || a == "--model") {
      o.model = value("--model");
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
  o.command = pos[0];
  if (o.command == "estimate") {
    if (pos.size() != 2) throw UsageError("estimate takes one input image");
    o.input = pos[1];
  } else if (o.command == "model-info") {
    if (pos.size() != 1) throw UsageError("model-info takes no arguments");
  } else {
    throw UsageError("unknown command '" + o.command + "'");
  }
  return o;
}

int run(const Options& o, const char* argv0) {
  using clock = std::chrono::steady_clock;
  nlc::set_num_threads(o.threads);
  std::string model_path = o.model.empty() ? default_model_path(argv0) : o.model;
  nlc::ModelFile file = nlc::load_model_file(model_path);
  nlc::MeanScaleHyperprior model(file, o.reference ? nlc::Backend::kReference
                                                   : nlc::Backend::kOptimized);
  if (o.command == "model-info") {
    std::printf("model     %s\narch      %s (format %d.%d)\nidentity  sha256:%s\n"
                "N, M      %d, %d\nqualities 0 .. %d (lambda %.4g .. %.4g)\n",
                model_path.c_str(), file.arch.c_str(), file.major, file.minor,
                file.identity_hex().c_str(), model.N(), model.M(), model.num_qualities() - 1,
                model.lambdas().front(), model.lambdas().back());
    return 0;
  }
  nlc::Image img = nlc::read_png(o.input);
  auto t0 = clock::now();
  nlc::Tensor x = nlc::image_to_tensor(img, nlc::MeanScaleHyperprior::kAlign);
  nlc::MeanScaleHyperprior::Result r = model.forward(x, o.quality);
  nlc::Image rec = nlc::tensor_to_image(r.x_hat, img.width, img.height, img.channels);
  double secs = std::chrono::duration<double>(clock::now() - t0).count();
  double pixels = double(img.width) * img.height;
  if (!o.output.empty()) nlc::write_png(o.output, rec);
  std::printf("%s: %dx%d, quality %.3g, model %.12s\n", o.input.c_str(), img.width, img.height,
              o.quality, model.identity_hex().c_str());
  std::printf("estimated rate  %.4f bpp (y %.4f + z %.4f)\n",
              (r.bits_y + r.bits_z) / pixels, r.bits_y / pixels, r.bits_z / pixels);
  std::printf("PSNR-RGB        %.3f dB (8-bit reconstruction)\n", nlc::psnr(img, rec));
  std::printf("time            %.3f s (%s kernels, %d threads)\n", secs,
              o.reference ? "reference" : "optimised", nlc::num_threads());
  if (!o.output.empty()) std::printf("wrote           %s\n", o.output.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv), argv[0]);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "nlc: %s\n\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nlc: error: %s\n", e.what());
    return 1;
  }
}
