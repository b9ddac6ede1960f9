"""`nlc serve` with real clients: curl against every endpoint and every error a client can
cause, the bearer token, 503 when the workers and the queue are full, SIGTERM finishing the
request in progress, and a bounded load test (2,000 requests over 8 keep-alive connections,
10% of them damaged streams) in which every good request gets the label `nlc classify`
gives and every bad one a 4xx. Figures are printed, not asserted (bench/serve_bench.py makes
the README's).

Run by ctest with the classifier golden fixture (a random-weight latent classifier for the
test model, tests/golden/make_classifier_golden.py):
    NLC_CLI=build/nlc NLC_CLASSIFIER_GOLDEN_DIR=DIR /usr/bin/python3 tests/serve_test.py -v
"""
import http.client
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import numpy as np
from PIL import Image

CLI = os.environ.get("NLC_CLI", "build/nlc")
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(SRC, "tests", "data", "tiny.nlcm")
GOLDEN = os.environ.get("NLC_CLASSIFIER_GOLDEN_DIR", "")
CLASSIFIER = os.path.join(GOLDEN, "classifier_latent.nlcm")
OCTET = "Content-Type: application/octet-stream"


def start(*args, env=None):
    """An `nlc serve` on a free loopback port: (process, port)."""
    p = subprocess.Popen([CLI, "serve", "--listen", "127.0.0.1:0", "-m", TINY, "--classifier", CLASSIFIER, *args],
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stderr.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        raise RuntimeError(f"nlc serve did not start: {line}{p.stderr.read()}")
    return p, int(m.group(1))


def stop(p):
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    p.stderr.close()
    return p.wait(timeout=60), rest


def curl(port, path, *args, body=None):
    """(status, body bytes, content type) of one curl request."""
    with tempfile.NamedTemporaryFile() as out:
        cmd = ["curl", "-s", "-o", out.name, "-w", "%{http_code} %{content_type}", f"http://127.0.0.1:{port}{path}", *args]
        if body is not None:
            cmd += ["-H", OCTET, "--data-binary", "@" + body]
        w = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split(" ", 1)
        with open(out.name, "rb") as f:
            return int(w[0]), f.read(), w[1] if len(w) > 1 else ""


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Serve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        img = np.asarray(Image.open(os.path.join(SRC, "assets", "kodim23.png")).convert("RGB"))
        cls.streams = []
        for i, (x, y) in enumerate([(0, 0), (300, 200), (500, 100), (100, 300)]):
            png, s = os.path.join(d, f"{i}.png"), os.path.join(d, f"{i}.nlc")
            Image.fromarray(img[y:y + 96, x:x + 128]).save(png)
            subprocess.run([CLI, "encode", png, "-m", TINY, "-q", "2", "-o", s], check=True, capture_output=True)
            cls.streams.append(s)
        out = subprocess.run([CLI, "classify", *cls.streams, "-m", TINY, "--classifier", CLASSIFIER, "--top", "1",
                              "--json"], check=True, capture_output=True, text=True).stdout
        cls.expected = [r["top"][0]["class"] for r in json.loads(out)]
        cls.good = cls.streams[0]
        b = read(cls.good)
        cls.truncated = os.path.join(d, "cut.nlc")
        write(cls.truncated, b[:len(b) // 2])
        cls.corrupt = os.path.join(d, "flip.nlc")
        write(cls.corrupt, b[:60] + bytes([b[60] ^ 0x40]) + b[61:])
        cls.junk = os.path.join(d, "junk.nlc")  # over cpp-httplib's 8 KiB for form-encoded bodies
        write(cls.junk, bytes(9000))
        cls.empty = os.path.join(d, "empty.nlc")
        write(cls.empty, b"")
        cls.other = os.path.join(d, "other.nlc")  # the default model's stream
        subprocess.run([CLI, "encode", os.path.join(d, "0.png"), "-q", "2", "-o", cls.other], check=True,
                       capture_output=True)
        cls.big = os.path.join(d, "big.nlc")  # takes a while to decode
        Image.fromarray(np.tile(img, (4, 3, 1))).save(os.path.join(d, "big.png"))
        subprocess.run([CLI, "encode", os.path.join(d, "big.png"), "-m", TINY, "-q", "5", "-o", cls.big], check=True,
                       capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_endpoints_and_errors(self):
        limit = os.path.getsize(self.big) - 1  # the big stream is one byte over
        self.assertLess(os.path.getsize(self.good), limit)
        p, port = start("--threads", "2", "--max-body", str(limit))
        try:
            st, body, ctype = curl(port, "/healthz")
            self.assertEqual((st, json.loads(body)["status"]), (200, "ok"))
            st, body, ctype = curl(port, "/v1/classify?top=3", body=self.good)
            self.assertEqual(st, 200)
            self.assertTrue(ctype.startswith("application/json"))
            r = json.loads(body)
            self.assertEqual(len(r["top"]), 3)
            self.assertEqual(r["top"][0]["class"], self.expected[0])
            self.assertGreaterEqual(r["decode_ms"], 0)
            self.assertGreaterEqual(r["infer_ms"], 0)
            # decode: the PNG `nlc decode` writes; latent: the .npy `nlc decode --latent` writes
            st, body, ctype = curl(port, "/v1/decode", body=self.good)
            self.assertEqual((st, ctype), (200, "image/png"))
            want = os.path.join(self.tmp.name, "want.png")
            subprocess.run([CLI, "decode", self.good, "-m", TINY, "-o", want], check=True, capture_output=True)
            self.assertEqual(body, read(want))
            st, body, _ = curl(port, "/v1/latent", body=self.good)
            want = os.path.join(self.tmp.name, "want.npy")
            subprocess.run([CLI, "decode", self.good, "-m", TINY, "--latent", "-o", want], check=True, capture_output=True)
            self.assertEqual((st, body), (200, read(want)))
            # every error a client can cause: a 4xx whose JSON names the problem
            for path, kw, args, code, words in [
                    ("/v1/classify", {"body": self.empty}, [], 400, "empty body"),
                    ("/v1/classify", {"body": self.truncated}, [], 400, "truncated"),
                    ("/v1/decode", {"body": self.corrupt}, [], 400, "invalid stream"),
                    ("/v1/latent", {"body": self.truncated}, [], 400, "truncated"),
                    ("/v1/classify", {"body": self.other}, [], 422, "wrong model"),
                    ("/v1/classify", {"body": self.big}, [], 413, "larger than the server's limit"),
                    ("/v1/classify?top=0", {"body": self.good}, [], 400, "top must be"),
                    ("/v1/classify", {}, [], 405, "takes POST"),
                    ("/v2/nothing", {}, [], 404, "no endpoint"),
                    ("/v1/classify", {}, ["--data-binary", "@" + self.junk], 413, "application/octet-stream")]:
                st, body, ctype = curl(port, path, *args, **kw)
                self.assertEqual(st, code, (path, body))
                self.assertIn(words, json.loads(body)["error"], path)
            metrics = curl(port, "/metrics")[1].decode()
            self.assertIn('nlc_requests_total{endpoint="/v1/classify",code="200"} 1', metrics)
            self.assertIn('nlc_requests_total{endpoint="/v1/classify",code="422"} 1', metrics)
            self.assertIn('nlc_request_latency_ms{endpoint="/v1/classify",quantile="0.99"}', metrics)
        finally:
            rc, err = stop(p)
        self.assertEqual(rc, 0, err)

    def test_token(self):
        p, port = start("--token", "s3cret")
        try:
            self.assertEqual(curl(port, "/v1/classify", body=self.good)[0], 401)
            self.assertEqual(curl(port, "/v1/classify", "-H", "Authorization: Bearer wrong", body=self.good)[0], 401)
            self.assertEqual(curl(port, "/metrics")[0], 401)
            self.assertEqual(curl(port, "/v1/classify", "-H", "Authorization: Bearer s3cret", body=self.good)[0], 200)
            self.assertEqual(curl(port, "/healthz")[0], 200)  # probes need no token
        finally:
            stop(p)

    def test_full_queue_is_503_and_sigterm_finishes_requests(self):
        p, port = start("--threads", "1", "--queue", "0", "--max-body", "100000000")
        results = {}

        def slow():
            results["slow"] = curl(port, "/v1/decode", body=self.big)[0]

        t = threading.Thread(target=slow)
        t.start()
        deadline = time.time() + 30
        while time.time() < deadline:  # until the slow request holds the only worker
            m = curl(port, "/metrics")[1].decode()
            if "nlc_workers_busy 1" in m:
                break
            time.sleep(0.02)
        st, body, _ = curl(port, "/v1/classify", body=self.good)
        self.assertEqual(st, 503, body)
        self.assertIn("busy", json.loads(body)["error"])
        # SIGTERM while the slow request runs: it still gets its answer, then the server exits 0.
        p.send_signal(signal.SIGTERM)
        t.join(timeout=120)
        self.assertEqual(results.get("slow"), 200)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertIn("finishing the requests in progress", p.stderr.read())
        p.stderr.close()

    def test_load(self):
        p, port = start("--threads", "2")
        try:
            rng = random.Random(7)
            bodies = [read(s) for s in self.streams]
            bad = [read(s) for s in (self.truncated, self.corrupt, self.empty, self.other)]
            jobs = []
            for i in range(2000):
                if rng.random() < 0.1:
                    jobs.append((rng.choice(bad), None))
                else:
                    k = rng.randrange(len(bodies))
                    jobs.append((bodies[k], self.expected[k]))
            failures, latencies, lock = [], [], threading.Lock()
            rss0 = rss_kib(p.pid)

            def client(part):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                for body, want in part:
                    t0 = time.perf_counter()
                    c.request("POST", "/v1/classify?top=1", body=body, headers={"Content-Type": "application/octet-stream"})
                    r = c.getresponse()
                    data = r.read()
                    ms = (time.perf_counter() - t0) * 1000
                    ok = (r.status == 200 and json.loads(data)["top"][0]["class"] == want) if want else \
                        (400 <= r.status < 500 and "error" in json.loads(data))
                    with lock:
                        latencies.append(ms)
                        if not ok:
                            failures.append((r.status, data[:200]))
                c.close()

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(jobs[i::8],)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            rss1 = rss_kib(p.pid)
            self.assertEqual(failures, [])
            self.assertEqual(len(latencies), 2000)
            lat = sorted(latencies)
            print(f"\nload: 2000 requests over 8 connections in {wall:.1f} s ({2000 / wall:.0f} requests/s), "
                  f"p50 {lat[1000]:.1f} ms, p99 {lat[1980]:.1f} ms, RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB")
        finally:
            rc, err = stop(p)
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
