"""Each real image's pseudo-fake, made once and kept on disk as PNG (lossless: no compression traces of its own)."""
import hashlib
from io import BytesIO
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write_bytes
from ..data.images import load_rgb_image
from .methods import NoFaceFound, PseudoFakeMethod


def content_digest(path) -> str:
    """The image's bytes, not its path: the same photo in two folders (or two runs) makes one pseudo-fake."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


class PseudoFakeCache:
    """`cache_dir/<method>-v<version>[-<variant>]/<digest>.png`; written atomically, so an interrupted run resumes."""

    def __init__(self, cache_dir, method: PseudoFakeMethod):
        self.method = method
        self.folder = Path(cache_dir) / method.cache_name

    def path_for(self, digest: str) -> Path:
        return self.folder / f"{digest[:24]}.png"

    def make(self, source, target: Path = None) -> Path:
        """The pseudo-fake of `source` (at `target`, or in the cache); decodes and makes it only if missing.
        A file that does not decode raises DeepfakeError, which names it; NoFaceFound where a face method finds
        no face in it."""
        digest = content_digest(source)
        target = Path(target) if target is not None else self.path_for(digest)
        if target.exists():
            return target
        unusable = target.with_suffix(".noface")  # kept, so that the next run does not look again
        if unusable.exists():
            raise NoFaceFound(f"{source}: no face landmarks found")
        rng = np.random.default_rng(int(digest[:16], 16))
        try:
            fake = self.method.make(load_rgb_image(source), rng)
        except NoFaceFound:
            atomic_write_bytes(unusable, b"")
            raise NoFaceFound(f"{source}: no face landmarks found") from None
        buffer = BytesIO()
        fake.save(buffer, format="PNG")
        atomic_write_bytes(target, buffer.getvalue())
        return target
