"""`deepfake synthesize`: write a folder of real images and their pseudo-fakes."""
import argparse
import sys
from typing import List, Optional

from ..errors import DeepfakeError

def synthesize_main(argv: Optional[List[str]] = None) -> int:
    from ..synthesis import METHODS
    parser = argparse.ArgumentParser(prog="python -m deepfake.synthesize",
                                     description="Write a folder of real images and their pseudo-fakes.")
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("--data", required=True, help="a folder of real images (or a set: its real/ is used)")
    parser.add_argument("--out", required=True, help="the folder to write (an interrupted run resumes in it)")
    parser.add_argument("--taef2", default=None, help="autoencoder: the folder with TAEF2's two .pth files "
                                                       "(default ../shared/anchors/taef2)")
    parser.add_argument("--max-pixels", type=int, default=0, metavar="N",
                        help="a photo above N pixels gives its central crop of N pixels, at native scale, written "
                             "as the pair's real side beside its pseudo-fake (e.g. 1048576: 1024 x 1024; the "
                             "autoencoder costs about 6 s per megapixel on one core); 0 (default): whole images")
    parser.add_argument("--max-images", type=int, default=0, metavar="N",
                        help="at most N images of the folder, chosen by a hash of their path (the same ones on "
                             "every machine); 0 (default): all")
    args = parser.parse_args(argv)
    if args.max_pixels < 0 or args.max_images < 0:
        raise DeepfakeError("--max-pixels and --max-images must be 0 (no limit) or more")
    from ..synthesis.folder import synthesize_folder
    manifest = synthesize_folder(args.method, args.data, args.out, args.taef2, sys.stderr.isatty(),
                                 on_failure=lambda message: print(message, file=sys.stderr),
                                 max_pixels=args.max_pixels, max_images=args.max_images)
    print(f"{manifest['n_pairs']} pairs in {args.out} ({manifest['n_failed']} skipped); "
          f"train on them with: python train.py --data {args.out}")
    return 0 if manifest["n_pairs"] else 1
