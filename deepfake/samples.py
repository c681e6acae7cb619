"""`python -m deepfake.samples DIR`: write a few public-domain photos from scikit-image to DIR.

They give a first run something real to score without downloading anything; all are genuine
photographs, so a good detector calls them real.
"""
import sys
from pathlib import Path

SAMPLE_NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def write_samples(out_dir) -> list:
    from PIL import Image
    from skimage import data

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SAMPLE_NAMES:
        path = out_dir / f"{name}.png"
        Image.fromarray(getattr(data, name)()).convert("RGB").save(path)
        written.append(path)
    return written


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "samples"
    for sample in write_samples(target):
        print(sample)
