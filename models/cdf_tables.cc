#include "models/cdf_tables.h"

namespace nlc {

std::vector<QuantizedCdf> load_cdf_tables(const ModelFile& f, const std::string& name,
                                          size_t expected_count) {
  const std::string p = "cdf." + name;
  auto dims_of = [&](const std::string& t) {
    auto it = f.tensors.find(t);
    if (it == f.tensors.end()) throw ModelError(f.source + ": model lacks tensor '" + t + "'");
    return it->second.dims;
  };
  const auto& values = f.int_tensor(p + ".values", dims_of(p + ".values"));
  const auto& starts = f.int_tensor(p + ".starts", {int64_t(expected_count) + 1});
  const auto& offsets = f.int_tensor(p + ".offsets", {int64_t(expected_count)});
  std::vector<QuantizedCdf> tables(expected_count);
  for (size_t i = 0; i < expected_count; ++i) {
    int64_t a = starts[i], b = starts[i + 1];
    if (a < 0 || b <= a || b > int64_t(values.size()))
      throw ModelError(f.source + ": CDF table " + p + "[" + std::to_string(i) + "] is out of bounds");
    tables[i].cdf.assign(values.begin() + a, values.begin() + b);
    tables[i].offset = offsets[i];
    try {
      tables[i].validate();
    } catch (const std::invalid_argument& e) {
      throw ModelError(f.source + ": CDF table " + p + "[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return tables;
}

}  // namespace nlc
