#!/usr/bin/python3
"""`nlc serve` under load (README, "Vision services"): N requests to /v1/classify over C
keep-alive connections on loopback, 10% of them damaged streams (truncated or bit-flipped),
the rest Imagenette validation photos coded at quality 2 with the default model. Reports
requests/s, latency percentiles and the server's resident memory before and after; checks
that every good request got a label and every bad one a 4xx.

    /usr/bin/python3 bench/serve_bench.py build/nlc --classifier models/imagenette-latent-v4.nlcm \\
        ../shared/data/imagenette/train [--requests 2000] [--connections 8] [--threads N]
"""
import argparse, http.client, json, os, random, re, signal, subprocess, sys, tempfile, threading, time


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nlc")
    ap.add_argument("src")
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(1)
    names = sorted(os.path.join(c, n) for c in os.listdir(a.src) if os.path.isdir(os.path.join(a.src, c))
                   for n in os.listdir(os.path.join(a.src, c)))
    good = []
    with tempfile.TemporaryDirectory() as d:
        for n in rng.sample(names, 32):
            out = os.path.join(d, "s.nlc")
            subprocess.run([a.nlc, "encode", os.path.join(a.src, n), "-q", "2", "-o", out], check=True, capture_output=True)
            with open(out, "rb") as f:
                good.append(f.read())
    bad = [s[:len(s) // 2] for s in good[:4]] + [s[:80] + bytes([s[80] ^ 1]) + s[81:] for s in good[4:8]]
    cmd = [a.nlc, "serve", "--listen", "127.0.0.1:0", "--classifier", a.classifier]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    port = int(re.search(r"127\.0\.0\.1:(\d+)", p.stderr.readline()).group(1))
    jobs = [(rng.choice(bad), False) if rng.random() < 0.1 else (rng.choice(good), True) for _ in range(a.requests)]
    lat, wrong, lock = [], [], threading.Lock()

    def client(part):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body, ok in part:
            t0 = time.perf_counter()
            c.request("POST", "/v1/classify?top=1", body=body, headers={"Content-Type": "application/octet-stream"})
            r = c.getresponse()
            data = r.read()
            ms = 1000 * (time.perf_counter() - t0)
            with lock:
                lat.append(ms)
                if (r.status == 200) != ok or (not ok and not 400 <= r.status < 500) or "top" not in json.loads(data) and ok:
                    wrong.append((r.status, data[:100]))
        c.close()

    # a warm-up request per worker, then the run
    client([(good[0], True)] * 4)
    lat.clear()
    rss0 = rss_mib(p.pid)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=client, args=(jobs[i::a.connections],)) for i in range(a.connections)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    rss1 = rss_mib(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    lat.sort()
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
    print(f"{a.requests} requests over {a.connections} connections ({sum(not ok for _, ok in jobs)} damaged): "
          f"{a.requests / wall:.1f} requests/s, p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, "
          f"RSS {rss0:.1f} -> {rss1:.1f} MiB; wrong answers: {len(wrong)}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
