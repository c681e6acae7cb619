"""The format-blind chain: every training image, real or fake alike, is resized and re-encoded by one random
draw of the same chain, so that the file format a source happens to use carries no label.

The corpus's sources differ in more than how they were made: fakes come as WebP and PNG from generators,
reals as camera JPEGs, each at its own size and quality. A detector left alone learns "WebP means fake"
(a metadata-only classifier separates the raw corpus almost perfectly: docs/experiments.md). The chain draws
its resize and codec independently of the image and of its label, so after it the codec and its quality say
nothing about the class, and a model must find the generator in the pixels.
"""
import io
from dataclasses import asdict, dataclass
from typing import Tuple

import torch
from PIL import Image

CODECS = ("jpeg", "webp", "none")
PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP"}


def reencoded(image: Image.Image, codec: str, quality: int) -> Image.Image:
    """The image after a lossy save and load at `quality` (codec "jpeg" or "webp")."""
    buffer = io.BytesIO()
    image.save(buffer, format=PIL_FORMATS[codec], quality=int(quality))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


@dataclass(frozen=True)
class Reencoding:
    """One draw of the chain: shrink by `scale` (1: not resized), then save with `codec` at `quality`."""
    scale: float
    codec: str
    quality: int  # 0 when codec is "none"

    def apply(self, image: Image.Image) -> Image.Image:
        if self.scale < 1:
            size = (max(1, round(image.width * self.scale)), max(1, round(image.height * self.scale)))
            image = image.resize(size, Image.BICUBIC)
        return image if self.codec == "none" else reencoded(image, self.codec, self.quality)


@dataclass(frozen=True)
class FormatChain:
    # Half the images shrunk to 0.5-1x (never below the network's view): sharing sites resize uploads, and
    # a resize also wipes out the 8x8 grid a camera JPEG carries.
    resize_probability: float = 0.5
    min_scale: float = 0.5
    # Codecs as the web serves images; what is left (0.2) keeps the decoded pixels, so the model also sees
    # pristine images, of both classes alike.
    codec_probabilities: Tuple[float, float, float] = (0.45, 0.35, 0.2)  # CODECS order
    min_quality: int = 60
    max_quality: int = 100

    def __post_init__(self):
        if len(self.codec_probabilities) != len(CODECS) or abs(sum(self.codec_probabilities) - 1) > 1e-6:
            raise ValueError(f"codec_probabilities must be {len(CODECS)} shares of 1 ({', '.join(CODECS)})")
        if not 0 < self.min_scale <= 1 or not 1 <= self.min_quality <= self.max_quality <= 100:
            raise ValueError("min_scale must be in (0, 1], and 1 <= min_quality <= max_quality <= 100")

    def draw(self, image_size: Tuple[int, int], view_size: int = 1) -> Reencoding:
        """A random Reencoding from torch's RNG (reseeded per DataLoader worker, so runs reproduce by seed).
        It never depends on the image's content or label; only the smallest scale does on its size, so
        that a small image is not shrunk below the `view_size` the network crops."""
        scale = 1.0
        if torch.rand(()).item() < self.resize_probability:
            lowest = max(self.min_scale, min(1.0, view_size / max(1, min(image_size))))
            scale = lowest + (1.0 - lowest) * torch.rand(()).item()
        codec = CODECS[int(torch.multinomial(torch.tensor(self.codec_probabilities), 1).item())]
        quality = 0 if codec == "none" else int(torch.randint(self.min_quality, self.max_quality + 1, ()).item())
        return Reencoding(scale, codec, quality)

    def to_dict(self) -> dict:
        """As JSON gives it back (lists, not tuples), so a recorded chain compares equal after a round trip."""
        return dict(asdict(self), codec_probabilities=list(self.codec_probabilities))


class FormatBlind:
    """The training transform's first step: a fresh draw of the chain for every image."""

    def __init__(self, chain: FormatChain, view_size: int = 1):
        self.chain, self.view_size = chain, view_size

    def __call__(self, image: Image.Image) -> Image.Image:
        return self.chain.draw(image.size, self.view_size).apply(image)
