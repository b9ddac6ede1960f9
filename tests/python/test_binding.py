"""The Python binding (python/): round trips, streams byte-identical to the CLI's, the latent
the CLI writes, errors as the documented exception classes, batch calls, the GIL released
while coding, arrays handed over without a copy.

Run by ctest (tests/CMakeLists.txt) with PYTHONPATH at build/python and NLC_CLI the nlc
binary; by hand: PYTHONPATH=build/python NLC_CLI=build/nlc /usr/bin/python3
tests/python/test_binding.py -v
"""
import os
import subprocess
import tempfile
import threading
import time
import unittest

import numpy as np
from PIL import Image

import nlc

CLI = os.environ.get("NLC_CLI", "build/nlc")
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kodim23(w=96, h=64):
    """A crop of the repository's test picture (not used for tuning anything)."""
    img = np.asarray(Image.open(os.path.join(SRC, "assets", "kodim23.png")).convert("RGB"))
    return np.ascontiguousarray(img[150:150 + h, 300:300 + w])


def cli(*args):
    return subprocess.run([CLI, *args], check=True, capture_output=True)


class RoundTrip(unittest.TestCase):
    def test_rgb_and_gray(self):
        enc, dec = nlc.Encoder(), nlc.Decoder()
        rgb = kodim23()
        out = dec.decode(enc.encode(rgb, 2.0))
        self.assertEqual(out.shape, rgb.shape)
        self.assertEqual(out.dtype, np.uint8)
        self.assertGreater(nlc.psnr(rgb, out), 25)
        gray = rgb[:, :, 1].copy()
        for g in (gray, gray[:, :, None]):
            o = dec.decode(enc.encode(g, 3.0))
            self.assertEqual(o.shape, gray.shape + (1,))
        # a non-contiguous view codes as its contiguous copy
        view = kodim23(192, 64)[:, ::2]
        self.assertEqual(enc.encode(view, 2.0), enc.encode(np.ascontiguousarray(view), 2.0))

    def test_streams_identical_to_the_cli(self):
        rgb = kodim23()
        with tempfile.TemporaryDirectory() as d:
            png, out, npy = (os.path.join(d, n) for n in ("a.png", "a.nlc", "a.npy"))
            Image.fromarray(rgb).save(png)
            cli("encode", png, "-q", "1.5", "-o", out)
            stream = nlc.Encoder().encode(rgb, 1.5)
            self.assertEqual(stream, open(out, "rb").read())
            # the latent is the CLI's --latent output, bit for bit
            cli("decode", out, "--latent", "-o", npy)
            latent = nlc.Decoder().decode_latent(stream)
            self.assertEqual(latent.dtype, np.float32)
            np.testing.assert_array_equal(latent, np.load(npy))
            # the INR codec (a fit at encode time): the same stream from both doors too
            small = kodim23(32, 24)
            Image.fromarray(small).save(png)
            cli("encode", png, "--codec", "inr", "--effort", "0", "-q", "2", "-o", out)
            self.assertEqual(nlc.Encoder(codec="inr", effort=0).encode(small, 2), open(out, "rb").read())

    def test_tiles_as_the_cli(self):
        # Overlapping tiles: the same stream as `nlc encode --tile 64:16`, the header says so.
        rgb = kodim23()
        with tempfile.TemporaryDirectory() as d:
            png, out = os.path.join(d, "a.png"), os.path.join(d, "a.nlc")
            Image.fromarray(rgb).save(png)
            cli("encode", png, "-q", "1", "--tile", "64:16", "-o", out)
            stream = nlc.Encoder(tile=(64, 16)).encode(rgb, 1)
            self.assertEqual(stream, open(out, "rb").read())
        i = nlc.info(stream)
        self.assertEqual((i["version"], i["tile_size"], i["tile_overlap"]), ("1.2", 64, 16))
        self.assertEqual(len(i["sections"]), 2 * 2 * 1)  # 96x64: 2 x 1 tiles
        self.assertEqual(nlc.Decoder().decode(stream).shape, rgb.shape)
        with self.assertRaises(ValueError):
            nlc.Encoder(tile=(100, 0))

    def test_clc_as_the_cli(self):
        # The bundled CLC model: the same stream as `nlc encode --clc`; any bundled model's
        # decoder reads it (the stream names its model).
        rgb = kodim23()
        path = nlc.default_clc_model_path()
        self.assertTrue(os.path.exists(path))
        with tempfile.TemporaryDirectory() as d:
            png, out = os.path.join(d, "a.png"), os.path.join(d, "a.nlc")
            Image.fromarray(rgb).save(png)
            cli("encode", png, "-q", "2", "--clc", "-o", out)
            stream = nlc.Encoder(path).encode(rgb, 2)
            self.assertEqual(stream, open(out, "rb").read())
        i = nlc.info(stream)
        self.assertEqual(i["version"], "1.3")
        self.assertEqual([s["name"] for s in i["sections"]], ["HYPER_LATENT", "REFERENCE", "LATENT"])
        self.assertEqual(nlc.Decoder().decode(stream).shape, rgb.shape)

    def test_classifier(self):
        # Labels from the latent, as `nlc classify` gives them; refusals as the library's.
        golden = os.environ.get("NLC_CLASSIFIER_GOLDEN_DIR")
        if not golden:
            self.skipTest("NLC_CLASSIFIER_GOLDEN_DIR not set (ctest sets it)")
        tiny = os.path.join(SRC, "tests", "data", "tiny.nlcm")
        path = os.path.join(golden, "classifier_latent.nlcm")
        c = nlc.Classifier(path, tiny)
        self.assertTrue(c.reads_latents)
        self.assertEqual(len(c.class_names), 7)
        s = nlc.Encoder(tiny).encode(kodim23(), 2)
        r = c.classify(s, top=3)
        self.assertEqual(len(r["top"]), 3)
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "a.nlc")
            with open(f, "wb") as w:
                w.write(s)
            import json
            want = json.loads(cli("classify", f, "-m", tiny, "--classifier", path, "--top", "3", "--json").stdout)
        self.assertEqual([x["class"] for x in r["top"]], [x["class"] for x in want[0]["top"]])
        with self.assertRaises(nlc.StreamError):
            c.classify(nlc.Encoder().encode(kodim23(), 2))  # another codec model
        with self.assertRaises(ValueError):
            c.classify(s, top=0)
        with self.assertRaises(nlc.ModelError):
            nlc.Classifier(path)  # the default codec model: not what it was trained on

    def test_image_files_by_content(self):
        rgb = kodim23()
        with tempfile.TemporaryDirectory() as d:
            exif = Image.Exif()
            exif[0x0112] = 6  # shown turned 90 degrees clockwise
            Image.fromarray(rgb).save(os.path.join(d, "a.jpg"), quality=95, exif=exif)
            jpg = nlc.read_image(os.path.join(d, "a.jpg"))
            self.assertEqual(jpg.shape, (96, 64, 3))
            self.assertGreater(nlc.psnr(jpg, np.ascontiguousarray(np.rot90(rgb, -1))), 35)
            nlc.write_image(os.path.join(d, "b.ppm"), rgb)
            self.assertEqual(open(os.path.join(d, "b.ppm"), "rb").read(2), b"P6")
            np.testing.assert_array_equal(nlc.read_image(os.path.join(d, "b.ppm")), rgb)
            open(os.path.join(d, "c.png"), "wb").write(b"not an image")
            with self.assertRaisesRegex(nlc.ImageError, "not an image"):
                nlc.read_image(os.path.join(d, "c.png"))

    def test_info(self):
        rgb = kodim23()
        s = nlc.Encoder().encode(rgb, 2.0)
        i = nlc.info(s)
        self.assertEqual((i["width"], i["height"], i["channels"]), (96, 64, 3))
        self.assertEqual(i["bytes"], len(s))
        self.assertAlmostEqual(i["bpp"], 8 * len(s) / (96 * 64))
        self.assertEqual(i["model_identity"], nlc.Encoder().model_identity)
        self.assertEqual([x["name"] for x in i["sections"]], ["HYPER_LATENT", "LATENT"])
        self.assertEqual(nlc.model_info()["identity"], i["model_identity"])

    def test_batches_equal_single_calls(self):
        enc, dec = nlc.Encoder(), nlc.Decoder()
        imgs = [kodim23(40, 32), kodim23(64, 48)[:, :, 0].copy()]
        streams = enc.encode_batch(imgs, 2.5)
        self.assertEqual(streams, [enc.encode(i, 2.5) for i in imgs])
        for a, b in zip(dec.decode_batch(streams), [dec.decode(s) for s in streams]):
            np.testing.assert_array_equal(a, b)
        # bytes-like inputs
        np.testing.assert_array_equal(dec.decode(bytearray(streams[0])), dec.decode(memoryview(streams[0])))

    def test_outputs_are_not_copied(self):
        dec = nlc.Decoder()
        out = dec.decode(nlc.Encoder().encode(kodim23(), 2.0))
        self.assertFalse(out.flags["OWNDATA"])  # a view of the library's buffer
        self.assertIsNotNone(out.base)
        self.assertTrue(out.flags["C_CONTIGUOUS"] and out.flags["WRITEABLE"])


class Errors(unittest.TestCase):
    def test_bad_arguments_are_value_errors(self):
        enc = nlc.Encoder()
        rgb = kodim23()
        for bad in (rgb.astype(np.float32), rgb[:, :, :2], rgb[None], np.zeros((0, 4, 3), np.uint8), [1, 2, 3]):
            with self.assertRaises(ValueError):
                enc.encode(bad, 1.0)
        with self.assertRaises(ValueError):
            enc.encode(rgb, 99)
        with self.assertRaises(ValueError):
            nlc.Decoder().decode("not bytes")
        with self.assertRaises(ValueError):
            nlc.Encoder(device="tpu")
        with self.assertRaises(ValueError):
            nlc.Encoder(codec="inr", effort=7)
        # The efforts' range and default are the library's (nlc/codec.h), exported once.
        self.assertTrue(0 <= nlc.DEFAULT_EFFORT <= nlc.MAX_EFFORT)
        nlc.Encoder(codec="inr", effort=nlc.MAX_EFFORT)
        with self.assertRaises(ValueError):
            nlc.Encoder(codec="inr", effort=nlc.MAX_EFFORT + 1)
        with self.assertRaises(ValueError):
            nlc.Encoder(codec="inr", effort=-1)
        with self.assertRaises(ValueError):
            nlc.Encoder(codec="sirens")
        with self.assertRaises(ValueError):
            nlc.Decoder(max_pixels=0)

    def test_library_errors_keep_their_class_and_message(self):
        s = nlc.Encoder().encode(kodim23(), 2.0)
        dec = nlc.Decoder()
        with self.assertRaisesRegex(nlc.StreamError, "truncated"):
            dec.decode(s[:40])
        damaged = bytearray(s)
        damaged[len(s) // 2] ^= 0x10
        with self.assertRaises(nlc.StreamError) as cm:
            dec.decode(bytes(damaged))
        self.assertIsInstance(cm.exception, nlc.Error)
        self.assertIsInstance(cm.exception, RuntimeError)
        with self.assertRaisesRegex(nlc.StreamError, "stream 1"):
            dec.decode_batch([s, s[:50]])
        with self.assertRaisesRegex(nlc.LimitError, "limit"):
            nlc.Decoder(max_pixels=1000).decode(s)
        with self.assertRaises(nlc.StreamError):  # a LimitError is a StreamError
            nlc.Decoder(max_pixels=1000).decode(s)
        with self.assertRaisesRegex(nlc.ModelError, "nonexistent"):
            nlc.Decoder("/nonexistent/m.nlcm")
        with self.assertRaises(nlc.StreamError):
            nlc.info(b"NLC")
        if nlc.Encoder(device="auto").device == "CPU":  # no usable GPU here
            with self.assertRaises(nlc.DeviceError):
                nlc.Decoder(device="cuda")


class Threads(unittest.TestCase):
    def test_the_gil_is_released_while_coding(self):
        # A Python thread notes the time, about every millisecond, while the main thread
        # codes. C++ code that held the GIL would never hand it over (only the interpreter's
        # loop does, between bytecodes), so the thread could run just before and after the
        # call, never in the middle fifth of it.
        enc = nlc.Encoder()
        img = np.ascontiguousarray(np.tile(kodim23(128, 128), (3, 3, 1)))  # 384x384
        stamps, stop = [], threading.Event()

        def spin():
            last = 0.0
            while not stop.is_set():
                now = time.perf_counter()
                if now - last > 0.001:
                    stamps.append(now)
                    last = now

        t = threading.Thread(target=spin)
        t.start()
        try:
            time.sleep(0.01)
            t0 = time.perf_counter()
            enc.encode(img, 2.0)
            t1 = time.perf_counter()
        finally:
            stop.set()
            t.join()
        lo, hi = t0 + 0.4 * (t1 - t0), t0 + 0.6 * (t1 - t0)
        self.assertGreater(t1 - t0, 0.02, "the encode must be long beside the 5 ms switch interval")
        self.assertTrue(any(lo < x < hi for x in stamps), "no Python thread ran during the encode")

    def test_one_decoder_from_many_threads(self):
        dec = nlc.Decoder()
        s = nlc.Encoder().encode(kodim23(), 2.0)
        want = dec.decode(s)
        errors = []

        def work():
            try:
                for _ in range(5):
                    np.testing.assert_array_equal(dec.decode(s), want)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])


class Inr(unittest.TestCase):
    def test_progress_and_errors_from_the_callback(self):
        seen = []
        enc = nlc.Encoder(codec="inr", effort=0, progress=seen.append)
        img = kodim23(32, 24)
        out = nlc.Decoder().decode(enc.encode(img, 2))
        self.assertEqual(out.shape, img.shape)
        self.assertGreater(len(seen), 3)
        self.assertEqual(seen[-1].iteration, seen[-1].total)
        self.assertAlmostEqual(seen[-1].done, 1.0)

        class Stop(Exception):
            pass

        def fail(p):
            raise Stop("from the callback")

        with self.assertRaises(Stop):
            nlc.Encoder(codec="inr", effort=0, progress=fail).encode(img, 2)


if __name__ == "__main__":
    unittest.main()
