#pragma once
#include <stdexcept>

namespace nlc {
// A stream (or part of one) that cannot be decoded exactly: truncated, corrupt, or needing
// something this decoder does not have. The message says which.
class StreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
}  // namespace nlc
