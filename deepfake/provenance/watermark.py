"""Invisible watermarks that Stable Diffusion's reference code embeds with `invisible-watermark` (DWT-DCT):

- SD 1.x (CompVis `scripts/txt2img.py`): the 17 bytes "StableDiffusionV1";
- SDXL (Stability's `generative-models` and diffusers' SDXL pipelines): a fixed 48-bit message. Early diffusers
  releases passed RGB arrays where the encoder expects BGR, so for this mark both channel orders are read.

The decoder is invisible-watermark's `dwtDct` decoder, vectorised: the same colour conversion, the Haar
approximation in numpy with PyWavelets' exact arithmetic, then every 4x4 block's largest non-DC coefficient
at once instead of a Python loop over blocks, and one pass serves every message length (a 512-px picture in
about 1.5 ms instead of the library's 23; tests check it gives the library's own bits). A mark matches within a Hamming distance:
the reference encoder's mark reads back exactly or nearly so on most pictures and not at all on the rest, and
on unmarked photos the distance behaves like that of random bits (smallest over 1,700 shared real photos: 51
of 136 and 14 of 48). The tolerances below, a quarter and an eighth of the bits, give a random message a
chance of 2e-9 (SD 1.x) and 5e-8 (SDXL) per picture and channel order. The mark does not survive JPEG re-encoding or
resizing, so only losslessly stored pictures are read. experiments/watermark_rates.py measures all of this."""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from PIL import Image

from .evidence import Evidence

SCALE = 36          # invisible-watermark's dwtDct default for the U channel (scales=[0, 36, 36], reads channel 1)
BLOCK = 4
MIN_PIXELS = 256 * 256  # the library refuses smaller images: nothing smaller was ever marked
LOSSLESS_FORMATS = frozenset({"PNG", "BMP", "TIFF", "WEBP"})  # WebP only when lossless: checked below


@dataclass(frozen=True)
class KnownMark:
    name: str
    bits: np.ndarray   # bool, the message as the encoder writes it
    tolerance: int     # bits that may differ and still match
    rgb_too: bool = False  # also written by code that handed the encoder RGB (see above)


def _bytes_to_bits(message: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(message, np.uint8)).astype(bool)


SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110
KNOWN_MARKS = (
    KnownMark("Stable Diffusion 1.x", _bytes_to_bits(b"StableDiffusionV1"), tolerance=34),
    KnownMark("Stable Diffusion XL", np.array([bit == "1" for bit in bin(SDXL_MESSAGE)[2:]]), tolerance=6,
              rgb_too=True),
)


HAAR = 0.7071067811865476  # PyWavelets' haar filter taps, applied as it does: each tap times a sample, summed


def block_votes(yuv: np.ndarray) -> np.ndarray:
    """Each 4x4 block's vote (True: bit 1) in the Haar approximation of the U channel, row by row: what
    invisible-watermark's dwtDct decoder computes before it assigns blocks to bits."""
    rows, cols = yuv.shape[:2]
    u = yuv[:rows // 4 * 4, :cols // 4 * 4, 1].astype(np.float64)
    pairs = u[0::2] * HAAR + u[1::2] * HAAR  # pywt.dwt2(u, "haar")[0], bit for bit: along rows, then columns
    approximation = pairs[:, 0::2] * HAAR + pairs[:, 1::2] * HAAR
    block_rows, block_cols = approximation.shape[0] // BLOCK, approximation.shape[1] // BLOCK
    blocks = (approximation[:block_rows * BLOCK, :block_cols * BLOCK]
              .reshape(block_rows, BLOCK, block_cols, BLOCK).transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK))
    peak = np.abs(blocks[:, 1:]).max(axis=1)  # the largest non-DC coefficient's magnitude
    return (peak % SCALE) > 0.5 * SCALE


def bits_from_votes(votes: np.ndarray, n_bits: int) -> np.ndarray:
    bit_of_block = np.arange(len(votes)) % n_bits  # blocks carry the message's bits in turn
    ones = np.bincount(bit_of_block, weights=votes, minlength=n_bits)
    return ones / np.bincount(bit_of_block, minlength=n_bits) * 255 > 127


def decode_bits(bgr: np.ndarray, n_bits: int) -> np.ndarray:
    """Public API: invisible-watermark's WatermarkDecoder(...).decode(bgr, "dwtDct") bits, for an [H, W, 3] uint8
    BGR array (the tests hold it to the library's own output; mark_distances is what the reader uses)."""
    import cv2
    return bits_from_votes(block_votes(cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV)), n_bits)


def mark_distances(rgb: np.ndarray) -> List[tuple]:
    """(mark, channel order, Hamming distance) for every known mark, in the orders its writers used. `rgb` is
    converted as it lies in memory (reordering it first would copy the picture for nothing): as RGB for a mark
    written on BGR, which is what the encoder's own BGR conversion sees, and as if it were BGR otherwise."""
    import cv2
    results = []
    rgb = np.ascontiguousarray(rgb)
    for order, conversion in (("BGR", cv2.COLOR_RGB2YUV), ("RGB", cv2.COLOR_BGR2YUV)):
        marks = [mark for mark in KNOWN_MARKS if order == "BGR" or mark.rgb_too]
        votes = block_votes(cv2.cvtColor(rgb, conversion)) if marks else None
        for mark in marks:
            results.append((mark, order, int((bits_from_votes(votes, len(mark.bits)) != mark.bits).sum())))
    return results


def is_readable(image: Image.Image, data: bytes) -> bool:
    """A picture that could still carry a mark: as the generator wrote it (a latent decoder's output has sides
    that are multiples of 8; resizing or an unaligned crop destroys the mark anyway), stored losslessly, and
    not smaller than the encoder accepts."""
    if image.format not in LOSSLESS_FORMATS or image.width * image.height < MIN_PIXELS:
        return False
    if image.width % 8 or image.height % 8:
        return False
    # A WebP is lossless when its image chunk is VP8L (after the RIFF header, or after VP8X and its metadata).
    return image.format != "WEBP" or data[12:16] == b"VP8L" or b"VP8L" in data[:4096]


def read_watermark(rgb: Optional[np.ndarray]) -> List[Evidence]:
    """`rgb`: the full-resolution pixels, or None where the file cannot carry a readable mark."""
    if rgb is None:
        return []
    found = []
    for mark, order, distance in mark_distances(rgb):
        if distance <= mark.tolerance:
            found.append(Evidence("watermark", "ai_generated",
                                  f"invisible watermark of {mark.name} (DWT-DCT, {distance} of {len(mark.bits)} "
                                  f"bits differ{', read as RGB' if order == 'RGB' else ''})", verified=False))
    return found[:1]  # one mark is the finding; a second order of the same picture adds nothing
