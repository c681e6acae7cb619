"""What --faces costs on ordinary photos, against scoring the same photos whole, measured in one run.

    python benchmarks/faces.py --folder data/corpus/sources/digicam [--images 30] [--weights W]

Times Detector.predict_files on the same files with PredictOptions(faces=False) and (faces=True) (MTCNN),
after one warm-up file each, decoding included in both; prints ms per image, per megapixel, and the ratio
faces / whole. A newcomer measured 14x on 1-MP photos before MTCNN's crops were batched (issue 37).
"""
import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from deepfake import load_detector  # noqa: E402
from deepfake.data.images import IMAGE_EXTENSIONS  # noqa: E402
from deepfake.inference.options import PredictOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="photos of any size (camera originals: 1-12 MP)")
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--weights", default=None)
    args = parser.parse_args()
    from PIL import Image
    paths = sorted(path for path in Path(args.folder).rglob("*") if path.suffix.lower() in IMAGE_EXTENSIONS)
    paths = paths[:: max(1, len(paths) // args.images)][: args.images]
    megapixels = 0.0
    for path in paths:
        with Image.open(path) as image:
            megapixels += image.width * image.height / 1e6
    detector = load_detector(args.weights, device="cpu")
    seconds = {}
    for name, options in (("whole", PredictOptions()), ("faces", PredictOptions(faces=True))):
        list(detector.predict_files(paths[:1], options, workers=0))  # warm-up: weights, lazy imports
        start = time.perf_counter()
        results = list(detector.predict_files(paths, options, workers=0))
        seconds[name] = time.perf_counter() - start
        print(f"{name}: {len(results)} photos, {megapixels / len(paths):.1f} MP on average: "
              f"{1000 * seconds[name] / len(paths):.0f} ms per image, {1000 * seconds[name] / megapixels:.0f} ms "
              f"per MP", flush=True)
    print(f"ratio faces / whole: {seconds['faces'] / seconds['whole']:.2f}")


if __name__ == "__main__":
    main()
