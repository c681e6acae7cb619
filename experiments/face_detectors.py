"""Face detectors side by side on the shared face sets, where every image holds one face: the share of
images with a face found is the detector's recall. Prints a markdown table for docs/experiments.md.

    python experiments/face_detectors.py [--per-class 200] [--shared ../shared/datasets]
    python experiments/face_detectors.py --photos data/corpus/sources/digicam [--count 40]   # time per megapixel

Each set gives --per-class real and --per-class fake images, spread evenly over its sorted file list (the
frames of faceswap-frames over all of its videos). Time is wall-clock per image on this machine's cores,
decoding excluded, after one warm-up image.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from deepfake.faces.detectors import FACE_DETECTORS, create_face_detector  # noqa: E402
from deepfake.data.images import IMAGE_EXTENSIONS, load_rgb_image  # noqa: E402

SETS = ("faces-stylegan", "dfdc-faces", "faceswap-frames")


def spread(paths: list, count: int) -> list:
    if len(paths) <= count:
        return paths
    step = len(paths) / count
    return [paths[int(index * step)] for index in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--detectors", nargs="+", default=list(FACE_DETECTORS), choices=list(FACE_DETECTORS))
    parser.add_argument("--photos", default=None, metavar="DIR",
                        help="instead: time each detector on the photos under DIR (any size; the camera originals "
                             "of the corpus run 1-12 MP), per image and per megapixel")
    parser.add_argument("--count", type=int, default=40, help="--photos: how many, spread over the folder")
    args = parser.parse_args()
    detectors = {name: create_face_detector(name) for name in args.detectors}
    if args.photos:
        time_on_photos(detectors, Path(args.photos), args.count)
        return
    rows = []
    for name in SETS:
        for label in ("real", "fake"):
            folder = Path(args.shared) / name / label
            paths = spread(sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_EXTENSIONS),
                           args.per_class)
            images = [load_rgb_image(path) for path in paths]
            row = {"set": f"{name} {label}", "n": len(images), "size": f"{images[0].width} px"}
            for detector_name, detector in detectors.items():
                detector.detect(images[0])
                start = time.perf_counter()
                found = sum(bool(detector.detect(image)) for image in images)
                row[detector_name] = (found / len(images), 1000 * (time.perf_counter() - start) / len(images))
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    header = " | ".join(f"{name}: found / ms per image" for name in detectors)
    print(f"| set | images | side | {header} |")
    print("|---|---|---|" + "---|" * len(detectors))
    for row in rows:
        cells = " | ".join(f"{row[name][0]:.1%} / {row[name][1]:.0f}" for name in detectors)
        print(f"| {row['set']} | {row['n']} | {row['size']} | {cells} |")
    totals = {name: sum(row[name][0] * row["n"] for row in rows) / sum(row["n"] for row in rows) for name in detectors}
    print("\nall images: " + ", ".join(f"{name} {rate:.1%}" for name, rate in totals.items()))


def time_on_photos(detectors: dict, folder: Path, count: int) -> None:
    """Milliseconds per image and per megapixel, decoding excluded, by size band of the photos."""
    paths = spread(sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_EXTENSIONS), count)
    images = [load_rgb_image(path) for path in paths]
    bands = {"under 1 MP": (0, 1), "1-4 MP": (1, 4), "4-12 MP": (4, 13)}
    print("| photos | megapixels | " + " | ".join(f"{name}: ms per image / per MP" for name in detectors) + " |")
    print("|---|---|" + "---|" * len(detectors))
    for band, (low, high) in bands.items():
        chosen = [image for image in images if low <= image.width * image.height / 1e6 < high]
        if not chosen:
            continue
        megapixels = sum(image.width * image.height for image in chosen) / 1e6
        cells = []
        for detector in detectors.values():
            detector.detect(chosen[0])  # warm-up: weights, lazy imports
            start = time.perf_counter()
            for image in chosen:
                detector.detect(image)
            seconds = time.perf_counter() - start
            cells.append(f"{1000 * seconds / len(chosen):.0f} / {1000 * seconds / megapixels:.0f}")
        print(f"| {band}: {len(chosen)} | {megapixels / len(chosen):.1f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
