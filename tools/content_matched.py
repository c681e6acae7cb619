"""The content-matched benchmark (the photographs issue's headline): each piece compares images of one content,
so that what tells them apart is the generator's trace, not the subject or the style.

    python tools/content_matched.py --weights W [--aligned data/aligned] [--shared ../shared/datasets] [--json OUT]

(a) Real photos of each kind in the corpus's real pool (no run trains on it) against their own TAEF2
    reconstructions (data/aligned/pool/<source>/, made by tools/build_aligned.sh): identical content, only the
    latent decoder's trace differs.
(b) Each generator family that has reals of its own subject, on the validation side of the split the checkpoint
    recorded (the training defaults for a checkpoint that never saw the set): Stable Diffusion 1.x against the
    COCO photos of the same prompts, StyleGAN against FFHQ faces, face swaps and DFDC fakes against their own
    source videos' reals.
(c) The share of each real source's photos that the checkpoint flags at its threshold.

The rule for a model that replaces the shipped one, stated before any row: the worst content-matched ROC-AUC
first, then real photos flagged at most 10% on every real source, then the leave-one-generator-out mean.
"""
import argparse
import json
from pathlib import Path
from typing import Dict, List

from deepfake.data.datasets import discover_roots, select_split
from deepfake.evaluation.evaluate import evaluate_detector, recorded_split
from deepfake.inference.detector import DEFAULT_WEIGHTS, load_detector

SUBJECT_MATCHED = {  # shared set -> what its two classes are
    "diffusion-coco": "Stable Diffusion 1.x vs COCO photos of the same prompts",
    "faces-stylegan": "StyleGAN faces vs FFHQ faces",
    "faceswap-frames": "face-swapped vs real talking-head frames",
    "dfdc-faces": "DFDC fakes vs their own source videos",
}
FLAG_LIMIT = 0.10  # the rule's second criterion: at most this share of any real source flagged
# A piece with fewer images of a class than this is shown but not counted in the headline: one pair's ROC-AUC
# is 0, 0.5 or 1, and one photo flagged is 50% of two.
MIN_COUNTED = 10


def flagged_share(evaluation, threshold: float) -> float:
    reals = [p for label, p in zip(evaluation.labels, evaluation.fake_probabilities) if label == 0]
    return sum(p >= threshold for p in reals) / len(reals) if reals else float("nan")


def measure(weights, aligned: Path, shared: Path, show_progress: bool) -> Dict[str, List[Dict]]:
    detector = load_detector(weights, device="cpu")
    threshold = detector.threshold
    rows: Dict[str, List[Dict]] = {"aligned": [], "subject": []}
    for folder in sorted(path for path in (aligned / "pool").iterdir() if path.is_dir()):
        images = [image for root in discover_roots([folder]).values() for image in root]
        evaluation = evaluate_detector(detector, images, show_progress=show_progress, name=folder.name)
        rows["aligned"].append({"source": folder.name, "n_pairs": evaluation.report["n_real"],
                                "roc_auc": evaluation.report["roc_auc"],
                                "reals_flagged": flagged_share(evaluation, threshold)})
    split = recorded_split(detector.card)
    for name, what in SUBJECT_MATCHED.items():
        if not (shared / name).is_dir():
            continue
        images = select_split(discover_roots([shared / name]), "val", **split)
        evaluation = evaluate_detector(detector, images, show_progress=show_progress, name=name)
        rows["subject"].append({"set": name, "what": what, "n_real": evaluation.report["n_real"],
                                "n_fake": evaluation.report["n_fake"], "roc_auc": evaluation.report["roc_auc"],
                                "reals_flagged": flagged_share(evaluation, threshold)})
    return rows


def counted(row: Dict) -> bool:
    sizes = [row["n_pairs"]] if "n_pairs" in row else [row["n_real"], row["n_fake"]]
    return min(sizes) >= MIN_COUNTED


def headline(rows: Dict[str, List[Dict]]) -> Dict[str, float]:
    """The rule's first two figures, over the pieces large enough to count."""
    kept = [row for part in rows.values() for row in part if counted(row)]
    return {"worst_roc_auc": min(row["roc_auc"] for row in kept),
            "most_reals_flagged": max(row["reals_flagged"] for row in kept)}


def markdown(rows: Dict[str, List[Dict]], weights, threshold: float) -> str:
    figures = headline(rows)
    lines = [f"`{weights}`, threshold {threshold:.4f}: worst content-matched ROC-AUC "
             f"**{figures['worst_roc_auc']:.3f}**, real photos flagged at most **{figures['most_reals_flagged']:.1%}** "
             f"(limit {FLAG_LIMIT:.0%}); pieces under {MIN_COUNTED} images a class are shown in brackets, not counted",
             "",
             "| piece | images | ROC-AUC | reals flagged at the threshold |", "|---|---|---|---|"]
    for row in rows["aligned"]:
        auc, flagged = f"{row['roc_auc']:.3f}", f"{row['reals_flagged']:.1%}"
        if not counted(row):
            auc, flagged = f"({auc})", f"({flagged})"
        lines.append(f"| (a) {row['source']}: photos vs their own reconstructions | {row['n_pairs']} pairs | "
                     f"{auc} | {flagged} |")
    for row in rows["subject"]:
        lines.append(f"| (b) {row['set']}: {row['what']} | {row['n_real']} + {row['n_fake']} | {row['roc_auc']:.3f} | "
                     f"{row['reals_flagged']:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--aligned", default="data/aligned", help="tools/build_aligned.sh's output")
    parser.add_argument("--shared", default="../shared/datasets")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--rows", default=None, help="print the table of rows an earlier --json wrote, scoring nothing")
    args = parser.parse_args(argv)
    rows = (json.loads(Path(args.rows).read_text()) if args.rows else
            measure(args.weights, Path(args.aligned), Path(args.shared), show_progress=True))
    threshold = load_detector(args.weights, device="cpu").threshold
    print(markdown(rows, args.weights, threshold))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
