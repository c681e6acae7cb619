"""Self-blended images (SBI; Shiohara and Yamasaki, CVPR 2022): a face blended into a slightly altered copy of
itself, inside a mask made from its own landmarks.

One of the two copies (source or target, by a coin) has its colour, brightness and contrast nudged and is then
either downscaled and brought back or sharpened; the source is also shifted and scaled a little. The mask is
the convex hull of the face's landmarks (or of its lower part), deformed elastically, eroded and blurred with
random kernels, and scaled by a blend ratio drawn per image. What is left is what a face swap leaves, a blending
boundary and a colour and frequency mismatch inside it, with no identity or generator to memorise.

The first SBI of this project had no landmarks and pasted an ellipse over the crop's centre, on any image, and
it hurt (docs/experiments.md, issue 24): the mask is the method. Every parameter below is the paper's, given
for its 380-px crops and rescaled here to the face's own size (HULL_SCALE), so that a 128-px face and a 380-px
face get the same blend relative to the face.
"""
from dataclasses import dataclass
import cv2
import numpy as np
from PIL import Image

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's: mostly a full paste, sometimes a partial one
LOWER_HULL_PROBABILITY = 0.25  # the paper's dlib hull leaves the forehead out a quarter of the time
LOWER_HULL_DROP = 0.2  # the share of landmarks, from the top, that a lower hull leaves out
HULL_SCALE = 256.0  # the hull side (pixels) at which the paper's kernel sizes below apply
MAX_TRANSLATE = (0.03, 0.015)  # of the image's width and height, as the paper's affine
SCALE_RANGE = (0.95, 1 / 0.95)
ELASTIC_MAX_SHIFT = 0.03  # of the hull's side: the paper's elastic transform (alpha 50, sigma 7) at 256 px
BLUR_KERNELS = (5, 25)  # odd sizes at HULL_SCALE, as the paper's two Gaussian blurs of the mask
# How far past the hull a mask may reach, as a share of the hull's side: the affine's shift and scale, the
# elastic shift and the second blur's half-width together stay below it, and the mask is cut at it besides.
MAX_SPILL = 0.15


@dataclass
class SelfBlend:
    image: Image.Image  # the pseudo-fake
    mask: np.ndarray  # float32 in [0, 1], H x W: how much of the source each pixel took
    target: np.ndarray  # float32 H x W x 3: the picture the source was blended into


def hull_mask(height: int, width: int, points: np.ndarray) -> np.ndarray:
    """1 inside the convex hull of `points` (N x 2, x and y in pixels), 0 outside."""
    mask = np.zeros((height, width), np.float32)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1.0)
    return mask


def hull_side(points: np.ndarray) -> float:
    return float(max(np.ptp(points[:, 0]), np.ptp(points[:, 1]), 1.0))


def spill_limit(height: int, width: int, points: np.ndarray) -> np.ndarray:
    """The hull dilated by MAX_SPILL of its side: no pixel of a blend mask lies outside it."""
    radius = int(np.ceil(MAX_SPILL * hull_side(points)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(hull_mask(height, width, points), kernel)


def blend_hull_points(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All the landmarks, or (a quarter of the time) all but the topmost: the face without its forehead."""
    if rng.random() < LOWER_HULL_PROBABILITY:
        keep = np.argsort(points[:, 1])[int(len(points) * LOWER_HULL_DROP):]
        return points[keep]
    return points


def random_affine(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    scale = rng.uniform(*SCALE_RANGE)
    affine = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    affine[:, 2] += rng.uniform(-1, 1, size=2) * MAX_TRANSLATE * np.array([width, height])
    return affine


def elastic(mask: np.ndarray, max_shift: float, rng: np.random.Generator) -> np.ndarray:
    """The mask's outline bent by a smooth random displacement field, at most `max_shift` pixels anywhere."""
    height, width = mask.shape
    coarse = rng.uniform(-1, 1, size=(2, 6, 6)).astype(np.float32)
    shift = [cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC) for field in coarse]
    peak = max(float(np.abs(shift[0]).max()), float(np.abs(shift[1]).max()), 1e-6)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(mask, xs + shift[0] * (max_shift / peak), ys + shift[1] * (max_shift / peak),
                     cv2.INTER_LINEAR, borderValue=0)


def odd_kernel(low: int, high: int, side: float, rng: np.random.Generator) -> int:
    size = int(rng.integers(low, high + 1) * side / HULL_SCALE)
    return max(3, size | 1)


def soften(mask: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """The paper's blend mask: blurred, cut to where the blur left it whole (an erosion), blurred again."""
    # Zero past the picture's edge: the default mirrored border would keep a hull that touches the edge whole.
    first = cv2.GaussianBlur(mask, (odd_kernel(*BLUR_KERNELS, side, rng),) * 2, 0, borderType=cv2.BORDER_CONSTANT)
    first = (first >= first.max() - 1e-6).astype(np.float32) if first.max() > 0 else first
    second_kernel = odd_kernel(*BLUR_KERNELS, side, rng)
    softened = cv2.GaussianBlur(first, (second_kernel, second_kernel), rng.uniform(5, 46) * side / HULL_SCALE,
                                borderType=cv2.BORDER_CONSTANT)
    return softened / max(float(softened.max()), 1e-6)


def blend_mask(height: int, width: int, points: np.ndarray, affine: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    side = hull_side(points)
    mask = hull_mask(height, width, blend_hull_points(points, rng))
    mask = cv2.warpAffine(mask, affine, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = soften(elastic(mask, ELASTIC_MAX_SHIFT * side, rng), side, rng)
    return mask * spill_limit(height, width, points)


def nudged(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The paper's source-target augmentation: RGB shift, brightness and contrast (each 30% of the time), then
    a round trip through a 2x or 4x smaller size, or a sharpening."""
    pixels = pixels.copy()
    if rng.random() < 0.3:
        pixels += rng.uniform(-20, 20, size=3).astype(np.float32)
    if rng.random() < 0.3:
        pixels = pixels * rng.uniform(0.9, 1.1) + rng.uniform(-0.1, 0.1) * 255
    height, width = pixels.shape[:2]
    if rng.random() < 0.5:
        factor = int(rng.choice([2, 4]))
        small = cv2.resize(pixels, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
        pixels = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    else:
        alpha, lightness = rng.uniform(0.2, 0.5), rng.uniform(0.5, 1.0)
        sharpen = np.full((3, 3), -1.0, np.float32)
        sharpen[1, 1] = 8 + lightness
        identity = np.zeros((3, 3), np.float32)
        identity[1, 1] = 1
        pixels = cv2.filter2D(pixels, -1, (1 - alpha) * identity + alpha * sharpen)
    return np.clip(pixels, 0, 255)


def self_blend_parts(image: Image.Image, points: np.ndarray, rng: np.random.Generator) -> SelfBlend:
    """The pseudo-fake of a face whose landmarks are `points` (N x 2, pixels), with its mask and target."""
    target = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = target.shape[:2]
    source = target.copy()
    if rng.random() < 0.5:
        source = nudged(source, rng)
    else:
        target = nudged(target, rng)
    affine = random_affine(height, width, rng)
    source = cv2.warpAffine(source, affine, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = blend_mask(height, width, points, affine, rng) * rng.choice(BLEND_RATIOS)
    blended = source * mask[..., None] + target * (1 - mask[..., None])
    return SelfBlend(Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8)), mask, target)


def self_blend(image: Image.Image, points: np.ndarray, rng: np.random.Generator) -> Image.Image:
    return self_blend_parts(image, points, rng).image
