// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF):
// the checksum of .nlcm headers and of every bitstream section.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nlc {
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
}
