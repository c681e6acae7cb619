"""The pseudo-fake methods by name: each turns one real image and a seeded generator into a fake."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
from PIL import Image

DEFAULT_TAEF2 = Path("../shared/anchors/taef2")  # beside the project, as the shared data is


# Bumped whenever a method's output changes, so that no cache entry made by an older version is reused.
VERSIONS = {"sbi": 1, "autoencoder": 1}


@dataclass
class PseudoFakeMethod:
    name: str
    version: int
    make: Callable[[Image.Image, np.random.Generator], Image.Image]

    def describe(self) -> Dict:
        return method_record(self.name)


def method_record(name: str) -> Dict:
    """How a checkpoint or a folder's manifest names the method that made its pseudo-fakes."""
    return {"method": name, "version": VERSIONS[name]}


def _self_blend(options: Dict) -> PseudoFakeMethod:
    from .self_blend import self_blend
    return PseudoFakeMethod("sbi", VERSIONS["sbi"], self_blend)


def _autoencoder(options: Dict) -> PseudoFakeMethod:
    from .taef2 import TAEF2
    model = TAEF2.from_folder(options.get("taef2") or DEFAULT_TAEF2)
    return PseudoFakeMethod("autoencoder", VERSIONS["autoencoder"], lambda image, rng: model.reconstruct(image))


METHODS: Dict[str, Callable[[Dict], PseudoFakeMethod]] = {"sbi": _self_blend, "autoencoder": _autoencoder}


def create_method(name: str, taef2: Optional[str] = None) -> PseudoFakeMethod:
    return METHODS[name]({"taef2": taef2})
