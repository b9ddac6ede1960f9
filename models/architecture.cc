#include "models/architecture.h"

#include "models/inr/inr.h"
#include "models/mshp/hyperprior.h"

namespace nlc {
namespace {

// The registry: one entry per architecture (docs/architecture.md, "Adding an
// architecture"). A model file's `arch` picks the loader.
struct Entry {
  const char* arch;
  std::unique_ptr<Architecture> (*load)(const ModelFile&, Kernels);
  const std::vector<SectionKind>& (*sections)();
};

template <class A>
std::unique_ptr<Architecture> load_as(const ModelFile& f, Kernels k) {
  return std::make_unique<A>(f, k);
}

const Entry kRegistry[] = {
    {mshp::kArch, load_as<MeanScaleHyperprior>, mshp::clc_section_kinds},
};

}  // namespace

std::unique_ptr<Architecture> load_architecture(const ModelFile& f, Kernels kernels) {
  std::string known;
  for (const Entry& e : kRegistry) {
    if (f.arch == e.arch) return e.load(f, kernels);
    known += std::string(known.empty() ? "" : ", ") + "'" + e.arch + "'";
  }
  throw ModelError(f.source + ": architecture '" + f.arch + "' is not supported (this nlc knows " +
                   known + ")");
}

std::unique_ptr<Architecture> load_architecture(const std::string& path, Kernels kernels) {
  return load_architecture(load_model_file(path), kernels);
}

std::unique_ptr<Architecture> model_free_architecture(const std::string& name) {
  if (name == "inr" || name == inr::kArch) return std::make_unique<InrCodec>();
  return nullptr;
}

std::unique_ptr<Architecture> model_free_architecture(const std::array<uint8_t, 32>& identity) {
  if (identity == InrCodec::arch_identity()) return std::make_unique<InrCodec>();
  return nullptr;
}

const std::vector<SectionKind>& all_section_kinds() {
  static const std::vector<SectionKind> all = [] {
    std::vector<SectionKind> r;
    for (const Entry& e : kRegistry) r.insert(r.end(), e.sections().begin(), e.sections().end());
    r.insert(r.end(), inr::section_kinds().begin(), inr::section_kinds().end());
    return r;
  }();
  return all;
}

}  // namespace nlc
