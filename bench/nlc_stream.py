"""The container of docs/bitstream.md for the bench scripts that take streams apart and put
them back together (bench/hostile_inputs.py, bench/inr_repack.py): CRC-32C, the sections of
a stream, and a section or header with its CRC. A reader for tools, not a decoder: it
assumes a well-formed stream."""
import struct


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def sections(stream):
    """(header bytes before the sections, [(type, flags, payload)]) of an nlc stream, END not
    included; fails if anything follows END."""
    hlen = struct.unpack_from("<H", stream, 6)[0]
    pos, out = 8 + hlen + 4, []
    while True:
        t, f, n = struct.unpack_from("<BBI", stream, pos)
        if t == 0:
            if pos + 10 != len(stream):
                raise ValueError("bytes after END")
            return stream[:8 + hlen], out
        out.append((t, f, stream[pos + 6:pos + 6 + n]))
        pos += 10 + n


def section(t, f, p):
    b = struct.pack("<BBI", t, f, len(p)) + p
    return b + struct.pack("<I", crc32c(b))


def header(h):
    """The header bytes [0, 8 + H) followed by their CRC."""
    return bytes(h) + struct.pack("<I", crc32c(bytes(h)))
