"""BD-rates between the curves of `nlc eval` reports on a subset of their images: for each
report's `nlc` curve (and the baselines of the first report), the per-image points of the
chosen images averaged per quality as `nlc eval` averages them (mean bpp, mean PSNR-RGB),
then the Bjontegaard rate difference of every pair (log rate as a cubic in PSNR, integrated
over the common PSNR range: the definition of eval/bd_rate.cc, which the Python binding does
not reach; on a report's whole image set this gives `nlc eval`'s own figures, which
tests/cli_test.sh checks).
It compares efforts measured in different runs on the images they share, e.g. effort 3 on a
subset against effort 2 over all 24:

    /usr/bin/python3 bench/report_bd.py kodim01,kodim02 e1=docs/kodak-eval-inr-e1.json \\
        e2=docs/kodak-eval-inr-e2.json e3=docs/kodak-eval-inr-e3-n2.json

One curve may join the per-image points of several runs of the same codec on different images
(name=A.json+B.json; an image measured in two of them is refused), e.g. effort 3 measured on
kodim01-02 in one run and kodim03-04 in another.

--published FILE (bench/published/kodak_rd.json) adds the published curves as anchors, as
`nlc eval --published` does; they are averages over all 24 Kodak images, so they are refused
unless the chosen images are exactly kodim01..kodim24.
"""
import json
import sys

import numpy as np


def load(path):
    try:
        with open(path) as f:
            return json.load(f)["codecs"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"{path}: not an nlc eval report ({e})")


def curve(paths, codec, images):
    """paths: one report, or several joined by '+' whose images do not overlap."""
    points, seen = {}, {}
    for path in paths.split("+"):
        for p in load(path)[codec]["per_image"]:
            if p["image"] not in images:
                continue
            if seen.setdefault(p["image"], path) != path:
                sys.exit(f"{p['image']} is in both {seen[p['image']]} and {path}")
            points.setdefault(p["quality"], []).append((p["bpp"], p["psnr_rgb"]))
    missing = [q for q, v in points.items() if len(v) != len(images)]
    if not points or missing:
        sys.exit(f"{paths}: {codec} lacks some of {','.join(images)}")
    qs = sorted(points)
    return [np.mean([b for b, _ in points[q]]) for q in qs], [np.mean([p for _, p in points[q]]) for q in qs]


def bd_rate(anchor, test):
    (ar, ap), (tr, tp) = anchor, test
    if len(ar) < 4 or len(tr) < 4:
        sys.exit("BD-rate needs at least 4 points per curve")
    fa, ft = np.polyint(np.polyfit(ap, np.log(ar), 3)), np.polyint(np.polyfit(tp, np.log(tr), 3))
    lo, hi = max(min(ap), min(tp)), min(max(ap), max(tp))
    if hi <= lo:
        return float("nan")
    ia = np.polyval(fa, hi) - np.polyval(fa, lo)
    it = np.polyval(ft, hi) - np.polyval(ft, lo)
    return 100 * (np.exp((it - ia) / (hi - lo)) - 1)


def main():
    args = sys.argv[1:]
    published = None
    if "--published" in args:
        i = args.index("--published")
        published = args[i + 1] if i + 1 < len(args) else sys.exit(__doc__)
        del args[i:i + 2]
    if len(args) < 2 or any("=" not in a for a in args[1:]):
        sys.exit(__doc__)
    images = args[0].split(",")
    reports = [a.split("=", 1) for a in args[1:]]
    curves = {name: curve(path, "nlc", images) for name, path in reports}
    first = load(reports[0][1].split("+")[0])
    for base in [c for c in first if c != "nlc"]:
        curves[base] = curve(reports[0][1], base, images)
    if published:
        if sorted(images) != [f"kodim{i:02d}" for i in range(1, 25)]:
            sys.exit("--published: the published curves are averages over all 24 Kodak images")
        with open(published) as f:
            for name, c in json.load(f).items():
                curves[name] = (list(c["bpp"]), list(c["psnr_rgb"]))
    for name, (r, p) in curves.items():
        print(f"{name:8s} " + "  ".join(f"{b:.3f}/{q:.2f}" for b, q in zip(r, p)))
    # Each report's curve against the reports before it and against the baselines.
    tests = [name for name, _ in reports]
    baselines = [name for name in curves if name not in tests]
    for i, test in enumerate(tests):
        for anchor in tests[:i] + baselines:
            print(f"BD-rate of {test} against {anchor}: {bd_rate(curves[anchor], curves[test]):+.1f}%")


if __name__ == "__main__":
    main()
