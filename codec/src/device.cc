#include "codec/src/device.h"

#include <dlfcn.h>

#include <filesystem>
#include <memory>
#include <vector>

namespace nlc {
namespace {

// The plugin's two entry points (codec/src/cuda_plugin.cc). It is built from the same tree
// as libnlc, so C++ types cross the boundary.
using UsableFn = bool (*)(std::string*);
using BackendFn = bool (*)(const Architecture*, const BackendOptions*,
                           std::unique_ptr<ArchBackend>*, std::string*);

struct Plugin {
  UsableFn usable = nullptr;
  BackendFn backend = nullptr;
  std::string error;  // why it could not be loaded
};

// Where to look: $NLC_CUDA_PLUGIN alone when set; else beside the module that holds this
// code (libnlc.so, or the program it is linked into) and its nlc/ folder, beside the
// program, and the install location.
std::vector<std::filesystem::path> candidates() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("NLC_CUDA_PLUGIN"); env && *env) return {env};
  std::vector<fs::path> c;
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&candidates), &info) && info.dli_fname) {
    std::error_code ec;
    const fs::path dir = fs::canonical(info.dli_fname, ec).parent_path();
    if (!ec) {
      c.push_back(dir / "libnlc_cuda.so");
      c.push_back(dir / "nlc" / "libnlc_cuda.so");
    }
  }
  std::error_code ec;
  const fs::path exe_dir = fs::canonical("/proc/self/exe", ec).parent_path();
  if (!ec) {
    c.push_back(exe_dir / "libnlc_cuda.so");
#ifdef NLC_CUDA_PLUGIN_RELDIR
    c.push_back(exe_dir / NLC_CUDA_PLUGIN_RELDIR / "libnlc_cuda.so");
#endif
  }
#ifdef NLC_CUDA_PLUGIN_INSTALLED
  c.push_back(NLC_CUDA_PLUGIN_INSTALLED);
#endif
  return c;
}

// Loaded once and never unloaded (backends made by it live as long as the process).
const Plugin& plugin() {
  static const Plugin p = [] {
    Plugin r;
#ifndef NLC_CUDA_PLUGIN_INSTALLED
    if (!std::getenv("NLC_CUDA_PLUGIN")) {
      r.error = "this nlc was built without CUDA";
      return r;
    }
#endif
    r.error = "the CUDA plugin libnlc_cuda.so was not found";
    for (const auto& c : candidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(c, ec)) continue;
      void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        const char* e = dlerror();
        r.error = "cannot load " + c.string() + ": " + (e ? e : "unknown error");
        return r;
      }
      r.usable = reinterpret_cast<UsableFn>(dlsym(h, "nlc_cuda_plugin_usable"));
      r.backend = reinterpret_cast<BackendFn>(dlsym(h, "nlc_cuda_plugin_backend"));
      if (!r.usable || !r.backend) {
        r.usable = nullptr;
        r.backend = nullptr;
        r.error = c.string() + " is not an nlc CUDA plugin";
      }
      return r;
    }
    return r;
  }();
  return p;
}

// The model's GPU backend, or null with why not.
std::unique_ptr<ArchBackend> gpu_backend(const Architecture& model, const BackendOptions& o,
                                         std::string* why) {
  const Plugin& p = plugin();
  if (!p.usable) {
    *why = p.error;
    return nullptr;
  }
  if (!p.usable(why)) return nullptr;
  std::unique_ptr<ArchBackend> b;
  if (!p.backend(&model, &o, &b, why)) return nullptr;
  return b;
}

}  // namespace

std::string select_device(Architecture& model, const std::string& device,
                          const nlc::DeviceOptions& options) {
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw std::invalid_argument("device must be cpu, cuda or auto, not '" + device + "'");
  if (device == "cpu") {
    model.set_backend(model.cpu_backend());
    return "";
  }
  BackendOptions o;
  o.tensor_cores = options.tensor_cores;
  std::string why;
  if (auto b = gpu_backend(model, o, &why)) {
    model.set_backend(std::move(b));
    return "";
  }
  if (device == "cuda") throw DeviceError("device cuda: " + why);
  model.set_backend(model.cpu_backend());
  return why;
}

}  // namespace nlc
