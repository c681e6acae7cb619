"""The cost of reading provenance evidence, against folder prediction without it, in one run.

    python benchmarks/provenance.py [--images 200] [--folder DIR] [--weights W] [--repeats 3]

Two folders of the same pictures: the JPEGs as they are (C2PA, XMP, EXIF read; no watermark: it does not
survive JPEG), and the same decoded and stored as PNG (every file also gets the watermark decoder, the worst
case). For each: read_evidence alone, in ms per image, given the pixels the loader decoded (as the decoding
workers call it), then end-to-end predict_paths with --evidence off and with --evidence decide, alternated.
Target: decide costs under 5% of end to end with off. On a shared 2-core machine two end-to-end runs differ by
several percent, so the median of the paired ratios is printed beside the reading cost itself.
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

from deepfake import load_detector  # noqa: E402
from deepfake.data.datasets import iter_image_files, load_for, worker_count  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS  # noqa: E402
from deepfake.provenance import read_evidence  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "datasets" / "diffusion-coco" / "fake"


def as_png(paths, out: Path) -> list:
    out.mkdir(parents=True, exist_ok=True)
    converted = []
    for path in paths:
        target = out / f"{path.stem}.png"
        Image.open(path).convert("RGB").save(target, compress_level=1)
        converted.append(target)
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER), help="JPEGs to time (default: diffusion-coco fakes)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    jpegs = list(iter_image_files(Path(args.folder)))[:args.images]
    pngs = as_png(jpegs, Path(tempfile.mkdtemp(prefix="bench_png_")))
    workers = worker_count(args.workers)
    detector = load_detector(args.weights, device="cpu")
    print(f"{len(jpegs)} images from {args.folder} (and the same as PNG); {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {workers} decoding workers, {detector.card.arch}")

    for name, paths in (("JPEG", jpegs), ("PNG", pngs)):
        for path in paths:
            path.read_bytes()  # into the page cache: neither side below pays for the first read from disk
        decoded = [load_for(detector.transform, path) for path in paths]
        read_evidence(paths[0], decoded[0])  # the first call loads the C2PA library and OpenCV's thread pool
        started = time.perf_counter()
        found = sum(len(read_evidence(path, image)) for path, image in zip(paths, decoded))
        alone = (time.perf_counter() - started) / len(paths) * 1000
        del decoded

        def end_to_end(mode: str) -> float:
            detector.evidence_mode = mode
            started = time.perf_counter()
            scored = sum(1 for _ in detector.predict_paths(paths, 32, workers))
            return (time.perf_counter() - started) / scored * 1000

        times = {"off": [], "decide": []}
        for _ in range(args.repeats):
            for mode in times:
                times[mode].append(end_to_end(mode))
        off, decide = min(times["off"]), min(times["decide"])
        paired = statistics.median(d / o for d, o in zip(times["decide"], times["off"]))
        print(f"{name}: read_evidence alone {alone:.2f} ms/image ({found} items found); end to end "
              f"off {off:.2f} ms/image, decide {decide:.2f} ms/image "
              f"(runs: off {', '.join(f'{t:.2f}' for t in times['off'])}; "
              f"decide {', '.join(f'{t:.2f}' for t in times['decide'])})")
        print(f"{name}: evidence costs {decide / off - 1:+.1%} of end-to-end folder prediction by the fastest runs, "
              f"{paired - 1:+.1%} by the median paired run (target < +5%); reading alone is {alone / off:.1%} of it")


if __name__ == "__main__":
    main()
