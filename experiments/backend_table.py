"""Validation ROC-AUC of one checkpoint under each backend, per shared set (the model card's backend table).

    python experiments/backend_table.py [--weights weights/deepfake_cnn.safetensors] [--data ../shared/datasets]

torch float32 (the reference), torch bfloat16 autocast (--amp), and the ONNX export in float32 and with int8
weights (python -m deepfake.export [--int8]) under onnxruntime. A backend that loses more than 0.005 ROC-AUC on
any set against float32 fails the project's rule for a default (issue 27).
"""
import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from deepfake.evaluation.evaluate import evaluate_checkpoints  # noqa: E402
from deepfake.inference.onnx_export import export_onnx  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS  # noqa: E402

SETS = ("faces-stylegan", "diffusion-coco", "faceswap-frames", "dfdc-faces")
LOSS_ALLOWED = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="backends_"))
    backends = {"torch float32": (args.weights, False), "torch bfloat16 (--amp)": (args.weights, True),
                "onnx float32": (export_onnx(args.weights, folder / "fp32.onnx"), False),
                "onnx int8": (export_onnx(args.weights, folder / "int8.onnx", int8=True), False)}
    auc = {}
    for name, (weights, amp) in backends.items():
        for data in SETS:
            report = evaluate_checkpoints([weights], [Path(args.data) / data], "val", show_progress=False,
                                          device="cpu", amp=amp)[0].report
            auc[name, data] = report["roc_auc"]
            print(f"{name} on {data}: ROC-AUC {report['roc_auc']:.4f} ({report['images_per_second']} images/s "
                  f"in evaluate.py)", file=sys.stderr, flush=True)
    print("| backend | " + " | ".join(SETS) + " | largest loss | may be the default |")
    print("|---|" + "---|" * (len(SETS) + 2))
    for name in backends:
        losses = [auc["torch float32", data] - auc[name, data] for data in SETS]
        cells = [f"{auc[name, data]:.4f}" for data in SETS]
        print(f"| {name} | " + " | ".join(cells) + f" | {max(losses):+.4f} | "
              f"{'yes' if max(losses) <= LOSS_ALLOWED else 'no'} |")


if __name__ == "__main__":
    main()
