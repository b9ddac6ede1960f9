// Loading the quantised CDF tables a model carries (built by the exporter,
// models/train/nlc_train/cdf_tables.py): one per scale index for y, one per channel for z.
#pragma once

#include <string>
#include <vector>

#include "entropy/rans.h"
#include "models/nlcm.h"

namespace nlc {

// Tensors cdf.<name>.values / .starts / .offsets; every table is validated.
std::vector<QuantizedCdf> load_cdf_tables(const ModelFile& f, const std::string& name,
                                          size_t expected_count);

}  // namespace nlc
