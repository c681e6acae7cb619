"""Training speed and peak memory, and the memory of predicting a large folder, measured in one run.

    python benchmarks/train.py [--data DIR ...] [--predict-images 10000] [--skip-training]

1. One epoch of `train.py` on the shared sets (or a generated folder), in float32 and with --amp (bfloat16
   autocast): seconds per epoch, training images per second (validation included in the epoch time) and the
   peak resident memory of the largest process.
2. `predict.py` on a folder of N generated JPEGs and on its first N/10: peak resident memory of each. Folder
   prediction streams, so memory must not grow with the folder: the ratio should stay near 1.
Each command runs as its own process under a small wrapper that reads getrusage(RUSAGE_CHILDREN).ru_maxrss;
the ratios come last.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
MEASURE = ("import resource, subprocess, sys, json\n"
           "result = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "print(json.dumps({'rc': result.returncode, 'stdout': result.stdout, 'stderr': result.stderr[-2000:],\n"
           "                  'max_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n")


def measured(command) -> dict:
    """Run `command` in a fresh wrapper process: wall seconds and the peak RSS of its largest process."""
    started = time.perf_counter()
    output = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, cwd=ROOT)
    result = json.loads(output.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{result['stderr']}")
    result["seconds"] = time.perf_counter() - started
    return result


def jpeg_folder(folder: Path, count: int, size: int = 160) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((size, size), Image.BICUBIC).save(folder / f"{index:05d}.jpg", quality=90)
    return folder


def labelled_folder(root: Path, per_class: int = 400) -> Path:
    for name in ("real", "fake"):
        jpeg_folder(root / name, per_class)
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    shared = [str(SHARED / name) for name in ("faces-stylegan", "diffusion-coco", "faceswap-frames")]
    parser.add_argument("--data", nargs="+", default=shared if SHARED.is_dir() else None,
                        help="training folders (default: the three shared sets, else a generated folder)")
    parser.add_argument("--predict-images", type=int, default=10000)
    parser.add_argument("--skip-training", action="store_true", help="measure prediction memory only")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data = args.data or [str(labelled_folder(scratch / "generated"))]
    import torch
    print(f"{os.cpu_count()} cores, torch {torch.__version__}; data: {', '.join(Path(d).name for d in data)}")

    training = {}
    for label, extra in () if args.skip_training else (("float32", []), ("bfloat16 --amp", ["--amp"])):
        run = measured([sys.executable, "train.py", "--data", *data, "--epochs", "1", "--out",
                        str(scratch / label.split()[0]), *extra])
        n_train = int(re.search(r"data: (\d+) train", run["stdout"]).group(1))
        epoch_seconds = float(re.search(r"epoch 1/1: .*?, (\d+)s", run["stdout"]).group(1))
        training[label] = {"n_train": n_train, "epoch_s": epoch_seconds, "images_per_s": n_train / epoch_seconds,
                           "max_rss_mb": run["max_rss_mb"]}
        print(f"train one epoch, {label:15s} {n_train} images in {epoch_seconds:.0f}s: "
              f"{n_train / epoch_seconds:.1f} images/s; peak RSS {run['max_rss_mb']:.0f} MB")

    big = jpeg_folder(scratch / "predict_big", args.predict_images)
    small = scratch / "predict_small"
    small.mkdir()
    for path in sorted(big.iterdir())[:max(1, args.predict_images // 10)]:
        os.symlink(path, small / path.name)
    predicting = {}
    for folder in (small, big):
        count = len(list(folder.iterdir()))
        run = measured([sys.executable, "predict.py", "--image_path", str(folder), "--json"])
        assert run["stdout"].count("\n") == count, "every image should have its line"
        predicting[count] = run
        print(f"predict.py on {count:6d} images: {run['seconds']:.0f}s ({count / run['seconds']:.1f} images/s "
              f"incl. start-up); peak RSS {run['max_rss_mb']:.0f} MB")

    (n_small, small_run), (n_big, big_run) = sorted(predicting.items())
    if training:
        print(f"ratio training images/s, bfloat16 / float32: "
              f"{training['bfloat16 --amp']['images_per_s'] / training['float32']['images_per_s']:.2f}")
    print(f"ratio predict peak RSS, {n_big} / {n_small} images: "
          f"{big_run['max_rss_mb'] / small_run['max_rss_mb']:.2f} (target: about 1, memory does not grow)")


if __name__ == "__main__":
    main()
