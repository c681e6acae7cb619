"""What the watermark reader finds, and how often it is wrong, on the shared sets (docs/experiments.md).

    python experiments/watermark_rates.py [--data ../shared/datasets] [--marked 200]

1. False positives: every real image large enough to carry a mark (256 x 256; smaller ones are never read) is
   decoded as if it were stored losslessly, in both channel orders, and the smallest Hamming distance to each
   known mark is compared with its tolerance.
2. Detection: --marked real images per set are marked as the generators' reference code does
   (invisible-watermark's encoder, dwtDct), then stored as PNG, as JPEG at quality 95, 90 and 75, and resized
   by 0.9; each is decoded, and the share within tolerance is the detection rate.
3. read_evidence over every shared image (real and fake): the count of each (kind, says), which on these
   metadata-stripped sets should be nothing.
"""
import argparse
import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent

from deepfake.data.datasets import iter_image_files  # noqa: E402
from deepfake.provenance import read_evidence  # noqa: E402
from deepfake.provenance.watermark import KNOWN_MARKS, MIN_PIXELS, mark_distances  # noqa: E402

CHANNELS = ("BGR", "RGB")


def rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def pixel_count(path) -> int:
    with Image.open(path) as image:  # the header only
        return image.width * image.height


def mark(pixels: np.ndarray, known) -> np.ndarray:
    from imwatermark import WatermarkEncoder
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", known.bits.astype(int).tolist())
    return encoder.encode(pixels[:, :, ::-1].copy(), "dwtDct")[:, :, ::-1]


def stored(pixels: np.ndarray, how: str) -> np.ndarray:
    image = Image.fromarray(pixels)
    if how.startswith("resize"):
        return np.asarray(image.resize((round(image.width * 0.9), round(image.height * 0.9)), Image.BICUBIC))
    buffer = io.BytesIO()
    if how == "PNG":
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=int(how.split()[-1]))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--marked", type=int, default=200, help="real images marked per set (default 200)")
    args = parser.parse_args()
    sets = sorted(path for path in Path(args.data).iterdir() if (path / "real").is_dir())

    print("| set | real images read | smallest distance to SD 1.x (tolerance) | to SDXL (tolerance) | "
          "false positives |\n|---|---|---|---|---|")
    for folder in sets:
        reals = list(iter_image_files(folder / "real"))
        smallest, false_positives, read = Counter(), 0, 0
        for path in tqdm(reals, desc=f"{folder.name} reals", file=sys.stderr, leave=False):
            if pixel_count(path) < MIN_PIXELS:
                continue
            pixels = rgb(path)
            read += 1
            hits = False
            for known, _, distance in mark_distances(pixels):
                smallest[known.name] = min(smallest.get(known.name, 10 ** 6), distance)
                hits |= distance <= known.tolerance
            false_positives += hits
        cells = [f"{smallest[k.name]} of {len(k.bits)} ({k.tolerance})" if read else "not read (under 256 x 256)"
                 for k in KNOWN_MARKS]
        print(f"| {folder.name} | {read} of {len(reals)} | {cells[0]} | {cells[1]} | {false_positives} |")

    ways = ("PNG", "JPEG 95", "JPEG 90", "JPEG 75", "resize 0.9")
    print("\n| set | mark | " + " | ".join(ways) + " |\n|---|---|" + "---|" * len(ways))
    for folder in sets:
        reals = [path for path in list(iter_image_files(folder / "real"))[:args.marked * 4]
                 if pixel_count(path) >= MIN_PIXELS][:args.marked]
        if not reals:
            continue
        for known in KNOWN_MARKS:
            found = Counter()
            for path in tqdm(reals, desc=f"{folder.name} {known.name}", file=sys.stderr, leave=False):
                marked = mark(rgb(path), known)
                for how in ways:
                    distances = [d for k, _, d in mark_distances(stored(marked, how)) if k is known]
                    found[how] += min(distances) <= known.tolerance
            print(f"| {folder.name} ({len(reals)}) | {known.name} | "
                  + " | ".join(f"{found[how] / len(reals):.1%}" for how in ways) + " |")

    counts, total = Counter(), 0
    for folder in sets:
        for path in tqdm(list(iter_image_files(folder)), desc=f"{folder.name} evidence", file=sys.stderr,
                         leave=False):
            total += 1
            counts.update((item.kind, item.says) for item in read_evidence(path))
    found = ", ".join(f"{kind}:{says} {n}" for (kind, says), n in sorted(counts.items())) or "none"
    print(f"\nread_evidence over all {total} shared images (real and fake): {found}")


if __name__ == "__main__":
    main()
