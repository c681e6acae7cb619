"""Markdown rows from tools/architecture_table.sh's files: one row per checkpoint, the worst set called out.

    python tools/architecture_table.py NAME [NAME ...]
"""
import json
import re
import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "runs" / "table"
SETS = ("faces-stylegan", "diffusion-coco", "faceswap-frames")


def row(name: str) -> str:
    reports = {s: json.loads((TABLE / f"{name}.{s}.json").read_text()) for s in SETS}
    aucs = " / ".join(f"{reports[s]['roc_auc']:.3f}" for s in SETS)
    video = reports["faceswap-frames"].get("per_video", {}).get("roc_auc")
    eces = " / ".join(f"{reports[s]['expected_calibration_error']:.3f}" for s in SETS)
    drops = {s: max(r["roc_auc_drop"] for r in reports[s]["robustness"][1:]) for s in SETS}
    worst = max(drops, key=drops.get)
    costs = json.loads((TABLE / f"{name}.costs.json").read_text())[0]
    bench = TABLE / f"{name}.bench.txt"
    speed = "not measured"
    if bench.is_file():
        text = bench.read_text()
        ours = float(re.search(r"end to end \(predict_paths\)\s+([0-9.]+)", text).group(1))
        ratio = float(re.search(r"ours / ResNet-50 end to end: ([0-9.]+)", text).group(1))
        speed = f"{ours:.1f} ({ratio:.2f}x)"
    cold = TABLE / f"{name}.cold.txt"
    cold_ratio = (re.search(r"ratio predict / import torch: ([0-9.]+)", cold.read_text()).group(1)
                  if cold.is_file() else "not measured")
    return (f"| {name} | {aucs} ({video:.3f} per video) | {drops[worst]:.3f} ({worst}) | {eces} | "
            f"{costs['parameters'] / 1e6:.1f}M ({(costs['trained_parameters'] or 0) / 1e6:.2f}M trained) | "
            f"{costs['gflops_per_view']:.2f} | {speed} | {cold_ratio} |")


if __name__ == "__main__":
    print("| model | val ROC-AUC faces / diffusion / frames | worst robustness drop | ECE per set | parameters | "
          "GFLOPs a view | end-to-end images/s (x ResNet-50) | cold start (x import torch) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in sys.argv[1:]:
        print(row(name))
