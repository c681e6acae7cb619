"""read_evidence(path): every provenance reader on one file, bounded, and never an exception.

Each reader gets a FileView (the bytes read once, the header opened once, the full-resolution pixels decoded
only if a reader asks) and returns a list of Evidence. A file whose metadata is stripped returns [], which
says nothing either way."""
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
from PIL import Image

from ..data.images import IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS, to_rgb
from .c2pa_manifest import read_c2pa
from .evidence import Evidence, note
from .exif import open_with_exif, read_exif
from .png_text import read_png_text
from .watermark import is_readable, read_watermark
from .xmp import read_xmp

MAX_FILE_BYTES = 256 << 20  # an image over this is not read for metadata (the pixel limit stops it decoding too)
# The watermark is read from every stored pixel, in float64 (PyWavelets' arithmetic): about 30 bytes a pixel
# at its peak. Generators write at most 2048 px a side, upscalers 4x that of 1024: above 4096 x 4096 no known
# mark was ever written, and a crafted 9440 x 9440 PNG of 282 KB would cost 3.7 GB.
MAX_WATERMARK_PIXELS = 4096 * 4096
VIDEO_C2PA_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi")  # the video containers the C2PA SDK reads


class FileView:
    """One image file as the readers see it. `decoded`: the loader's RGB image, reused for the watermark when it
    holds every stored pixel (not draft-decoded, not rotated by EXIF orientation)."""

    def __init__(self, data: bytes, decoded: Optional[Image.Image] = None, trust_anchors: Optional[str] = None):
        self.data, self.trust_anchors = data, trust_anchors
        self.header, self.exif, self.exif_complaints = open_with_exif(data)  # EXIF fields by tag, parsed once
        self._decoded = decoded

    def pixels(self) -> np.ndarray:
        """[H, W, 3] uint8 RGB, every stored pixel, in stored orientation."""
        header = self.header
        upright = self.exif.get(0x0112, 1) == 1  # EXIF orientation: the loader did not rotate the pixels
        if self._decoded is not None and self._decoded.size == header.size and upright:
            return np.asarray(self._decoded)
        if header.width * header.height > MAX_IMAGE_PIXELS:
            raise ValueError("over the pixel limit")
        return np.asarray(to_rgb(header))


def _watermark(view: FileView) -> List[Evidence]:
    if not is_readable(view.header, view.data):
        return []
    if view.header.width * view.header.height > MAX_WATERMARK_PIXELS:
        return [note("watermark", f"not checked for an invisible watermark: {view.header.width}x"
                                  f"{view.header.height} is over {MAX_WATERMARK_PIXELS / 1e6:.1f} megapixels (the "
                                  f"check works on every pixel and would take gigabytes)")]
    return read_watermark(view.pixels())


# kind -> reader. Order is the order evidence is listed in: the signed declaration first, the weakest last.
READERS: Dict[str, Callable[[FileView], List[Evidence]]] = {
    "c2pa": lambda view: read_c2pa(view.data, view.header.format, view.trust_anchors),
    "xmp": lambda view: read_xmp(view.data),
    "png_text": lambda view: read_png_text(view.data),
    "exif": lambda view: read_exif(view.exif, view.exif_complaints),
    "watermark": _watermark,
}


def _guarded(kind: str, read: Callable[[], List[Evidence]]) -> List[Evidence]:
    # Metadata is written by whoever made the file, adversaries included. A reader that trips on it (a library
    # bug on a crafted store, an unexpected type) costs a note on that file, never the run of 10,000 files.
    try:
        return read()
    except Exception as error:  # noqa: BLE001 -- see above
        return [note(kind, f"{kind} not read: {type(error).__name__}: {error}")]


def read_evidence(path, decoded: Optional[Image.Image] = None,
                  trust_anchors: Optional[str] = None) -> List[Evidence]:
    """Provenance evidence of an image or a video (videos: C2PA only), in READERS order."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        if suffix not in VIDEO_C2PA_SUFFIXES:
            return []
        return _guarded("c2pa", lambda: read_c2pa(path, suffix, trust_anchors))
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [note("exif", f"file is over {MAX_FILE_BYTES >> 20} MB; metadata not read")]
        view = FileView(path.read_bytes(), decoded, trust_anchors)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return []  # the image loader reports an unreadable file; evidence adds nothing to that
    except Exception as error:  # noqa: BLE001 -- a crafted EXIF block can trip PIL in other ways (see _guarded)
        return [note("exif", f"metadata not read: {type(error).__name__}: {error}")]
    evidence = []
    for kind, read in READERS.items():
        evidence += _guarded(kind, lambda: read(view))
    return evidence
