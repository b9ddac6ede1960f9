"""Writer and reader for .nlcm model files (normative spec: docs/model-format.md).

    header (64 bytes) | payload: one zstd frame (with content checksum)

The model's identity is the SHA-256 of the *uncompressed* payload, so recompressing a file
never changes which model it is.
"""
import hashlib
import os
import struct
import subprocess
import tempfile

import numpy as np

MAGIC = b"NLCM"
MAJOR, MINOR = 1, 0
HEADER_BYTES = 64

PARAM_INT, PARAM_FLOAT, PARAM_STRING, PARAM_FLOAT_ARRAY = 1, 2, 3, 4
DTYPES = {1: np.float32, 2: np.float16, 3: np.int16, 4: np.int32}
DTYPE_CODES = {np.dtype(v): k for k, v in DTYPES.items()}


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def _zstd(data, decompress=False):
    # The zstd command-line tool (Debian package zstd) is on every machine we build on;
    # Python has no zstd module in its standard library.
    # --stream-size makes the frame header carry the content size, which the format requires.
    args = ["zstd", "-q", "-c"] + (["-d"] if decompress else
                                   ["-19", "--check", f"--stream-size={len(data)}"])
    return subprocess.run(args, input=data, stdout=subprocess.PIPE, check=True).stdout


def encode_payload(arch, params, tensors):
    """params: dict name -> int | float | str | list of floats; tensors: dict name -> ndarray."""
    out = [_str(arch), struct.pack("<I", len(params))]
    for k, v in params.items():
        out.append(_str(k))
        if isinstance(v, bool) or isinstance(v, int):
            out.append(struct.pack("<Bq", PARAM_INT, int(v)))
        elif isinstance(v, float):
            out.append(struct.pack("<Bd", PARAM_FLOAT, v))
        elif isinstance(v, str):
            out.append(struct.pack("<B", PARAM_STRING) + _str(v))
        else:
            vals = [float(x) for x in v]
            out.append(struct.pack("<BI", PARAM_FLOAT_ARRAY, len(vals)))
            out.append(struct.pack("<%dd" % len(vals), *vals))
    out.append(struct.pack("<I", len(tensors)))
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        code = DTYPE_CODES[arr.dtype]
        out.append(_str(name))
        out.append(struct.pack("<BB", code, arr.ndim))
        out.append(struct.pack("<%dI" % arr.ndim, *arr.shape))
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        out.append(struct.pack("<Q", len(data)))
        out.append(data)
    return b"".join(out)


def write(path, arch, params, tensors):
    """Writes the model atomically (temporary file + rename). Returns the identity (hex)."""
    raw = encode_payload(arch, params, tensors)
    packed = _zstd(raw)
    digest = hashlib.sha256(raw).digest()
    head = bytearray(MAGIC + struct.pack("<HHII", MAJOR, MINOR, 0, 0)
                     + struct.pack("<QQ", len(packed), len(raw)) + digest)
    assert len(head) == HEADER_BYTES
    struct.pack_into("<I", head, 12, crc32c(bytes(head)))
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".nlcm-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(head) + packed)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest.hex()


def read(path):
    """Returns (arch, params, tensors, identity_hex). Validates like the C++ loader."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < HEADER_BYTES or blob[:4] != MAGIC:
        raise ValueError(f"{path}: not an .nlcm model file")
    major, minor, flags, crc = struct.unpack_from("<HHII", blob, 4)
    if major != MAJOR:
        raise ValueError(f"{path}: model format version {major}.{minor} is not supported")
    head = bytearray(blob[:HEADER_BYTES])
    struct.pack_into("<I", head, 12, 0)
    if crc32c(bytes(head)) != crc:
        raise ValueError(f"{path}: header checksum mismatch")
    csize, rsize = struct.unpack_from("<QQ", blob, 16)
    raw = _zstd(blob[HEADER_BYTES:HEADER_BYTES + csize], decompress=True)
    if len(raw) != rsize or hashlib.sha256(raw).digest() != blob[32:64]:
        raise ValueError(f"{path}: payload does not match its hash")
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, raw, pos)
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        (n,) = take("<I")
        s = raw[pos:pos + n].decode("utf-8")
        pos += n
        return s

    arch = string()
    params = {}
    for _ in range(take("<I")[0]):
        k = string()
        (t,) = take("<B")
        if t == PARAM_INT:
            params[k] = take("<q")[0]
        elif t == PARAM_FLOAT:
            params[k] = take("<d")[0]
        elif t == PARAM_STRING:
            params[k] = string()
        else:
            (n,) = take("<I")
            params[k] = list(take("<%dd" % n))
    tensors = {}
    for _ in range(take("<I")[0]):
        name = string()
        code, ndim = take("<BB")
        dims = take("<%dI" % ndim)
        (nbytes,) = take("<Q")
        arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[code]).newbyteorder("<"),
                            count=nbytes // np.dtype(DTYPES[code]).itemsize, offset=pos)
        pos += nbytes
        tensors[name] = arr.reshape(dims)
    return arch, params, tensors, blob[32:64].hex()
