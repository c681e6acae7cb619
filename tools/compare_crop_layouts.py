"""How a checkpoint scores with each crop layout (`--eval-crops` 1, 5, 9, 16), on each set's validation split.

    python tools/compare_crop_layouts.py [--weights W] --data DIR [DIR ...]

Prints ROC-AUC (which no calibration changes), crops per image and images/s per set and layout: the
evidence behind the default layout (transforms.DEFAULT_EVAL_CROPS). Same weights throughout; only where the
crops sit, and how many are averaged, changes.
"""
import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deepfake.data import discover_roots, select_split  # noqa: E402
from deepfake.evaluation import evaluate_detector, recorded_split  # noqa: E402
from deepfake.images import load_rgb_image  # noqa: E402
from deepfake.inference import DEFAULT_WEIGHTS, Detector, load_detector  # noqa: E402
from deepfake.transforms import CROP_LAYOUTS, crop_boxes, fit_to_input  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--data", nargs="+", required=True)
    args = parser.parse_args()
    loaded = load_detector(args.weights, device="cpu")
    split = recorded_split(loaded.card)
    preprocessing = loaded.card.preprocessing
    print(f"{args.weights} (its own layout: {preprocessing.eval_crops} crops): ROC-AUC on each set's validation "
          f"split, by layout")
    for root in args.data:
        images = select_split(discover_roots([root]), "val", **split)
        sizes = [fit_to_input(load_rgb_image(image.path), preprocessing).size for image in images]
        cells = []
        for n_crops in sorted(CROP_LAYOUTS):
            detector = Detector(loaded.model, replace(loaded.card, preprocessing=replace(preprocessing,
                                                                                         eval_crops=n_crops)))
            started = time.time()
            evaluation = evaluate_detector(detector, images, show_progress=False)
            seconds = time.time() - started
            crops = sum(len(crop_boxes(w, h, preprocessing.input_size, n_crops)) for w, h in sizes) / len(sizes)
            cells.append(f"{n_crops:>2}: {evaluation.report['roc_auc']:.4f} ({crops:.1f} crops, "
                         f"{len(images) / seconds:.0f} img/s)")
        print(f"{Path(root).name:<16} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
