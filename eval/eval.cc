#include "eval/eval.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <thread>

#include "eval/baselines.h"
#include "eval/bd_rate.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "nlc/codec.h"
#include "nlc/image.h"

namespace nlc::eval {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Image to_rgb(Image img) {
  if (img.channels == 3) return img;
  Image rgb{img.width, img.height, 3, {}};
  rgb.pixels.reserve(img.pixels.size() * 3);
  for (uint8_t v : img.pixels) rgb.pixels.insert(rgb.pixels.end(), 3, v);
  return rgb;
}

std::string machine() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads";
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return b;
}

std::string fmt(double v, int decimals) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

// On a terminal, one line rewritten at each coding; in a log (stderr not a terminal: nohup,
// CI, a pipe), a line for the first coding and then at most one every 30 s, with the time
// since the start, so that an hours-long INR evaluation shows where it is without a fast
// one's hundreds of codings filling the log.
struct Progress {
  bool on;
  bool tty = isatty(2);
  size_t done = 0, total = 0;
  Clock::time_point start = Clock::now(), last_line{};  // last_line: none yet while {}
  void step(const std::string& what) {
    ++done;
    if (!on) return;
    if (tty) {
      std::fprintf(stderr, "\r\033[K[%zu/%zu] %s", done, total, what.c_str());
      return;
    }
    const auto now = Clock::now();
    if (last_line != Clock::time_point{} && now - last_line < std::chrono::seconds(30)) return;
    const long s = long(std::chrono::duration_cast<std::chrono::seconds>(now - start).count());
    std::fprintf(stderr, "[%zu/%zu] %s (%ld:%02ld elapsed)\n", done, total, what.c_str(), s / 60, s % 60);
    std::fflush(stderr);
    last_line = now;
  }
  void line(const std::string& text) {
    if (!on) return;
    std::fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", text.c_str());
  }
};

Sample measure(const std::string& image, double quality, const Image& ref,
               const std::vector<uint8_t>& bytes, const Image& decoded, double enc_ms,
               double dec_ms) {
  if (decoded.width != ref.width || decoded.height != ref.height)
    throw std::runtime_error(image + ": decoded image has another size");
  Sample s;
  s.image = image;
  s.quality = quality;
  s.bytes = bytes.size();
  s.bpp = 8.0 * double(bytes.size()) / (double(ref.width) * ref.height);
  s.psnr = nlc::psnr(ref, decoded);
  s.ms_ssim = ms_ssim(ref, decoded);
  s.encode_ms = enc_ms;
  s.decode_ms = dec_ms;
  return s;
}

std::string curve_summary(const Curve& c, size_t i) {
  return c.name + " q=" + fmt(c.quality[i], 3) + ": " + fmt(c.bpp[i], 4) + " bpp, " +
         fmt(c.psnr[i], 2) + " dB, MS-SSIM " + fmt(c.ms_ssim[i], 4) + ", encode " +
         fmt(c.encode_ms[i], 1) + " ms, decode " + fmt(c.decode_ms[i], 1) + " ms (per image)";
}

}  // namespace

int run(const Options& opt) {
  // Images: every .png in the folder, by name.
  if (!fs::is_directory(opt.dir)) throw std::runtime_error("eval: '" + opt.dir + "' is not a folder");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(opt.dir))
    if (e.is_regular_file() && e.path().extension() == ".png") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (opt.limit && files.size() > opt.limit) files.resize(opt.limit);
  if (files.empty()) throw std::runtime_error("eval: no .png images in '" + opt.dir + "'");
  std::vector<std::string> names;
  std::vector<Image> images;
  for (const auto& f : files) {
    names.push_back(f.stem().string());
    images.push_back(to_rgb(read_png(f.string())));  // gray images are measured as RGB
  }
  std::vector<Baseline> baselines;
  for (const auto& b : opt.baselines) baselines.push_back(make_baseline(b));  // throws if unknown

  if (opt.clc && !opt.codec.empty()) throw std::invalid_argument("eval: --clc and --codec exclude each other");
  const std::string model_path = !opt.model.empty() ? opt.model : opt.clc ? default_clc_model_path()
                                                                          : default_model_path();
  FitOptions fit;
  fit.effort = opt.effort;
  Encoder encoder = opt.codec.empty() ? Encoder(model_path) : Encoder::without_model(opt.codec, fit);
  Decoder decoder(model_path);  // decodes the model-free codec's streams too
  std::vector<double> qualities = opt.qualities;
  if (qualities.empty())
    for (double q = 0; q <= encoder.max_quality() + 1e-9; q += 1) qualities.push_back(q);
  std::sort(qualities.begin(), qualities.end());

  const fs::path out(opt.out_dir), streams = out / "streams";
  fs::create_directories(streams);

  Report report;
  report.date = utc_now();
  report.machine = machine();
  report.label = opt.label;
  report.dataset = fs::path(opt.dir).lexically_normal().string();
  report.images = images.size();
  report.model = model_path;

  Progress progress{opt.progress};
  progress.total = images.size() * qualities.size() * (opt.clc ? 2 : 1);
  for (const auto& b : baselines) progress.total += images.size() * b.qualities.size();

  // Every codec: encode each image at each quality, pass the bytes through `store` (nlc:
  // write the .nlc file and read it back), decode, measure.
  using Bytes = std::vector<uint8_t>;
  auto measure_curve = [&](Curve c, const std::function<Bytes(const Image&, double)>& encode,
                           const std::function<Image(const Bytes&)>& decode,
                           const std::function<Bytes(const Bytes&, const std::string&, double)>&
                               store) {
    for (size_t qi = 0; qi < c.quality.size(); ++qi) {
      const double q = c.quality[qi];
      for (size_t k = 0; k < images.size(); ++k) {
        progress.step(c.name + " q=" + fmt(q, 3) + " " + names[k]);
        auto t0 = Clock::now();
        Bytes bytes = encode(images[k], q);
        const double enc_ms = ms_since(t0);
        if (store) bytes = store(bytes, names[k], q);
        t0 = Clock::now();
        Image decoded = decode(bytes);
        const double dec_ms = ms_since(t0);
        c.samples.push_back(measure(names[k], q, images[k], bytes, decoded, enc_ms, dec_ms));
      }
      average(c);
      progress.line(curve_summary(c, qi));
    }
    report.curves.push_back(std::move(c));
  };

  Curve nlc_curve;
  nlc_curve.name = "nlc";
  nlc_curve.library = opt.codec.empty() ? "nlc (" + fs::path(model_path).filename().string() + ")"
                                        : "nlc " + opt.codec + " (effort " + std::to_string(opt.effort) + ")";
  nlc_curve.setting = "quality, continuous in [0, " + fmt(encoder.max_quality(), 0) + "]";
  nlc_curve.quality = qualities;
  measure_curve(
      nlc_curve, [&](const Image& img, double q) { return encoder.encode(img, q); },
      [&](const Bytes& b) { return decoder.decode(b); },
      [&](const Bytes& b, const std::string& name, double q) {
        const std::string file = (streams / (name + ".q" + fmt(q, 3) + ".nlc")).string();
        write_file_atomic(file, b);
        return read_file(file);
      });
  if (opt.clc) {  // the same transforms without the reference
    const std::string base_path = default_model_path();
    Encoder base_encoder(base_path);
    Decoder base_decoder(base_path);
    Curve base;
    base.name = "nlc base";
    base.library = "nlc (" + fs::path(base_path).filename().string() + ", no reference)";
    base.setting = nlc_curve.setting;
    base.quality = qualities;
    measure_curve(
        base, [&](const Image& img, double q) { return base_encoder.encode(img, q); },
        [&](const Bytes& b) { return base_decoder.decode(b); }, nullptr);
  }
  for (const Baseline& b : baselines)
    measure_curve(Curve{b.name, b.library, b.setting, false, b.qualities, {}, {}, {}, {}, {}, {}},
                  b.encode, b.decode, nullptr);

  if (!opt.published.empty()) {
    std::vector<uint8_t> text = read_file(opt.published);
    report.published = read_published(std::string(text.begin(), text.end()));
  }

  // BD-rate of nlc against every other curve (PSNR-RGB, cubic fit).
  const Curve& n = report.curves.front();
  auto add_bd = [&](const Curve& anchor, const std::string& key) {
    try {
      report.bd_rate[key] = fmt(bd_rate(anchor.bpp, anchor.psnr, n.bpp, n.psnr), 2);
    } catch (const std::invalid_argument& e) {
      report.bd_rate[key] = std::string("not computed: ") + e.what();
    }
  };
  for (size_t k = 1; k < report.curves.size(); ++k) add_bd(report.curves[k], report.curves[k].name);
  for (const Curve& p : report.published) add_bd(p, "published " + p.name);

  write_file_atomic((out / "report.json").string(), [&] {
    std::string s = to_json(report);
    return std::vector<uint8_t>(s.begin(), s.end());
  }());
  write_file_atomic((out / "report.csv").string(), [&] {
    std::string s = to_csv(report);
    return std::vector<uint8_t>(s.begin(), s.end());
  }());
  write_file_atomic((out / "rd.svg").string(), [&] {
    std::string s = to_svg(report);
    return std::vector<uint8_t>(s.begin(), s.end());
  }());

  std::printf("%s: %zu images, %s, %s\n", report.dataset.c_str(), report.images,
              report.machine.c_str(), report.date.c_str());
  std::printf("%-10s %-8s %8s %9s %8s %10s %10s\n", "codec", "quality", "bpp", "PSNR-RGB",
              "MS-SSIM", "enc ms", "dec ms");
  for (const Curve& c : report.curves)
    for (size_t i = 0; i < c.quality.size(); ++i)
      std::printf("%-10s %-8s %8.4f %9.3f %8.4f %10.1f %10.1f\n", c.name.c_str(),
                  fmt(c.quality[i], 3).c_str(), c.bpp[i], c.psnr[i], c.ms_ssim[i],
                  c.encode_ms[i], c.decode_ms[i]);
  for (const auto& [anchor, v] : report.bd_rate)
    std::printf("BD-rate of nlc against %s: %s%s\n", anchor.c_str(), v.c_str(),
                v.rfind("not", 0) == 0 ? "" : " %");
  std::printf("wrote %s, %s, %s and the .nlc files in %s\n", (out / "report.json").c_str(),
              (out / "report.csv").c_str(), (out / "rd.svg").c_str(), streams.c_str());
  return 0;
}

}  // namespace nlc::eval
