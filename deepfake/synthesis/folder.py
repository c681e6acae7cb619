"""A folder of aligned pseudo-fakes (python -m deepfake.synthesize {sbi,autoencoder} --data REAL_DIR --out DIR).

DIR gets real/ (links to the real images) and fake/ (each one's pseudo-fake, PNG), each pair in one sub-folder
of the same name, so `train.py --data DIR` reads it like any other set and the default --split-by source keeps
every pair on one side of the split. The folder is for looking at, for other tools, and for training on a real
set that will not be validated on; `train.py --pseudo-fakes` makes the same images from the training split's
reals only, which is what an honest validation needs (docs/training.md).
"""
import hashlib
import json
import os
from io import BytesIO
from pathlib import Path
from typing import List, Optional, Tuple

from PIL import Image
from tqdm import tqdm

from ..checkpoint import atomic_write_bytes
from ..data.datasets import CLASS_FOLDERS, discover_labelled_images, iter_image_files
from ..data.images import load_rgb_image
from ..errors import DeepfakeError
from . import PseudoFakeCache, create_method

MANIFEST = "synthesis.json"


def real_images(real_dir: Path) -> List[Tuple[Path, Path]]:
    """(image, its path below the class folder) for the real images under `real_dir`: those below a real/
    folder if it has class folders, else every image in it."""
    try:
        labelled = [image.path for image in discover_labelled_images(real_dir) if image.label == 0]
    except DeepfakeError:
        labelled = []
    if labelled:
        return [(path, Path(*[part for part in path.relative_to(real_dir).parts
                              if part.lower() not in CLASS_FOLDERS])) for path in labelled]
    images = [(path, path.relative_to(real_dir)) for path in iter_image_files(real_dir)]
    if not images:
        raise DeepfakeError(f"{real_dir}: no images")
    return images


def pair_folder(relative: Path) -> Path:
    """A frame keeps its video's folder; a lone image gets a folder of its own name (one pair, one source)."""
    return relative if len(relative.parts) > 1 else Path(relative.stem) / relative.name


def link_real(source: Path, target: Path) -> None:
    if target.exists() or target.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(os.path.abspath(source), target)
    except OSError:  # a file system without links: copy the bytes instead
        atomic_write_bytes(target, source.read_bytes())


def centre_crop_within(image: Image.Image, max_pixels: int) -> Image.Image:
    """The central region of at most `max_pixels`, square where both sides allow, at native scale (a crop,
    never a resize: resizing would erase the traces the pair is for)."""
    side = int(max_pixels ** 0.5)
    if image.width < side:
        width, height = image.width, min(image.height, max_pixels // image.width)
    elif image.height < side:
        width, height = min(image.width, max_pixels // image.height), image.height
    else:
        width = height = side
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def image_pixels(path: Path) -> int:
    try:
        with Image.open(path) as image:
            return image.width * image.height
    except Exception:  # noqa: BLE001 -- undecodable: the cache's own load reports it, naming the file
        return 0


def synthesize_folder(method_name: str, real_dir, out_dir, taef2: Optional[str] = None,
                      show_progress: bool = True, on_failure=print, max_pixels: int = 0, max_images: int = 0) -> dict:
    """max_pixels: a photo above this many pixels gives its central crop of that size, written as the pair's
    real side (PNG) beside its pseudo-fake, so both sides hold the same content at native scale; 0: whole.
    max_images: at most this many images, chosen by a hash of their path (the same ones on every machine); 0: all."""
    real_dir, out_dir = Path(real_dir), Path(out_dir)
    if not real_dir.is_dir():
        raise DeepfakeError(f"{real_dir}: no such folder")
    method = create_method(method_name, taef2)  # first: a missing TAEF2 is said before any folder is scanned
    images = real_images(real_dir)
    if max_images:
        images = sorted(images, key=lambda item: hashlib.sha256(str(item[1]).encode()).hexdigest())[:max_images]
    cache = PseudoFakeCache(out_dir, method)
    made, cropped, failed = 0, 0, []
    for source, relative in tqdm(images, desc=method_name, unit="img", disable=not show_progress):
        pair = pair_folder(relative)
        fake_target = (out_dir / "fake" / pair).with_suffix(".png")
        try:
            if max_pixels and image_pixels(source) > max_pixels:
                real_target = (out_dir / "real" / pair).with_suffix(".png")
                if not real_target.exists():
                    crop = centre_crop_within(load_rgb_image(source), max_pixels)
                    buffer = BytesIO()
                    crop.save(buffer, format="PNG")
                    atomic_write_bytes(real_target, buffer.getvalue())
                cache.make(real_target, fake_target)
                cropped += 1
            else:
                cache.make(source, fake_target)
                link_real(source, out_dir / "real" / pair)
        except DeepfakeError as error:
            failed.append(str(error))
            on_failure(f"skipped: {error}")
            continue
        made += 1
    manifest = {**cache.method.describe(), "source": str(real_dir.resolve()), "n_pairs": made,
                "n_cropped": cropped, "max_pixels": max_pixels, "max_images": max_images, "n_failed": len(failed)}
    atomic_write_bytes(out_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest
