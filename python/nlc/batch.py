"""Codes a folder of images (or of .nlc streams) on a Dask cluster.

    python3 -m nlc.batch SRC DST -q Q [--scheduler ADDRESS] [--workers N] [--device cpu|cuda|auto]
                         [--include GLOB]... [--exclude GLOB]... [--psnr] [--decode] ...

Every file under SRC (recursively; --include/--exclude filter the relative paths) becomes a
task; DST gets the same relative path with the suffix .nlc (--decode: .png, or --format ppm).
Images are recognised by content (PNG, JPEG, PPM/PGM); a file that is not one is reported in
the manifest and never stops the rest. Without --scheduler the job runs on a Dask
LocalCluster of --workers processes on this machine; with it, on that cluster's workers,
which must see SRC and DST at the same paths (shared storage).

Resumable: an output that already exists and verifies (its checksums, model and quality for
encoding; a readable image for decoding) is skipped, and every output is written to a
temporary name in its folder and renamed, so an interrupted job leaves no partial file. A
worker that dies loses nothing: Dask runs its tasks again elsewhere, and each removes the
temporary file (.NAME.<random>.nlctmp) a dead attempt at its output left (--retries also covers exceptions escaping a
task, which the task itself never raises for a bad file).

The manifest (DST/manifest.csv unless --manifest) has a row per file: path, status (ok,
skipped or error), width, height, bytes, bpp, psnr (with --psnr), seconds, worker, error.
The exit status is 0 when no file failed, 1 otherwise, 2 for bad arguments.
"""
import argparse
import csv
import fnmatch
import os
import re
import socket
import sys
import tempfile
import time

__all__ = ["main", "list_jobs", "run_job"]

MANIFEST_FIELDS = ["path", "status", "width", "height", "bytes", "bpp", "psnr", "seconds", "worker", "error"]

# ---- tasks (run on the workers) ----

_coders = {}  # one Encoder/Decoder per worker process and configuration


def _coder(kind, cfg):
    import nlc

    key = (kind, tuple(sorted(cfg.items())))
    if key not in _coders:
        if cfg.get("threads"):
            nlc.set_threads(cfg["threads"])
        if kind == "encoder":
            if cfg.get("codec"):
                _coders[key] = nlc.Encoder(codec=cfg["codec"], effort=cfg["effort"], device=cfg["device"])
            else:
                _coders[key] = nlc.Encoder(cfg.get("model"), device=cfg["device"])
        else:
            _coders[key] = nlc.Decoder(cfg.get("model"), device=cfg["device"])
    return _coders[key]


def _worker_name():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


# nlc's temporary files end in this, in Python (_write_atomic) and in C++ (write_file_atomic in
# codec/src/image.cc, behind nlc.write_image): ".NAME." + mkstemp's random characters + it.
TEMPORARY_SUFFIX = ".nlctmp"


def _write_atomic(path, data):
    """Writes bytes to a temporary file in the target folder, then renames it over path."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _clear_stale_temporaries(path):
    """Removes what an earlier attempt at this output left: a worker killed while writing it
    (SIGKILL, the machine lost) runs no cleanup, so its temporary file stays beside the
    output. The task is keyed by its path, and Dask runs a task once at a time, so a
    temporary of this output is a dead attempt's, whether the encoder's (_write_atomic: 8
    random characters, Python's mkstemp) or the decoder's (nlc.write_image: 6, C's mkstemps).
    Only that exact spelling is removed, never a user's ".NAME.backup" or ".NAME.old.tmp"."""
    folder = os.path.dirname(path) or "."
    dead = re.compile(re.escape("." + os.path.basename(path) + ".") + r"[A-Za-z0-9_]{6,8}"
                      + re.escape(TEMPORARY_SUFFIX))
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        if dead.fullmatch(name):
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def _verifies_as_stream(path, cfg, quality):
    import nlc

    try:
        with open(path, "rb") as f:
            i = nlc.info(f.read())
    except (OSError, nlc.Error):
        return None
    if abs(i["quality"] - round(quality * 65536) / 65536) > 1e-9:
        return None
    if not cfg.get("codec") and i["model_identity"] != _coder("encoder", cfg).model_identity:
        return None
    return i


def run_job(job):
    """One file: (rel, src, dst, mode, cfg, quality, want_psnr) -> a manifest row (a dict).
    Never raises for a bad input: the error goes into the row."""
    import nlc

    rel, src, dst, mode, cfg, quality, want_psnr = job
    row = {"path": rel, "status": "ok", "worker": _worker_name()}
    t0 = time.perf_counter()
    try:
        _clear_stale_temporaries(dst)
        if mode == "encode":
            done = _verifies_as_stream(dst, cfg, quality) if os.path.exists(dst) else None
            if done is not None:
                row.update(status="skipped", width=done["width"], height=done["height"], bytes=done["bytes"],
                           bpp=round(done["bpp"], 5))
            else:
                img = nlc.read_image(src)
                stream = _coder("encoder", cfg).encode(img, quality)
                _write_atomic(dst, stream)
                h, w = img.shape[:2]
                row.update(width=w, height=h, bytes=len(stream), bpp=round(8 * len(stream) / (w * h), 5))
                if want_psnr:
                    row["psnr"] = round(nlc.psnr(img, _coder("decoder", cfg).decode(stream)), 3)
        else:
            existing = None
            if os.path.exists(dst):
                try:
                    existing = nlc.read_image(dst)
                except nlc.Error:
                    existing = None
            with open(src, "rb") as f:
                stream = f.read()
            if existing is not None:
                row["status"] = "skipped"
                img = existing
            else:
                img = _coder("decoder", cfg).decode(stream)
                os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
                nlc.write_image(dst, img)  # atomic too: a temporary file renamed
            h, w = img.shape[:2]
            row.update(width=w, height=h, bytes=len(stream), bpp=round(8 * len(stream) / (w * h), 5))
    except (nlc.Error, ValueError, OSError) as e:
        row.update(status="error", error=f"{type(e).__name__}: {e}")
    row["seconds"] = round(time.perf_counter() - t0, 4)
    return row


# ---- the client side ----


def list_jobs(src, dst, mode, include, exclude, out_format):
    """The (relative path, source, destination) of every file under src, sorted; and the
    rows of files whose output name another file already takes."""
    jobs, taken, clashes = [], {}, []
    src = os.path.abspath(src)
    dst_abs = os.path.abspath(dst)
    for root, dirs, files in os.walk(src):
        dirs.sort()
        # never descend into the destination when it lies inside the source
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(root, d)) != dst_abs]
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, src)
            if name.startswith(".") or not os.path.isfile(full):
                continue
            if include and not any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in include):
                continue
            if any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in exclude):
                continue
            if rel == "manifest.csv" and os.path.abspath(src) == dst_abs:
                continue
            stem = os.path.splitext(rel)[0]
            out_rel = stem + (".nlc" if mode == "encode" else "." + out_format)
            if out_rel in taken:
                clashes.append({"path": rel, "status": "error",
                                "error": f"its output {out_rel} is already the output of {taken[out_rel]}"})
                continue
            taken[out_rel] = rel
            jobs.append((rel, full, os.path.join(dst_abs, out_rel)))
    return jobs, clashes


def _parse(argv):
    import nlc  # (this package: the INR efforts' range and default)

    p = argparse.ArgumentParser(prog="python3 -m nlc.batch", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="folder of images (or of .nlc streams with --decode)")
    p.add_argument("dst", help="output folder (created); same relative paths")
    p.add_argument("-q", "--quality", type=float, default=None, help="quality (required to encode)")
    p.add_argument("--decode", action="store_true", help="decode .nlc streams to images instead")
    p.add_argument("--format", choices=["png", "ppm"], default="png", help="decoded image format (--decode)")
    p.add_argument("--model", help="model file (default: the library's default model)")
    p.add_argument("--codec", choices=["inr"], help="the INR codec (fitted per image, no model file)")
    p.add_argument("--effort", type=int, default=nlc.DEFAULT_EFFORT, choices=range(nlc.MAX_EFFORT + 1),
                   help=f"INR effort 0..{nlc.MAX_EFFORT} (default {nlc.DEFAULT_EFFORT})")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster here)")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster worker processes (default: cores / 2, at least 1)")
    p.add_argument("--threads", type=int, default=1, help="coding threads per worker (default 1)")
    p.add_argument("--include", action="append", default=[], help="glob on the relative path or name (repeatable)")
    p.add_argument("--exclude", action="append", default=[], help="glob to skip (repeatable)")
    p.add_argument("--psnr", action="store_true", help="decode each new stream and record its PSNR")
    p.add_argument("--manifest", help="CSV path (default DST/manifest.csv)")
    p.add_argument("--retries", type=int, default=2, help="Dask retries of a task that raised (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if not a.decode and a.quality is None:
        p.error("-q/--quality is required to encode")
    if a.codec and a.model:
        p.error("--codec inr needs no --model")
    if a.workers is not None and a.workers < 1:
        p.error("--workers must be at least 1")
    if not os.path.isdir(a.src):
        p.error(f"{a.src} is not a folder")
    return a


def main(argv=None):
    a = _parse(sys.argv[1:] if argv is None else argv)
    from distributed import Client, LocalCluster, as_completed

    mode = "decode" if a.decode else "encode"
    include = a.include or (["*.nlc"] if a.decode else [])
    jobs, clashes = list_jobs(a.src, a.dst, mode, include, a.exclude, a.format)
    os.makedirs(a.dst, exist_ok=True)
    manifest = a.manifest or os.path.join(a.dst, "manifest.csv")
    cfg = {"model": a.model, "codec": a.codec, "effort": a.effort, "device": a.device, "threads": a.threads}

    cluster = None
    if a.scheduler:
        client = Client(a.scheduler)
    else:
        n = a.workers or max(1, (os.cpu_count() or 2) // 2)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    rows, t0 = list(clashes), time.perf_counter()
    in_bytes = 0
    try:
        tasks = [(rel, src, dst, mode, cfg, a.quality, a.psnr) for rel, src, dst in jobs]
        # One task per file, keyed by its path (so a resubmitted job is the same task); a
        # worker lost with tasks on it has them run again elsewhere.
        futures = client.map(run_job, tasks, key=[f"nlc-{mode}-{t[0]}" for t in tasks], retries=a.retries,
                             pure=False)
        bar = None
        if not a.no_progress:
            from tqdm import tqdm

            bar = tqdm(total=len(futures), unit="img", file=sys.stderr, dynamic_ncols=True)
        with open(manifest + ".part", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
            w.writeheader()
            for r in clashes:
                w.writerow(r)
            for fut in as_completed(futures):
                try:
                    row = fut.result()
                except Exception as e:  # noqa: BLE001 (a task that failed all its retries)
                    row = {"path": "?", "status": "error", "error": f"task failed: {type(e).__name__}: {e}"}
                rows.append(row)
                w.writerow(row)
                f.flush()
                src_path = os.path.join(a.src, row["path"])
                in_bytes += os.path.getsize(src_path) if os.path.isfile(src_path) else 0
                if bar is not None:
                    el = max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix_str(f"{in_bytes / el / 1e6:.2f} MB/s in", refresh=False)
                    bar.update(1)
        if bar is not None:
            bar.close()
        rows.sort(key=lambda r: r["path"])
        _write_manifest(manifest, rows)
        os.unlink(manifest + ".part")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    _summary(rows, time.perf_counter() - t0, in_bytes, manifest, mode)
    return 1 if any(r["status"] == "error" for r in rows) else 0


def _write_manifest(path, rows):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest.", suffix=TEMPORARY_SUFFIX)
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in MANIFEST_FIELDS})
    os.replace(tmp, path)


def _summary(rows, seconds, in_bytes, manifest, mode):
    count = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "error")}
    coded = [r for r in rows if r["status"] == "ok"]
    out = sum(int(r.get("bytes") or 0) for r in coded)
    pixels = sum(int(r.get("width") or 0) * int(r.get("height") or 0) for r in coded)
    print(f"{len(rows)} files: {count['ok']} {mode}d, {count['skipped']} skipped (already done), "
          f"{count['error']} failed; {seconds:.1f} s, {len(rows) / max(seconds, 1e-9):.1f} files/s, "
          f"{in_bytes / max(seconds, 1e-9) / 1e6:.2f} MB/s read", file=sys.stderr)
    if coded and pixels:
        print(f"{mode}d: {out} stream bytes, {8 * out / pixels:.4f} bpp over {pixels / 1e6:.2f} Mpixels",
              file=sys.stderr)
    for r in rows:
        if r["status"] == "error":
            print(f"error: {r['path']}: {r.get('error', '')}", file=sys.stderr)
    print(f"manifest: {manifest}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
