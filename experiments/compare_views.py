"""How a checkpoint scores when it views an image otherwise: each crop layout, or a larger or smaller view.

    python experiments/compare_views.py [--weights W] --data DIR [DIR ...] [--view-sizes N [N ...]]

Prints ROC-AUC (which no calibration changes) and images/s per set, on each set's validation split. Without
--view-sizes it compares the crop layouts (`--eval-crops` 1, 5, 9, 16) and says how many crops each averages:
the evidence behind the default layout (transforms.DEFAULT_EVAL_CROPS). With it, the checkpoint's own layout
scores views of N pixels instead of its input size (for a checkpoint that resizes, the shorter side resized
to N as well): does a checkpoint trained on 128-px views gain from seeing more pixels, as FixRes (Touvron et
al., NeurIPS 2019) found for classifiers trained on random-resized crops? Same weights throughout.
"""
import argparse
import time
from dataclasses import replace
from pathlib import Path


from deepfake.data.datasets import discover_roots, select_split  # noqa: E402
from deepfake.evaluation.evaluate import evaluate_detector, recorded_split  # noqa: E402
from deepfake.data.images import load_rgb_image  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS, Detector, load_detector  # noqa: E402
from deepfake.data.transforms import CROP_LAYOUTS, crop_boxes, fit_to_input  # noqa: E402
from deepfake.preprocessing import Preprocessing


def crop_layouts(preprocessing: Preprocessing) -> dict:
    return {f"{n_crops:>2}": replace(preprocessing, eval_crops=n_crops) for n_crops in sorted(CROP_LAYOUTS)}


def view_sizes(preprocessing: Preprocessing, sizes) -> dict:
    return {f"{size} px": replace(preprocessing, input_size=size, resize=size if preprocessing.resize else 0)
            for size in sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--view-sizes", nargs="+", type=int, metavar="N",
                        help="compare views of N pixels instead of the crop layouts")
    args = parser.parse_args()
    loaded = load_detector(args.weights, device="cpu")
    split = recorded_split(loaded.card)
    preprocessing = loaded.card.preprocessing
    if args.view_sizes:
        variants = view_sizes(preprocessing, args.view_sizes)
        print(f"{args.weights} (its own view: {preprocessing.input_size} px): ROC-AUC on each set's validation "
              f"split, by view size")
    else:
        variants = crop_layouts(preprocessing)
        print(f"{args.weights} (its own layout: {preprocessing.eval_crops} crops): ROC-AUC on each set's "
              f"validation split, by layout")
    for root in args.data:
        images = select_split(discover_roots([root]), "val", **split)
        # The layouts differ only in where the crops sit, so the resized sizes are the checkpoint's own: once.
        sizes = [] if args.view_sizes else [fit_to_input(load_rgb_image(image.path), preprocessing).size
                                            for image in images]
        cells = []
        for name, variant in variants.items():
            detector = Detector(loaded.model, replace(loaded.card, preprocessing=variant))
            started = time.time()
            evaluation = evaluate_detector(detector, images, show_progress=False)
            speed = f"{len(images) / (time.time() - started):.0f} img/s"
            if sizes:
                crops = sum(len(crop_boxes(w, h, variant.input_size, variant.eval_crops)) for w, h in sizes)
                speed = f"{crops / len(sizes):.1f} crops, {speed}"
            cells.append(f"{name}: {evaluation.report['roc_auc']:.4f} ({speed})")
        print(f"{Path(root).name:<16} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
