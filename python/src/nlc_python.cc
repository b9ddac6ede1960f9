// The Python binding (module nlc._nlc, wrapped by python/nlc/__init__.py): the public C++
// API (include/nlc/) and nothing else, so Python sees exactly what the CLI, the C API and the
// FFmpeg filter see. Arrays: images are numpy uint8 H x W x C (C = 3, or 1 for grayscale),
// latents float32 H x W x C. Decoded pixels and latents are handed to numpy without a copy
// (the array owns the library's buffer); an input image is copied once into the library's
// Image (its only input type). The GIL is released while coding, so Python threads run
// meanwhile; each Encoder/Decoder holds a lock, since one instance must not code on two
// threads at once (codec.h).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <vector>

#include "nlc/classify.h"
#include "nlc/codec.h"
#include "nlc/image.h"

namespace py = pybind11;

namespace {

// A numpy image (H x W, H x W x 1 or H x W x 3, uint8) as the library's Image.
nlc::Image to_image(const py::handle& obj, const char* what) {
  if (!py::isinstance<py::array>(obj)) throw py::value_error(std::string(what) + ": expected a numpy array");
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<uint8_t>()))
    throw py::value_error(std::string(what) + ": expected dtype uint8, got " + std::string(py::str(a.dtype())));
  if (a.ndim() != 2 && a.ndim() != 3)
    throw py::value_error(std::string(what) + ": expected an H x W or H x W x C array, got " +
                          std::to_string(a.ndim()) + " dimensions");
  const py::ssize_t h = a.shape(0), w = a.shape(1), c = a.ndim() == 3 ? a.shape(2) : 1;
  if (c != 1 && c != 3)
    throw py::value_error(std::string(what) + ": expected 1 (gray) or 3 (RGB) channels, got " + std::to_string(c));
  if (h <= 0 || w <= 0) throw py::value_error(std::string(what) + ": the image is empty");
  if (h > (1 << 30) || w > (1 << 30)) throw py::value_error(std::string(what) + ": the image is too large");
  auto contiguous = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(a);
  nlc::Image img;
  img.width = int(w);
  img.height = int(h);
  img.channels = int(c);
  const auto* p = contiguous.data();
  img.pixels.assign(p, p + size_t(h) * size_t(w) * size_t(c));
  return img;
}

// A vector handed to numpy without a copy: the array's base owns it.
template <typename T>
py::array to_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owner = new std::vector<T>(std::move(v));
  py::capsule base(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owner->data(), base);
}

py::array image_array(nlc::Image&& img) {
  const py::ssize_t h = img.height, w = img.width, c = img.channels;
  return to_array(std::move(img.pixels), {h, w, c});
}

// A bytes-like object's bytes, valid while `info` lives (no copy).
struct Bytes {
  py::buffer_info info;
  const uint8_t* data() const { return static_cast<const uint8_t*>(info.ptr); }
  size_t size() const { return size_t(info.size) * size_t(info.itemsize); }
};
Bytes bytes_of(const py::handle& obj, const char* what) {
  if (py::isinstance<py::str>(obj)) throw py::value_error(std::string(what) + ": expected bytes, got str");
  if (!PyObject_CheckBuffer(obj.ptr()))
    throw py::value_error(std::string(what) + ": expected a bytes-like object (bytes, bytearray, memoryview)");
  Bytes b{py::reinterpret_borrow<py::buffer>(obj).request()};
  if (b.info.ndim != 1 || (b.info.itemsize != 1) || (b.info.ndim == 1 && b.info.strides[0] != 1))
    throw py::value_error(std::string(what) + ": expected contiguous bytes");
  return b;
}

py::bytes to_bytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

std::string default_model_or(const std::optional<std::string>& model) {
  return model ? *model : nlc::default_model_path();
}

void check_device(const std::string& d) {
  if (d != "cpu" && d != "cuda" && d != "auto")
    throw py::value_error("device must be 'cpu', 'cuda' or 'auto', not '" + d + "'");
}

class PyEncoder {
 public:
  PyEncoder(const std::optional<std::string>& model, const std::optional<std::string>& codec, int effort,
            const std::string& device, std::function<void(const nlc::FitProgress&)> progress,
            const std::optional<std::pair<uint32_t, uint32_t>>& tile) {
    check_device(device);
    if (model && codec) throw py::value_error("give a model or a codec, not both");
    if (codec) {
      if (effort < 0 || effort > nlc::kMaxEffort)
        throw py::value_error("effort must be 0.." + std::to_string(nlc::kMaxEffort));
      nlc::FitOptions f;
      f.effort = effort;
      f.stop = &stop_;
      // Called from the coding thread every few steps: takes the GIL to pass Ctrl-C
      // (KeyboardInterrupt) as the stop flag, and to call the user's callback.
      f.progress = [this, progress](const nlc::FitProgress& p) {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
          interrupted_ = std::make_unique<py::error_already_set>();
          stop_ = true;
          return;
        }
        if (progress && !interrupted_) try {
            progress(p);
          } catch (py::error_already_set& e) {
            interrupted_ = std::make_unique<py::error_already_set>(std::move(e));
            stop_ = true;
          }
      };
      enc_ = std::make_unique<nlc::Encoder>(nlc::Encoder::without_model(*codec, f));
    } else {
      enc_ = std::make_unique<nlc::Encoder>(default_model_or(model));
    }
    note_ = enc_->set_device(device);
    if (tile) enc_->set_tiling(tile->first, tile->second);  // std::invalid_argument: ValueError
  }

  py::bytes encode(const py::handle& array, double quality) {
    nlc::Image img = to_image(array, "encode");
    std::vector<uint8_t> out;
    run([&] { out = enc_->encode(img, quality); });
    return to_bytes(out);
  }

  py::list encode_batch(const py::sequence& arrays, double quality) {
    std::vector<nlc::Image> imgs;
    for (size_t i = 0; i < arrays.size(); ++i)
      imgs.push_back(to_image(arrays[i], ("encode_batch: image " + std::to_string(i)).c_str()));
    std::vector<std::vector<uint8_t>> out;
    run([&] { out = enc_->encode_batch(imgs, quality); });
    py::list l;
    for (const auto& s : out) l.append(to_bytes(s));
    return l;
  }

  double max_quality() const { return enc_->max_quality(); }
  std::string model_identity() const { return enc_->model_identity(); }
  std::string device() const { return enc_->device(); }
  const std::string& device_note() const { return note_; }

 private:
  template <typename F>
  void run(F&& f) {
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = false;
      f();
    }
    if (interrupted_) {
      auto e = std::move(interrupted_);
      e->restore();
      throw py::error_already_set();
    }
  }
  std::unique_ptr<nlc::Encoder> enc_;
  std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<py::error_already_set> interrupted_;
  std::string note_;
};

class PyDecoder {
 public:
  PyDecoder(const std::optional<std::string>& model, const std::string& device, std::optional<uint64_t> max_pixels,
            std::optional<double> max_seconds)
      : dec_(default_model_or(model)) {
    check_device(device);
    note_ = dec_.set_device(device);
    nlc::DecodeLimits lim;
    if (max_pixels) {
      if (*max_pixels == 0) throw py::value_error("max_pixels must be positive");
      lim.max_pixels = *max_pixels;
    }
    if (max_seconds) {
      if (!(*max_seconds >= 0)) throw py::value_error("max_seconds must be >= 0");
      lim.max_seconds = *max_seconds;
    }
    dec_.set_limits(lim);
  }

  py::array decode(const py::handle& stream) {
    const Bytes b = bytes_of(stream, "decode");
    return image_array(unlocked([&] { return dec_.decode(b.data(), b.size()); }));
  }

  py::list decode_batch(const py::sequence& streams) {
    std::vector<std::vector<uint8_t>> in;
    for (size_t i = 0; i < streams.size(); ++i) {
      const Bytes b = bytes_of(streams[i], ("decode_batch: stream " + std::to_string(i)).c_str());
      in.emplace_back(b.data(), b.data() + b.size());
    }
    std::vector<nlc::Image> out = unlocked([&] { return dec_.decode_batch(in); });
    py::list l;
    for (auto& img : out) l.append(image_array(std::move(img)));
    return l;
  }

  py::array decode_latent(const py::handle& stream) {
    const Bytes b = bytes_of(stream, "decode_latent");
    nlc::DecodedLatent lat = unlocked([&] { return dec_.decode_latent(b.data(), b.size()); });
    const py::ssize_t h = lat.height, w = lat.width, c = lat.channels;
    return to_array(std::move(lat.data), {h, w, c});
  }

  py::list last_profile() const {
    py::list l;
    for (const auto& [k, v] : dec_.last_profile()) l.append(py::make_tuple(k, v));
    return l;
  }
  std::string model_identity() const { return dec_.model_identity(); }
  std::string device() const { return dec_.device(); }
  const std::string& device_note() const { return note_; }

 private:
  // f() without the GIL, holding this decoder's lock.
  template <typename F>
  std::invoke_result_t<F&> unlocked(F&& f) {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    return f();
  }
  nlc::Decoder dec_;
  std::mutex mu_;
  std::string note_;
};

// nlc.Classifier: labels of streams from their latents (compressed-domain inference).
class PyClassifier {
 public:
  PyClassifier(const std::optional<std::string>& classifier, const std::optional<std::string>& model)
      : c_(classifier ? *classifier : nlc::default_classifier_path(), model ? *model : std::string()) {}

  py::dict classify(const py::handle& stream, int top) {
    if (top < 1) throw py::value_error("top must be at least 1");
    const Bytes b = bytes_of(stream, "classify");
    nlc::Classification r;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      r = c_.classify(b.data(), b.size(), top);
    }
    py::list labels;
    for (const auto& l : r.top) {
      py::dict d;
      d["index"] = l.index;
      d["class"] = l.id;
      d["label"] = l.name;
      d["probability"] = l.probability;
      labels.append(d);
    }
    py::dict d;
    d["top"] = labels;
    d["decode_ms"] = r.decode_ms;
    d["infer_ms"] = r.infer_ms;
    return d;
  }
  bool reads_latents() const { return c_.reads_latents(); }
  std::vector<std::string> class_names() const { return c_.class_names(); }
  std::string identity() const { return c_.identity(); }
  std::string codec_model_identity() const { return c_.codec_model_identity(); }

 private:
  nlc::Classifier c_;
  std::mutex mu_;
};

py::dict info(const py::handle& stream) {
  const Bytes b = bytes_of(stream, "info");
  const nlc::StreamInfo s = nlc::stream_info(b.data(), b.size());
  py::dict d;
  d["version"] = std::to_string(s.major) + "." + std::to_string(s.minor);
  d["model_identity"] = s.model_identity;
  d["width"] = s.width;
  d["height"] = s.height;
  d["bit_depth"] = s.bit_depth;
  d["channels"] = s.channels;
  d["quality"] = s.quality;
  d["tile_size"] = s.tile_size;
  d["tile_overlap"] = s.tile_overlap;
  d["bytes"] = s.bytes;
  d["bpp"] = s.width && s.height ? 8.0 * double(s.bytes) / (double(s.width) * double(s.height)) : 0.0;
  py::list sections;
  for (const auto& x : s.sections) {
    py::dict e;
    e["type"] = x.type;
    e["name"] = x.name;
    e["size"] = x.size;
    e["offset"] = x.offset;
    sections.append(e);
  }
  d["sections"] = sections;
  d["skipped_optional"] = s.skipped_optional;
  return d;
}

py::dict model_info(const std::optional<std::string>& path) {
  const nlc::ModelInfo m = nlc::model_info(default_model_or(path));
  py::dict d;
  d["path"] = m.path;
  d["arch"] = m.arch;
  d["identity"] = m.identity;
  d["format"] = std::to_string(m.format_major) + "." + std::to_string(m.format_minor);
  d["max_quality"] = m.max_quality;
  py::dict details;
  for (const auto& [k, v] : m.details) details[py::str(k)] = v;
  d["details"] = details;
  return d;
}

}  // namespace

PYBIND11_MODULE(_nlc, m) {
  m.attr("DEFAULT_EFFORT") = nlc::kDefaultEffort;  // the INR codec's (nlc/codec.h)
  m.attr("MAX_EFFORT") = nlc::kMaxEffort;
  m.doc() = "nlc, a neural image codec: the C++ library's public API (see the nlc package).";

  // The exception hierarchy: nlc.Error (a RuntimeError) and one subclass per library error;
  // bad arguments are ValueError (std::invalid_argument included).
  static py::exception<std::runtime_error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<nlc::ImageError> image_error(m, "ImageError", error.ptr());
  static py::exception<nlc::ModelError> model_error(m, "ModelError", error.ptr());
  static py::exception<nlc::StreamError> stream_error(m, "StreamError", error.ptr());
  static py::exception<nlc::LimitError> limit_error(m, "LimitError", stream_error.ptr());
  static py::exception<nlc::DeviceError> device_error(m, "DeviceError", error.ptr());
  // One translator, most derived first (pybind11 would otherwise try them in reverse
  // registration order and catch a LimitError as its base).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nlc::LimitError& e) {
      PyErr_SetString(limit_error.ptr(), e.what());
    } catch (const nlc::StreamError& e) {
      PyErr_SetString(stream_error.ptr(), e.what());
    } catch (const nlc::ModelError& e) {
      PyErr_SetString(model_error.ptr(), e.what());
    } catch (const nlc::ImageError& e) {
      PyErr_SetString(image_error.ptr(), e.what());
    } catch (const nlc::DeviceError& e) {
      PyErr_SetString(device_error.ptr(), e.what());
    }
  });

  py::class_<nlc::FitProgress>(m, "FitProgress", "Where an INR fit stands (passed to Encoder's progress callback).")
      .def_readonly("iteration", &nlc::FitProgress::iteration, "steps done, over all stages")
      .def_readonly("total", &nlc::FitProgress::total, "steps planned, over all stages")
      .def_readonly("loss", &nlc::FitProgress::loss, "the fit's loss (MSE + lambda * bpp)")
      .def_readonly("bpp", &nlc::FitProgress::bpp, "the fit's rate estimate, bits per pixel")
      .def_readonly("psnr", &nlc::FitProgress::psnr, "the fit's PSNR estimate, dB")
      .def_readonly("scale", &nlc::FitProgress::scale, "the stage's resolution: the image halved this many times")
      .def_readonly("done", &nlc::FitProgress::done, "fraction of the fit's work done")
      .def("__repr__", [](const nlc::FitProgress& p) {
        return "FitProgress(iteration=" + std::to_string(p.iteration) + ", total=" + std::to_string(p.total) +
               ", bpp=" + std::to_string(p.bpp) + ", psnr=" + std::to_string(p.psnr) + ")";
      });

  py::class_<PyEncoder>(m, "Encoder", R"(Compresses images to .nlc streams.

Encoder(model=None, *, codec=None, effort=DEFAULT_EFFORT, device="cpu", progress=None, tile=None)

model: path of a .nlcm model file (None: the default model, as `nlc encode`).
codec: "inr" for the codec that needs no model file (a network fitted to each image at
    encode time; slow: seconds to minutes an image); not together with model.
effort: the INR codec's effort, 0 (fastest) .. MAX_EFFORT (best); nlc.DEFAULT_EFFORT
    unless given.
device: "cpu", "cuda" (DeviceError when no GPU is usable) or "auto".
progress: for codec="inr", called with a FitProgress every few steps of the fit.
tile: (T, O) codes images larger than T x T in tiles of T overlapping by O, as
    `nlc encode --tile T:O` (None: tiles of 1024 by 16 above 2048 x 2048 pixels).
Ctrl-C during an INR fit raises KeyboardInterrupt.)")
      .def(py::init<const std::optional<std::string>&, const std::optional<std::string>&, int, const std::string&,
                    std::function<void(const nlc::FitProgress&)>, const std::optional<std::pair<uint32_t, uint32_t>>&>(),
           py::arg("model") = py::none(), py::kw_only(), py::arg("codec") = py::none(), py::arg("effort") = nlc::kDefaultEffort,
           py::arg("device") = "cpu", py::arg("progress") = py::none(), py::arg("tile") = py::none())
      .def("encode", &PyEncoder::encode, py::arg("image"), py::arg("quality"),
           R"(Compresses one image: a uint8 array H x W x 3 (RGB), H x W x 1 or H x W (gray).
quality is continuous in [0, max_quality]. Returns the stream as bytes, identical to what
`nlc encode` writes for the same pixels, model and quality.)")
      .def("encode_batch", &PyEncoder::encode_batch, py::arg("images"), py::arg("quality"),
           "Compresses many images at one quality: a list of streams, in order.")
      .def_property_readonly("max_quality", &PyEncoder::max_quality, "the highest quality")
      .def_property_readonly("model_identity", &PyEncoder::model_identity,
                             "the SHA-256 (hex) that streams carry to name the model")
      .def_property_readonly("device", &PyEncoder::device, "'CPU' or the GPU's description")
      .def_property_readonly("device_note", &PyEncoder::device_note,
                             "for device='auto' on the CPU: why the GPU is not used ('' otherwise)");

  py::class_<PyDecoder>(m, "Decoder", R"(Decompresses .nlc streams.

Decoder(model=None, *, device="cpu", max_pixels=None, max_seconds=None)

model: the .nlcm model the streams were coded with (None: the default model). Streams of the
    INR codec need no model and decode with any Decoder.
device: "cpu", "cuda" or "auto"; streams decode to the same latents everywhere.
max_pixels, max_seconds: limits on the work one stream may cause (LimitError when exceeded);
    a service decoding untrusted streams should set both.)")
      .def(py::init<const std::optional<std::string>&, const std::string&, std::optional<uint64_t>,
                    std::optional<double>>(),
           py::arg("model") = py::none(), py::kw_only(), py::arg("device") = "cpu",
           py::arg("max_pixels") = py::none(), py::arg("max_seconds") = py::none())
      .def("decode", &PyDecoder::decode, py::arg("stream"),
           "Decodes one stream (bytes-like) to a uint8 array H x W x C (C = 3, or 1 for gray).")
      .def("decode_batch", &PyDecoder::decode_batch, py::arg("streams"),
           "Decodes many streams: a list of arrays, in order. A bad stream raises StreamError 'stream i: ...'.")
      .def("decode_latent", &PyDecoder::decode_latent, py::arg("stream"),
           R"(The decoded latent without the synthesis: float32 H x W x C, bit-identical to what
decode() synthesises from (the input of compressed-domain inference; `nlc decode --latent`).)")
      .def("last_profile", &PyDecoder::last_profile,
           "Milliseconds per stage of the last decode, for codecs that measure them: [(stage, ms)].")
      .def_property_readonly("model_identity", &PyDecoder::model_identity)
      .def_property_readonly("device", &PyDecoder::device)
      .def_property_readonly("device_note", &PyDecoder::device_note);

  py::class_<PyClassifier>(m, "Classifier", R"(Labels of .nlc streams without rebuilding their pixels.

Classifier(classifier=None, model=None)

classifier: a classifier model (.nlcm, classifier-v1; None: the bundled Imagenette one,
    as `nlc classify`). model: the codec model of the streams (None: the default model);
    ModelError when the classifier was not trained on that model's streams.)")
      .def(py::init<const std::optional<std::string>&, const std::optional<std::string>&>(),
           py::arg("classifier") = py::none(), py::arg("model") = py::none())
      .def("classify", &PyClassifier::classify, py::arg("stream"), py::arg("top") = 5,
           R"(The `top` most probable classes of a stream: {"top": [{"index", "class", "label",
"probability"}, ...], "decode_ms", "infer_ms"}. StreamError for a stream that cannot be
decoded or comes from another codec model.)")
      .def_property_readonly("reads_latents", &PyClassifier::reads_latents)
      .def_property_readonly("class_names", &PyClassifier::class_names)
      .def_property_readonly("identity", &PyClassifier::identity)
      .def_property_readonly("codec_model_identity", &PyClassifier::codec_model_identity);

  m.def("info", &info, py::arg("stream"),
        "A stream's header and sections, read without its model (`nlc info`): a dict.");
  m.def("model_info", &model_info, py::arg("path") = py::none(),
        "What a model file holds (`nlc model-info`): a dict.");
  m.def("default_model_path", &nlc::default_model_path,
        "$NLC_MODEL, else the installed default model, else the source tree's.");
  m.def("default_clc_model_path", &nlc::default_clc_model_path,
        "The bundled CLC model (the default model with a reference dictionary; docs/clc.md): "
        "$NLC_CLC_MODEL, else the installed clc.nlcm, else the source tree's. "
        "nlc.Encoder(nlc.default_clc_model_path()) writes CLC streams; any bundled model's "
        "Decoder decodes them.");
  m.def("set_threads", &nlc::set_threads, py::arg("n"), "CPU threads for coding, process-wide.");
  m.def("threads", &nlc::threads, "CPU threads in use for coding.");
  m.def(
      "read_image",
      [](const std::string& path) {
        nlc::Image img;
        {
          py::gil_scoped_release nogil;
          img = nlc::read_image(path);
        }
        return image_array(std::move(img));
      },
      py::arg("path"),
      "Reads PNG, JPEG (EXIF orientation applied), PPM or PGM, by content: uint8 H x W x C.");
  m.def(
      "write_image",
      [](const std::string& path, const py::handle& image) {
        const nlc::Image img = to_image(image, "write_image");
        py::gil_scoped_release nogil;
        nlc::write_image(path, img);
      },
      py::arg("path"), py::arg("image"),
      "Writes PNG, or PNM when the name ends .ppm/.pgm/.pnm; atomically (a temporary file renamed).");
  m.def(
      "psnr",
      [](const py::handle& a, const py::handle& b) { return nlc::psnr(to_image(a, "psnr"), to_image(b, "psnr")); },
      py::arg("a"), py::arg("b"), "PSNR-RGB in dB of two uint8 images of one size (nlc's one definition).");
}
