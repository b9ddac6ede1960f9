"""Rewrites the INR streams of an `nlc eval` run from bitstream 1.4 (INR_PARAMS version 3,
u32 lane headers) to 1.5 (version 4, compact LEB128 lane headers; docs/bitstream.md), without
refitting: the same network, grid values and rANS lanes, fewer header bytes. Writes the
repacked streams and a copy of the run's report whose nlc points carry the new sizes, so
that bench/report_bd.py measures what the format change alone is worth on that run:

    /usr/bin/python3 bench/inr_repack.py build/kodak-eval-inr-e1 /tmp/e1-v4 [--nlc build/nlc]
    /usr/bin/python3 bench/report_bd.py kodim01,...,kodim24 \\
        v3=build/kodak-eval-inr-e1/report.json v4=/tmp/e1-v4/report.json

One stream alone: `inr_repack.py --stream IN.nlc OUT.nlc` (tests/cli_test.sh repacks the
frozen 1.4 conformance stream so and decodes both).

With --nlc, every repacked stream is decoded and must give the same pixels as the original
(the rewrite is lossless), else the script fails. Streams that are not 1.4 INR streams are
refused. This is a measuring tool (and an independent reader of both layouts), not a path
users need: the encoder writes 1.5 itself.
"""
import json
import os
import subprocess
import sys
import tempfile

from nlc_stream import header, section, sections


def u32(b, p):
    return int.from_bytes(b[p:p + 4], "little")


def leb(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def compact_latents(p):
    """INR_LATENTS with u32 headers -> compact headers (grids in stream order)."""
    out, pos = bytearray(), 0
    while pos < len(p):
        n = u32(p, pos)
        s = p[pos + 4:pos + 4 + n]
        if len(s) != n or n < 4:
            raise ValueError("truncated grid")
        pos += 4 + n
        lanes = u32(s, 0)
        lens = [u32(s, 4 + 4 * k) for k in range(lanes)]
        body = s[4 + 4 * lanes:]
        if lanes == 0 or sum(lens) != len(body) or any(x < 4 or x % 2 for x in lens):
            raise ValueError("bad lane table")
        out += leb(lanes) + b"".join(leb((x - 4) // 2) for x in lens) + body
    return bytes(out)


def repack(data):
    if data[:4] != b"\x89NLC" or data[4] != 1 or data[5] != 4:
        raise ValueError("not a 1.4 stream")
    head, secs = sections(data)
    head = bytearray(head)
    head[5] = 5
    out = bytearray(header(head))
    for t, flags, payload in secs:
        if t == 0x10:
            if payload[0] != 3:
                raise ValueError("INR_PARAMS not version 3")
            payload = b"\x04" + payload[1:]
        elif t == 0x11:
            payload = compact_latents(payload)
        out += section(t, flags, payload)
    return bytes(out + section(0, 1, b""))


def main():
    args = sys.argv[1:]
    if args[:1] == ["--stream"] and len(args) == 3:
        try:
            new = repack(open(args[1], "rb").read())
        except (ValueError, IndexError, OSError) as e:
            sys.exit(f"{args[1]}: {e}")
        open(args[2], "wb").write(new)
        return
    nlc = None
    if "--nlc" in args:
        i = args.index("--nlc")
        nlc = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    src, dst = args
    report = json.load(open(os.path.join(src, "report.json")))
    os.makedirs(os.path.join(dst, "streams"), exist_ok=True)
    saved = {}
    for pt in report["codecs"]["nlc"]["per_image"]:
        name = f"{pt['image']}.q{pt['quality']:.3f}.nlc"
        old = open(os.path.join(src, "streams", name), "rb").read()
        if len(old) != pt["bytes"]:
            sys.exit(f"{name}: {len(old)} bytes, the report says {pt['bytes']}")
        new = repack(old)
        path = os.path.join(dst, "streams", name)
        open(path, "wb").write(new)
        if nlc:
            with tempfile.TemporaryDirectory() as t:
                a, b = os.path.join(t, "a.png"), os.path.join(t, "b.png")
                for s, o in ((os.path.join(src, "streams", name), a), (path, b)):
                    subprocess.run([nlc, "decode", s, "-o", o], check=True, capture_output=True)
                if open(a, "rb").read() != open(b, "rb").read():
                    sys.exit(f"{name}: the repacked stream decodes to other pixels")
        pt["bpp"] *= len(new) / len(old)
        saved.setdefault(pt["quality"], []).append((len(old) - len(new), len(old)))
        pt["bytes"] = len(new)
    c = report["codecs"]["nlc"]
    for qi, q in enumerate(c["quality"]):
        pts = [p for p in c["per_image"] if p["quality"] == q]
        c["bpp"][qi] = sum(p["bpp"] for p in pts) / len(pts)
        d = saved[q]
        print(f"q {q}: {sum(x for x, _ in d) / len(d):.1f} bytes saved a stream on average "
              f"({min(x for x, _ in d)}-{max(x for x, _ in d)}), "
              f"{100 * sum(x for x, _ in d) / sum(y for _, y in d):.2f}% of the bytes")
    report["label"] += ", repacked to bitstream 1.5 (bench/inr_repack.py)"
    report.pop("bd_rate_of_nlc_percent", None)  # the run's own figures no longer apply
    json.dump(report, open(os.path.join(dst, "report.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
