"""`deepfake convert`: a peer's published weights (MesoNet's Keras files, FerretNet) as a checkpoint of ours."""
import argparse
from typing import List, Optional


def convert_main(argv: Optional[List[str]] = None) -> int:
    from ..models.converters import CONVERTERS
    parser = argparse.ArgumentParser(prog="python -m deepfake.convert",
                                     description="Convert a peer detector's published weights to our checkpoint.")
    parser.add_argument("family", choices=sorted(CONVERTERS))
    parser.add_argument("source", help="the published weights file (mesonet: a Keras .h5; ferretnet: the authors' .pth)")
    parser.add_argument("out", help="where to write the .safetensors checkpoint")
    parser.add_argument("--arch", default=None, help="override the architecture guessed from the file name")
    args = parser.parse_args(argv)
    card = CONVERTERS[args.family](args.source, args.out, args.arch)
    print(f"wrote {args.out} ({card.arch})")
    return 0
