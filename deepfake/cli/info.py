"""`deepfake info` (load_model.py): describe a checkpoint from its safetensors header."""
import argparse
import json
from typing import List, Optional

from .common import weights_argument


def get_load_model_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Describe a checkpoint: architecture, preprocessing, metrics.")
    weights_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the full model card as JSON")
    return parser


def describe_checkpoint(weights) -> dict:
    from ..checkpoint import describe, load_model
    model, card = load_model(weights)
    return {"weights": str(weights), **describe(card, model)}


def load_model_main(argv: Optional[List[str]] = None) -> int:
    args = get_load_model_parser().parse_args(argv)
    description = describe_checkpoint(args.weights)
    if args.json:
        print(json.dumps(description, indent=2))
        return 0
    from ..reporting.checkpoint_summary import format_checkpoint
    print(format_checkpoint(description))
    return 0
