"""`deepfake export`: write a checkpoint as ONNX, its model card inside."""
import argparse
import sys
from typing import List, Optional

from .common import weights_argument

def export_main(argv: Optional[List[str]] = None) -> int:
    from ..inference.onnx_export import export_onnx
    parser = argparse.ArgumentParser(prog="python -m deepfake.export",
                                     description="Export a checkpoint to ONNX (model card included).")
    weights_argument(parser)
    parser.add_argument("--onnx", metavar="OUT", required=True, help="where to write the .onnx file")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--int8", action="store_true",
                        help="quantise weights to int8 (dynamic quantisation; smaller, faster on CPU)")
    args = parser.parse_args(argv)
    out = export_onnx(args.weights, args.onnx, args.opset, args.int8)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); run it with: python predict.py --backend onnx "
          f"--weights {out} --image_path ...", file=sys.stderr)
    return 0
