"""How much a face's verdict moves when the same face is saved again: the face model issue's stability figures.

    python tools/face_stability.py --weights W [--shared ../shared/datasets] [--max-images N] [--json OUT]

Every face of the four shared sets' validation splits (the split the checkpoint recorded; the training
defaults for a set it never saw) is scored as it is, then re-saved as JPEG quality 85 and 70 and halved in size.
Per condition and set: the mean |change| of P(fake), and the share of verdicts (at the checkpoint's threshold)
that flip. The targets (issue 49): one JPEG 85 re-save flips at most 2% of faces, mean |change| at most 0.03.
"""
import argparse
import json
from typing import Dict

import numpy as np

from deepfake.data.datasets import discover_roots, select_split
from deepfake.data.perturbations import Perturbed, downscale, jpeg
from deepfake.evaluation.evaluate import evaluate_detector, recorded_split
from deepfake.inference.detector import load_detector

SETS = ("faceswap-frames", "dfdc-faces", "faces-stylegan", "diffusion-coco")
CONDITIONS = {"JPEG 85": jpeg(85), "JPEG 70": jpeg(70), "0.5x": downscale(0.5)}


def stability(detector, images) -> Dict[str, Dict]:
    clean = evaluate_detector(detector, images, show_progress=False, name="clean")
    clean_scores = dict(zip(clean.paths, clean.fake_probabilities))
    rows = {}
    for name, perturbation in CONDITIONS.items():
        moved = evaluate_detector(detector, images, show_progress=False, name=name,
                                  transform=Perturbed(perturbation, detector.transform))
        before = np.array([clean_scores[path] for path in moved.paths])
        after = np.array(moved.fake_probabilities)
        flips = (before >= detector.threshold) != (after >= detector.threshold)
        rows[name] = {"n_faces": len(after), "mean_abs_change": round(float(np.abs(after - before).mean()), 4),
                      "flipped": round(float(flips.mean()), 4), "roc_auc": moved.report["roc_auc"],
                      "clean_roc_auc": clean.report["roc_auc"]}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--shared", default="../shared/datasets")
    parser.add_argument("--sets", nargs="+", default=list(SETS[:3]))
    parser.add_argument("--max-images", type=int, default=0, help="evenly spaced, per set (0: all)")
    parser.add_argument("--json", help="also write the table as JSON here")
    args = parser.parse_args()
    detector = load_detector(args.weights)
    table = {}
    print("| set | condition | faces | mean abs change of P(fake) | verdicts flipped | ROC-AUC (clean) |")
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        root = f"{args.shared}/{name}"
        images = select_split(discover_roots([root]), "val", **recorded_split(detector.card))
        if args.max_images and len(images) > args.max_images:  # evenly spaced over the whole list: both classes
            images = [images[i] for i in np.linspace(0, len(images) - 1, args.max_images).round().astype(int)]
        table[name] = stability(detector, images)
        for condition, row in table[name].items():
            print(f"| {name} | {condition} | {row['n_faces']} | {row['mean_abs_change']:.4f} | "
                  f"{row['flipped']:.1%} | {row['roc_auc']:.3f} ({row['clean_roc_auc']:.3f}) |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(table, handle, indent=2)


if __name__ == "__main__":
    main()
