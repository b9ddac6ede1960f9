#include "kernels/cpu/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace nlc {

std::string Shape::str() const {
  return "[" + std::to_string(n) + "," + std::to_string(h) + "," + std::to_string(w) + "," +
         std::to_string(c) + "]";
}

void Tensor::Free::operator()(float* p) const { std::free(p); }

static float* allocate(size_t count) {
  if (count == 0) return nullptr;
  if (count > (SIZE_MAX - 63) / sizeof(float)) throw std::bad_alloc();
  size_t bytes = (count * sizeof(float) + 63) & ~size_t(63);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

Tensor::Tensor(Shape s) : shape_(s) {
  if (s.n < 0 || s.h < 0 || s.w < 0 || s.c < 0)
    throw std::invalid_argument("negative tensor dimension " + s.str());
  data_.reset(allocate(s.numel()));
  if (data_) std::memset(data_.get(), 0, s.numel() * sizeof(float));
}

Tensor::Tensor(const Tensor& o) : shape_(o.shape_) {
  data_.reset(allocate(o.numel()));
  if (data_) std::memcpy(data_.get(), o.data_.get(), o.numel() * sizeof(float));
}

Tensor& Tensor::operator=(const Tensor& o) {
  if (this != &o) {
    Tensor t(o);
    *this = std::move(t);
  }
  return *this;
}

}  // namespace nlc
