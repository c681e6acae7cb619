"""A folder of aligned pseudo-fakes (python -m deepfake.synthesize {sbi,autoencoder} --data REAL_DIR --out DIR).

DIR gets real/ (links to the real images) and fake/ (each one's pseudo-fake, PNG), each pair in one sub-folder
of the same name, so `train.py --data DIR` reads it like any other set and the default --split-by source keeps
every pair on one side of the split. The folder is for looking at, for other tools, and for training on a real
set that will not be validated on; `train.py --pseudo-fakes` makes the same images from the training split's
reals only, which is what an honest validation needs (docs/training.md).
"""
import json
import os
from pathlib import Path
from typing import List, Optional, Tuple

from tqdm import tqdm

from ..checkpoint import atomic_write_bytes
from ..data.datasets import CLASS_FOLDERS, discover_labelled_images, iter_image_files
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


def synthesize_folder(method_name: str, real_dir, out_dir, taef2: Optional[str] = None,
                      show_progress: bool = True, on_failure=print) -> dict:
    real_dir, out_dir = Path(real_dir), Path(out_dir)
    if not real_dir.is_dir():
        raise DeepfakeError(f"{real_dir}: no such folder")
    method = create_method(method_name, taef2)  # first: a missing TAEF2 is said before any folder is scanned
    images = real_images(real_dir)
    cache = PseudoFakeCache(out_dir, method)
    made, failed = 0, []
    for source, relative in tqdm(images, desc=method_name, unit="img", disable=not show_progress):
        pair = pair_folder(relative)
        try:
            cache.make(source, (out_dir / "fake" / pair).with_suffix(".png"))
        except DeepfakeError as error:
            failed.append(str(error))
            on_failure(f"skipped: {error}")
            continue
        link_real(source, out_dir / "real" / pair)
        made += 1
    manifest = {**cache.method.describe(), "source": str(real_dir.resolve()), "n_pairs": made,
                "n_failed": len(failed)}
    atomic_write_bytes(out_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest
