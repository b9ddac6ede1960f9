// nlc::Tensor — the one tensor type of the runtime.
//
// Layout: NHWC, float32, dense, 64-byte aligned. Why NHWC rather than PyTorch's NCHW:
// every operation of the codec reduces over channels at one pixel (convolutions, GDN's
// per-pixel channel mixing, the entropy model's per-element parameters), so NHWC keeps that
// reduction contiguous; GDN becomes a plain [pixels x C] x [C x C] product, and oneDNN's
// direct convolutions take NHWC ("acdb") without a reorder on the way in or out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace nlc {

struct Shape {
  int n = 0, h = 0, w = 0, c = 0;
  size_t numel() const { return size_t(n) * size_t(h) * size_t(w) * size_t(c); }
  bool operator==(const Shape& o) const {  // spelled out: the CUDA side compiles as C++17
    return n == o.n && h == o.h && w == o.w && c == o.c;
  }
  std::string str() const;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape s);  // zero-initialised
  Tensor(int n, int h, int w, int c) : Tensor(Shape{n, h, w, c}) {}
  // For outputs that a kernel overwrites entirely: skips the zeroing pass.
  static Tensor uninitialized(Shape s);

  Tensor(const Tensor& o);
  Tensor& operator=(const Tensor& o);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  const Shape& shape() const { return shape_; }
  int n() const { return shape_.n; }
  int h() const { return shape_.h; }
  int w() const { return shape_.w; }
  int c() const { return shape_.c; }
  size_t numel() const { return shape_.numel(); }
  bool empty() const { return numel() == 0; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  float& at(int n, int y, int x, int ch) { return data_[index(n, y, x, ch)]; }
  float at(int n, int y, int x, int ch) const { return data_[index(n, y, x, ch)]; }
  size_t index(int n, int y, int x, int ch) const {
    return ((size_t(n) * shape_.h + y) * shape_.w + x) * shape_.c + ch;
  }

 private:
  // Large buffers go back to a small process-wide cache instead of the system: a model runs
  // the same shapes again and again, and fresh multi-megabyte allocations cost a page fault
  // per 4 KiB on first touch (measured: 41 ms for one 48 MiB tensor).
  struct Free {
    size_t bytes;  // no default member initializer: it would make Free non-default-constructible here
    void operator()(float* p) const;
  };
  Shape shape_;
  std::unique_ptr<float[], Free> data_;
};

}  // namespace nlc
