// NLC_HOST_DEVICE marks the small inline functions that both the C++ codec and the CUDA
// kernels call (one definition, so both compute the same bits); plain inline for g++.
#pragma once

#ifdef __CUDACC__
#define NLC_HOST_DEVICE __host__ __device__
#else
#define NLC_HOST_DEVICE
#endif
