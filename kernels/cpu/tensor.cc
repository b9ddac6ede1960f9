#include "kernels/cpu/tensor.h"

#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>
#include <cstring>
#include <new>
#include <stdexcept>

namespace nlc {

std::string Shape::str() const {
  return "[" + std::to_string(n) + "," + std::to_string(h) + "," + std::to_string(w) + "," +
         std::to_string(c) + "]";
}

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseCache = false;  // let ASan see every allocation and free
#else
constexpr bool kUseCache = true;
#endif

class BufferCache {
 public:
  static constexpr size_t kMinBytes = size_t(1) << 20;   // smaller ones: malloc is fine
  static constexpr size_t kMaxCached = size_t(1) << 30;  // bound on memory kept idle

  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    cached_ -= bytes;
    return p;
  }
  void give(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    while (cached_ + bytes > kMaxCached && !free_.empty()) {  // evict the largest
      auto last = std::prev(free_.end());
      cached_ -= last->first;
      std::free(last->second);
      free_.erase(last);
    }
    if (cached_ + bytes > kMaxCached) {
      std::free(p);
      return;
    }
    free_.emplace(bytes, p);
    cached_ += bytes;
  }
  ~BufferCache() {
    for (auto& [b, p] : free_) std::free(p);
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

BufferCache& cache() {
  static BufferCache c;
  return c;
}

size_t buffer_bytes(size_t count) {
  if (count > (SIZE_MAX - 65535) / sizeof(float)) throw std::bad_alloc();
  // Round large buffers to 64 KiB so that nearby sizes share cache entries.
  size_t b = count * sizeof(float);
  return b >= BufferCache::kMinBytes ? (b + 65535) & ~size_t(65535) : (b + 63) & ~size_t(63);
}

float* allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (kUseCache && bytes >= BufferCache::kMinBytes)
    if (void* p = cache().take(bytes)) return static_cast<float*>(p);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

}  // namespace

void Tensor::Free::operator()(float* p) const {
  if (kUseCache && bytes >= BufferCache::kMinBytes)
    cache().give(p, bytes);
  else
    std::free(p);
}

static void check_shape(const Shape& s) {
  if (s.n < 0 || s.h < 0 || s.w < 0 || s.c < 0)
    throw std::invalid_argument("negative tensor dimension " + s.str());
}

Tensor Tensor::uninitialized(Shape s) {
  check_shape(s);
  Tensor t;
  t.shape_ = s;
  size_t bytes = buffer_bytes(s.numel());
  t.data_ = std::unique_ptr<float[], Free>(allocate(bytes), Free{bytes});
  return t;
}

Tensor::Tensor(Shape s) : Tensor(uninitialized(s)) {
  if (data_) std::memset(data_.get(), 0, s.numel() * sizeof(float));
}

Tensor::Tensor(const Tensor& o) : Tensor(uninitialized(o.shape_)) {
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
