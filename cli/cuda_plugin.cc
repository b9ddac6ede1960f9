#include "cli/cuda_plugin.h"

#include <dlfcn.h>

#include <filesystem>
#include <vector>

namespace nlc::cli {
namespace {

using UsableFn = bool (*)(std::string*);
using FactoryFn = void (*)(bool, bool, AcceleratorFactory*);

struct Plugin {
  UsableFn usable = nullptr;
  FactoryFn factory = nullptr;
  std::string error;  // why it could not be loaded
};

// Loaded once and never unloaded (accelerators made by it live as long as the process).
const Plugin& plugin() {
  static const Plugin p = [] {
    Plugin r;
#ifndef NLC_CUDA_PLUGIN_RELDIR
    r.error = "this nlc was built without CUDA";
    return r;
#else
    namespace fs = std::filesystem;
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("NLC_CUDA_PLUGIN"); env && *env) {
      candidates.push_back(env);
    } else {
      std::error_code ec;
      const fs::path exe_dir = fs::canonical("/proc/self/exe", ec).parent_path();
      if (!ec) {
        candidates.push_back(exe_dir / "libnlc_cuda.so");
        candidates.push_back(exe_dir / NLC_CUDA_PLUGIN_RELDIR / "libnlc_cuda.so");
      }
    }
    r.error = "the CUDA plugin libnlc_cuda.so was not found";
    for (const auto& c : candidates) {
      std::error_code ec;
      if (!fs::exists(c, ec)) continue;
      void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        const char* e = dlerror();
        r.error = "cannot load " + c.string() + ": " + (e ? e : "unknown error");
        return r;
      }
      r.usable = reinterpret_cast<UsableFn>(dlsym(h, "nlc_cuda_plugin_usable"));
      r.factory = reinterpret_cast<FactoryFn>(dlsym(h, "nlc_cuda_plugin_factory"));
      if (!r.usable || !r.factory) {
        r.usable = nullptr;
        r.factory = nullptr;
        r.error = c.string() + " is not an nlc CUDA plugin";
      }
      return r;
    }
    return r;
#endif
  }();
  return p;
}

}  // namespace

bool cuda_factory(bool tensor_cores, AcceleratorFactory* factory, std::string* why) {
  const Plugin& p = plugin();
  if (!p.usable) {
    *why = p.error;
    return false;
  }
  if (!p.usable(why)) return false;
  p.factory(tensor_cores, true, factory);
  return true;
}

}  // namespace nlc::cli
