"""Pseudo-fakes for a training run: made from the split's real images only, never from the other side."""
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from ..data.datasets import LabelledImage
from ..errors import DeepfakeError
from .cache import PseudoFakeCache
from .methods import NoFaceFound, create_method, method_record


def with_pseudo_fakes(images: Sequence[LabelledImage], set_ids: Sequence[int], methods: Sequence[str], cache_dir,
                      taef2: Optional[str] = None, show_progress: bool = True, log=print, desc: str = ""
                      ) -> Tuple[List[LabelledImage], List[int], int]:
    """`images` plus one pseudo-fake (label 1) per real image and method, each in its source's group and --data
    set (so --balance-sets keeps each set's share); returns (images, set ids, how many were added)."""
    reals = list(zip(*reals_only(images, set_ids)))
    images, set_ids = list(images), list(set_ids)
    added = 0
    for name in methods:
        cache = PseudoFakeCache(cache_dir, create_method(name, taef2))
        faceless = 0
        for image, set_id in tqdm(reals, desc=f"{name} pseudo-fakes{desc}", unit="img", leave=False,
                                  disable=not show_progress):
            try:
                path = cache.make(image.path)
            except NoFaceFound:
                faceless += 1  # expected of some frames (turned, small or hidden faces): counted, not listed
                continue
            except DeepfakeError as error:
                log(f"skipped: {error}")
                continue
            images.append(replace(image, path=path, label=1))
            set_ids.append(set_id)
            added += 1
        if faceless:
            log(f"{name}: {faceless} of {len(reals)} real images{desc} have no face landmarks and no pseudo-fake")
    return images, set_ids, added


def reals_only(images: Sequence[LabelledImage], set_ids: Sequence[int]) -> Tuple[List[LabelledImage], List[int]]:
    kept = [(image, set_id) for image, set_id in zip(images, set_ids) if image.label == 0]
    return [image for image, _ in kept], [set_id for _, set_id in kept]


def pseudo_fake_record(methods: Sequence[str], only_reals: bool, n_train: int, n_val: int) -> Dict:
    """What the checkpoint says of its pseudo-fakes: each method with the version that made them."""
    return {"methods": [method_record(name) for name in methods],
            "reals_only": only_reals, "n_train": n_train, "n_val": n_val}
