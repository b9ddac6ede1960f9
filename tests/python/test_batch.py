"""The batch tool (python3 -m nlc.batch) on Dask LocalClusters of 2 workers: a folder with
nested directories, a corrupt PNG and a file that is no image; a second run that skips
everything; a worker killed in the middle (the manifest complete, no partial output); and
--decode back to images.

Run by ctest with PYTHONPATH at build/python; by hand:
PYTHONPATH=build/python /usr/bin/python3 tests/python/test_batch.py -v
"""
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
from PIL import Image

import nlc

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def picture():
    return np.asarray(Image.open(os.path.join(SRC, "assets", "kodim23.png")).convert("RGB"))


def batch(*args, **kw):
    return subprocess.run([sys.executable, "-m", "nlc.batch", *args, "--no-progress"], capture_output=True,
                          text=True, **kw)


def manifest(path):
    with open(path, newline="") as f:
        return {r["path"]: r for r in csv.DictReader(f)}


def leftovers(folder):
    # Any hidden file: the batch tool writes none but temporaries, whatever their spelling.
    return [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.startswith(".")]


class Batch(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.src = os.path.join(self.tmp.name, "src")
        self.dst = os.path.join(self.tmp.name, "dst")
        pic = picture()
        self.images = {}
        for i, rel in enumerate(["a.png", "x/b.png", "x/y/c.jpg", "x/y/d.ppm", "z/e.png"]):
            os.makedirs(os.path.dirname(os.path.join(self.src, rel)), exist_ok=True)
            img = np.ascontiguousarray(pic[40 * i:40 * i + 64, 50 * i:50 * i + 96])
            Image.fromarray(img).save(os.path.join(self.src, rel), quality=95)
            self.images[rel] = nlc.read_image(os.path.join(self.src, rel))
        with open(os.path.join(self.src, "a.png"), "rb") as f:
            good = f.read()
        with open(os.path.join(self.src, "x/corrupt.png"), "wb") as f:
            f.write(good[: len(good) // 2])
        with open(os.path.join(self.src, "z/README.txt"), "w") as f:
            f.write("not an image\n")

    def test_folder_errors_resume_and_decode(self):
        r = batch(self.src, self.dst, "-q", "2", "--workers", "2", "--psnr")
        self.assertEqual(r.returncode, 1, r.stderr)  # two files failed, the rest was coded
        m = manifest(os.path.join(self.dst, "manifest.csv"))
        self.assertEqual(set(m), set(self.images) | {"x/corrupt.png", "z/README.txt"})
        self.assertIn("corrupt PNG", m["x/corrupt.png"]["error"])
        self.assertIn("not an image", m["z/README.txt"]["error"])
        enc = nlc.Encoder()
        for rel, img in self.images.items():
            self.assertEqual(m[rel]["status"], "ok")
            out = os.path.join(self.dst, os.path.splitext(rel)[0] + ".nlc")
            with open(out, "rb") as f:
                self.assertEqual(f.read(), enc.encode(img, 2))  # the binding's bytes
            self.assertEqual((int(m[rel]["width"]), int(m[rel]["height"])), (96, 64))
            self.assertGreater(float(m[rel]["psnr"]), 25)
            self.assertTrue(m[rel]["worker"].startswith("tcp://"))
        self.assertEqual(leftovers(self.dst), [])
        self.assertIn("5 encoded", r.stderr)
        # a second run skips everything that was done (the two bad files fail again)
        stamps = {rel: os.stat(os.path.join(self.dst, os.path.splitext(rel)[0] + ".nlc")).st_mtime_ns
                  for rel in self.images}
        r = batch(self.src, self.dst, "-q", "2", "--workers", "2")
        self.assertEqual(r.returncode, 1, r.stderr)
        m = manifest(os.path.join(self.dst, "manifest.csv"))
        self.assertEqual({k for k, v in m.items() if v["status"] == "skipped"}, set(self.images))
        self.assertEqual({k for k, v in m.items() if v["status"] == "error"}, {"x/corrupt.png", "z/README.txt"})
        for rel, t in stamps.items():
            self.assertEqual(os.stat(os.path.join(self.dst, os.path.splitext(rel)[0] + ".nlc")).st_mtime_ns, t)
        self.assertIn("0 encoded, 5 skipped", r.stderr)
        # a third skips every output that verifies and rewrites a damaged one
        damaged = os.path.join(self.dst, "x/b.nlc")
        with open(damaged, "r+b") as f:
            f.seek(30)
            f.write(b"\xff")
        stamps = {p: os.stat(os.path.join(self.dst, p)).st_mtime_ns for p in ("a.nlc", "z/e.nlc")}
        r = batch(self.src, self.dst, "-q", "2", "--workers", "2")
        m = manifest(os.path.join(self.dst, "manifest.csv"))
        self.assertEqual(m["x/b.png"]["status"], "ok")
        self.assertEqual(sorted(k for k, v in m.items() if v["status"] == "skipped"),
                         sorted(set(self.images) - {"x/b.png"}))
        for p, t in stamps.items():
            self.assertEqual(os.stat(os.path.join(self.dst, p)).st_mtime_ns, t)
        # another quality is another job: nothing skipped
        r = batch(self.src, self.dst, "-q", "3", "--workers", "2", "--include", "*.png")
        m = manifest(os.path.join(self.dst, "manifest.csv"))
        self.assertEqual({k for k, v in m.items() if v["status"] == "ok"}, {"a.png", "x/b.png", "z/e.png"})
        # --decode: the streams back to images, as the binding decodes them
        back = os.path.join(self.tmp.name, "back")
        r = batch(self.dst, back, "--decode", "--workers", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        dec = nlc.Decoder()
        for rel in self.images:
            stem = os.path.splitext(rel)[0]
            with open(os.path.join(self.dst, stem + ".nlc"), "rb") as f:
                want = dec.decode(f.read())
            np.testing.assert_array_equal(nlc.read_image(os.path.join(back, stem + ".png")), want)

    def test_bad_arguments(self):
        self.assertEqual(batch(self.src, self.dst).returncode, 2)  # no quality
        self.assertEqual(batch(os.path.join(self.tmp.name, "none"), self.dst, "-q", "1").returncode, 2)
        self.assertEqual(batch(self.src, self.dst, "-q", "1", "--workers", "0").returncode, 2)

    def test_a_dead_attempts_temporaries_are_cleared(self):
        # What a worker killed in the middle of a write leaves (no cleanup runs on SIGKILL):
        # the task's next attempt removes it, and only it.
        from nlc.batch import run_job

        out = os.path.join(self.dst, "a.nlc")
        os.makedirs(self.dst)
        dead = [os.path.join(self.dst, n) for n in (".a.nlc.k3j_9x2q.nlctmp",)]
        other = [os.path.join(self.dst, n) for n in (".b.nlc.k3j_9x2q.nlctmp", "a.nlc.keep.nlctmp", ".a.nlc.notes.txt",
                                                     ".a.nlc.backup", ".a.nlc.old.nlctmp", ".a.nlc.k3j_9x2q.tmp")]
        for p in dead + other:
            with open(p, "wb") as f:
                f.write(b"partial")
        row = run_job(("a.png", os.path.join(self.src, "a.png"), out, "encode",
                       {"model": None, "codec": None, "effort": 0, "device": "cpu", "threads": 1}, 2.0, False))
        self.assertEqual(row["status"], "ok", row)
        self.assertEqual([p for p in dead if os.path.exists(p)], [])
        self.assertEqual([p for p in other if not os.path.exists(p)], [])
        with open(out, "rb") as f:
            nlc.info(f.read())

    def test_a_decoder_killed_mid_write_leaves_nothing_after_the_rerun(self):
        # nlc.write_image's own temporary (C++, not the batch tool's spelling): a process killed
        # while writing it, for real, by SIGXFSZ at a 4 KiB file-size limit (Python ignores that
        # signal; the child restores its default action, which kills without cleanup).
        from nlc.batch import run_job

        cfg = {"model": None, "codec": None, "effort": 0, "device": "cpu", "threads": 1}
        stream = os.path.join(self.dst, "a.nlc")
        self.assertEqual(run_job(("a.png", os.path.join(self.src, "a.png"), stream, "encode", cfg, 2.0, False))["status"],
                         "ok")
        back = os.path.join(self.tmp.name, "back")
        os.makedirs(back)
        out = os.path.join(back, "a.png")
        child = ("import resource, signal, sys, numpy as np, nlc\n"
                 "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
                 "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
                 "img = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)\n"
                 "nlc.write_image(sys.argv[1], img)\n")
        r = subprocess.run([sys.executable, "-c", child, out], capture_output=True, text=True)
        self.assertEqual(r.returncode, -signal.SIGXFSZ, r.stderr)
        left = leftovers(back)
        self.assertEqual(len(left), 1, left)  # the dead write's temporary
        self.assertFalse(os.path.exists(out))
        row = run_job(("a.nlc", stream, out, "decode", cfg, 2.0, False))
        self.assertEqual(row["status"], "ok", row)
        self.assertEqual(leftovers(back), [])
        self.assertEqual(nlc.read_image(out).shape, self.images["a.png"].shape)

    def test_a_killed_worker_loses_nothing(self):
        from distributed import Client, LocalCluster

        pic = picture()
        many = os.path.join(self.tmp.name, "many")
        n = 48
        for i in range(n):
            os.makedirs(os.path.join(many, f"d{i % 4}"), exist_ok=True)
            y, x = (i * 37) % 256, (i * 53) % 512
            Image.fromarray(np.ascontiguousarray(pic[y:y + 256, x:x + 256])).save(
                os.path.join(many, f"d{i % 4}", f"i{i}.png"))
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            pids = client.run(os.getpid)  # worker address -> process id
            job = subprocess.Popen([sys.executable, "-m", "nlc.batch", many, self.dst, "-q", "2", "--no-progress",
                                    "--scheduler", cluster.scheduler_address],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

            def outputs():
                return sum(f.endswith(".nlc") for _, _, fs in os.walk(self.dst) for f in fs)

            deadline = time.time() + 120
            while outputs() < 3 and time.time() < deadline and job.poll() is None:
                time.sleep(0.01)
            done_at_kill = outputs()
            os.kill(next(iter(pids.values())), signal.SIGKILL)
            _, err = job.communicate(timeout=300)
        self.assertLess(done_at_kill, n, "the job ended before the worker was killed")
        self.assertEqual(job.returncode, 0, err)
        m = manifest(os.path.join(self.dst, "manifest.csv"))
        self.assertEqual(len(m), n)
        # ok, or skipped: a task whose worker died after writing its output but before
        # reporting runs again and finds that output complete
        self.assertEqual({r["status"] for r in m.values()} - {"ok", "skipped"}, set(), m)
        for rel in m:
            with open(os.path.join(self.dst, os.path.splitext(rel)[0] + ".nlc"), "rb") as f:
                nlc.info(f.read())  # every output complete: its checksums hold
        self.assertEqual(leftovers(self.dst), [])


if __name__ == "__main__":
    unittest.main()
