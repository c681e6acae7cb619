"""The pseudo-fake methods by name: each turns one real image and a seeded generator into a fake."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
from PIL import Image

from ..errors import DeepfakeError

DEFAULT_TAEF2 = Path("../shared/anchors/taef2")  # beside the project, as the shared data is


# Bumped whenever a method's output changes, so that no cache entry made by an older version is reused.
VERSIONS = {"sbi": 2, "autoencoder": 2}  # sbi 2: landmark hulls; autoencoder 2: large photos in tiles


@dataclass
class PseudoFakeMethod:
    name: str
    version: int
    make: Callable[[Image.Image, np.random.Generator], Image.Image]
    variant: str = ""  # how this machine computes it, where that changes the pixels ("bf16"): kept apart

    @property
    def cache_name(self) -> str:
        return f"{self.name}-v{self.version}" + (f"-{self.variant}" if self.variant else "")

    def describe(self) -> Dict:
        return method_record(self.name, self.variant)


def method_record(name: str, variant: str = "") -> Dict:
    """How a checkpoint or a folder's manifest names the method that made its pseudo-fakes."""
    return {"method": name, "version": VERSIONS[name], **({"variant": variant} if variant else {})}


def cpu_has_bfloat16() -> bool:
    """Native bfloat16 arithmetic (AVX512-BF16 or AMX): where it is emulated, bfloat16 is several times slower."""
    import torch
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


class NoFaceFound(DeepfakeError):
    """A real image a face method cannot use: it is left without a pseudo-fake, and counted, not reported."""


def _self_blend(options: Dict) -> PseudoFakeMethod:
    from ..faces.landmarks import FaceLandmarker
    from .self_blend import self_blend
    landmarker = FaceLandmarker()

    def make(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        points = landmarker(image)
        if points is None:
            raise NoFaceFound("no face landmarks found")
        return self_blend(image, points, rng)

    return PseudoFakeMethod("sbi", VERSIONS["sbi"], make)


def _autoencoder(options: Dict) -> PseudoFakeMethod:
    from .taef2 import TAEF2
    # Where the CPU computes bfloat16 natively the autoencoder runs 2x faster in it, and its reconstructions
    # differ from float32's by about 0.4/255 per pixel (the reconstruction differs from the photo by 3.4/255).
    # The two are cached apart ("-bf16"), so that one cache never mixes them.
    bfloat16 = cpu_has_bfloat16()
    model = TAEF2.from_folder(options.get("taef2") or DEFAULT_TAEF2, bfloat16=bfloat16)
    return PseudoFakeMethod("autoencoder", VERSIONS["autoencoder"], lambda image, rng: model.reconstruct(image),
                            "bf16" if bfloat16 else "")


METHODS: Dict[str, Callable[[Dict], PseudoFakeMethod]] = {"sbi": _self_blend, "autoencoder": _autoencoder}


def create_method(name: str, taef2: Optional[str] = None) -> PseudoFakeMethod:
    return METHODS[name]({"taef2": taef2})
