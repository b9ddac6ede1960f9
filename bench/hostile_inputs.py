#!/usr/bin/python3
"""Peak memory of the review's hostile inputs (issue 16, item 3) through the nlc CLI, next to
the same command on a valid input of the same kind:
  * a 1.3 kB stream declaring 16384x16384 in 64 tiles of 2048 with empty sections;
  * an 81-byte model whose header announces a 1 GiB payload (a zstd-bomb header);
  * a 69-byte PNG declaring 16384x16384 RGB whose IDAT holds the zlib stream of 4 zero bytes
    (and a 57-byte one whose IDAT is empty).

    /usr/bin/python3 bench/hostile_inputs.py build/nlc [WORKDIR]

Each is crafted here from the repository's test model and image (CRCs made valid, so the
checks that count are the size and data checks, not the checksums).
"""
import os, struct, subprocess, sys, zlib

from nlc_stream import crc32c, header, section, sections

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "tests", "data", "tiny.nlcm")


def run(cmd):
    """exit status, last stderr line and peak resident memory (MiB) of one process."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace").strip().splitlines()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, (err[-1] if err else ""), ru.ru_maxrss / 1024


def main():
    nlc = os.path.abspath(sys.argv[1])
    work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/nlc-hostile"
    os.makedirs(work, exist_ok=True)
    j = lambda n: os.path.join(work, n)
    # A valid 20x20 stream of the test model, and its sections rewritten as a 16384x16384
    # image of 64 tiles of 2048 whose 128 sections are empty.
    from PIL import Image
    Image.open(os.path.join(ROOT, "assets", "kodim23.png")).convert("RGB").crop((0, 0, 20, 20)).save(j("small.png"))
    subprocess.run([nlc, "encode", j("small.png"), "-m", MODEL, "-q", "1", "-o", j("small.nlc")], check=True,
                   capture_output=True)
    subprocess.run([nlc, "encode", os.path.join(ROOT, "assets", "kodim23.png"), "-m", MODEL, "-q", "1", "-o",
                    j("kodim23.nlc")], check=True, capture_output=True)
    head, secs = sections(open(j("small.nlc"), "rb").read())
    h = bytearray(head)
    struct.pack_into("<II", h, 8 + 32, 16384, 16384)  # width, height
    struct.pack_into("<I", h, 8 + 48, 2048)  # tile side
    h = header(h)
    bomb = h + b"".join(section(t, 1, b"") for _ in range(64) for t, _, _ in secs) + section(0, 1, b"")
    open(j("bomb.nlc"), "wb").write(bomb)
    # The model: 64 header bytes and 17 of payload; the header says 17 compressed, 1 GiB raw.
    m = bytearray(open(MODEL, "rb").read()[:64 + 17])
    struct.pack_into("<QQ", m, 16, 17, 1 << 30)
    m[12:16] = b"\0\0\0\0"
    struct.pack_into("<I", m, 12, crc32c(bytes(m[:64])))
    open(j("bomb.nlcm"), "wb").write(bytes(m))
    # The PNG: signature, IHDR 16384x16384 8-bit RGB, an empty IDAT, IEND.
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    pngs = []
    for idat in (zlib.compress(bytes(4)), b""):
        pngs.append(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16384, 16384, 8, 2, 0, 0, 0)) +
                    chunk(b"IDAT", idat) + chunk(b"IEND", b""))
        open(j(f"bomb{len(pngs)}.png"), "wb").write(pngs[-1])

    rows = [
        ("stream", "valid 20x20", [nlc, "decode", j("small.nlc"), "-m", MODEL, "-o", j("out.png")]),
        ("stream", "valid 768x512", [nlc, "decode", j("kodim23.nlc"), "-m", MODEL, "-o", j("out.png")]),
        ("stream", f"{len(bomb)} B, 16384x16384", [nlc, "decode", j("bomb.nlc"), "-m", MODEL, "-o", j("out2.png")]),
        ("model", "valid tiny.nlcm", [nlc, "model-info", "-m", MODEL]),
        ("model", f"{len(m)} B, 1 GiB declared", [nlc, "model-info", "-m", j("bomb.nlcm")]),
        ("PNG", "valid 20x20", [nlc, "encode", j("small.png"), "-m", MODEL, "-o", j("o.nlc")]),
        ("PNG", f"{len(pngs[0])} B, 16384x16384", [nlc, "encode", j("bomb1.png"), "-m", MODEL, "-o", j("o2.nlc")]),
        ("PNG", f"{len(pngs[1])} B, 16384x16384", [nlc, "encode", j("bomb2.png"), "-m", MODEL, "-o", j("o2.nlc")]),
    ]
    print(f"{'input':<7} {'file':<24} {'exit':>4} {'peak MiB':>9}  message")
    for kind, what, cmd in rows:
        rc, msg, mib = run(cmd)
        print(f"{kind:<7} {what:<24} {rc:>4} {mib:9.1f}  {msg if rc else ''}")


if __name__ == "__main__":
    main()
