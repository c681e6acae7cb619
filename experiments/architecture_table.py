"""Markdown rows from experiments/architecture_table.sh's files: one row per checkpoint, the worst set called out.

    python experiments/architecture_table.py NAME [NAME ...]
"""
import json
import re
import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "runs" / "table"
SETS = ("faces-stylegan", "diffusion-coco", "faceswap-frames")


def figure(path: Path, pattern: str) -> str:
    """A benchmark's printed figure, or "" where the file is missing or its run failed."""
    found = re.search(pattern, path.read_text()) if path.is_file() else None
    return found.group(1) if found else ""


def row(name: str) -> str:
    reports = {s: json.loads((TABLE / f"{name}.{s}.json").read_text()) for s in SETS}
    aucs = " / ".join(f"{reports[s]['roc_auc']:.3f}" for s in SETS)
    video = reports["faceswap-frames"].get("per_video", {}).get("roc_auc")
    eces = " / ".join(f"{reports[s]['expected_calibration_error']:.3f}" for s in SETS)
    drops = {s: max(r["roc_auc_drop"] for r in reports[s]["robustness"][1:]) for s in SETS}
    worst = max(drops, key=drops.get)
    costs = json.loads((TABLE / f"{name}.costs.json").read_text())[0]
    bench = TABLE / f"{name}.bench.txt"
    ours = figure(bench, r"end to end \(predict_paths\)\s+([0-9.]+)")
    ratio = figure(bench, r"ours / ResNet-50 end to end: ([0-9.]+)")
    speed = f"{ours} ({ratio}x)" if ours else "not measured"
    cold_ratio = figure(TABLE / f"{name}.cold.txt", r"ratio predict / import torch: ([0-9.]+)") or "not measured"
    return (f"| {name} | {aucs} ({video:.3f} per video) | {drops[worst]:.3f} ({worst}) | {eces} | "
            f"{costs['parameters'] / 1e6:.1f}M ({(costs['trained_parameters'] or 0) / 1e6:.2f}M trained) | "
            f"{costs['gflops_per_view']:.2f} | {speed} | {cold_ratio} |")


if __name__ == "__main__":
    print("| model | val ROC-AUC faces / diffusion / frames | worst robustness drop | ECE per set | parameters | "
          "GFLOPs a view | end-to-end images/s (x ResNet-50) | cold start (x import torch) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in sys.argv[1:]:
        print(row(name))
