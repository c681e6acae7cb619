"""What a checkpoint's architecture costs: parameters (all, trained, stored in the file) and GFLOPs per view.

    python experiments/architecture_costs.py --weights W [W ...] [--json OUT]

GFLOPs are counted by torch.utils.flop_counter on one view at the checkpoint's input size (one multiply-add =
2 FLOPs, as torch counts them; halve for the MAC figures papers often quote), including the in-model resizes of
pretrained branches.
"""
import argparse
import json
import math
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode


from deepfake.checkpoint import load_model  # noqa: E402


def costs(weights) -> dict:
    model, card = load_model(weights)
    from safetensors import safe_open
    with safe_open(str(weights), "pt") as stored:
        stored_parameters = sum(math.prod(stored.get_slice(key).get_shape()) for key in stored.keys())
    side = card.preprocessing.input_size
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, side, side))
    return {"weights": str(weights), "arch": card.arch, "model_kwargs": card.model_kwargs, "input_size": side,
            "parameters": sum(p.numel() for p in model.parameters()),
            # Recorded since freezing exists; a checkpoint from before it trained every parameter.
            "trained_parameters": card.training.get("trainable_parameters",
                                                    sum(p.numel() for p in model.parameters())),
            "stored_values": stored_parameters, "file_mb": round(Path(weights).stat().st_size / 1e6, 2),
            "gflops_per_view": round(counter.get_total_flops() / 1e9, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", required=True)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = [costs(weights) for weights in args.weights]
    for row in rows:
        print(f"{row['arch']:<26} {row['parameters'] / 1e6:6.2f}M parameters, "
              f"{(row['trained_parameters'] or 0) / 1e6:6.2f}M trained, file {row['file_mb']:6.1f} MB, "
              f"{row['gflops_per_view']:6.2f} GFLOPs per {row['input_size']}-px view")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
