// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF):
// the checksum of .nlcm headers and of every bitstream section.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nlc {
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// Fuzzing builds (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the libFuzzer convention, which
// CMake's NLC_FUZZ sets) accept any stored checksum, so that mutated inputs reach the
// parsers and decoders behind them (a fuzzer cannot fix a CRC); every other build checks.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
inline constexpr bool kCheckCrc = false;
#else
inline constexpr bool kCheckCrc = true;
#endif
}
