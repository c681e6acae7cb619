"""Self-blended images (Shiohara and Yamasaki, CVPR 2022): a face blended into a slightly altered copy of itself.

The copy's colour and sharpness are nudged and it is shifted and scaled a little; a soft mask around the face
then pastes one over the other. What is left is what a face swap leaves, a blending boundary and a colour and
frequency mismatch inside it, with no identity or generator to memorise. The paper's mask is the convex hull
of 68 facial landmarks; the project has no landmark model, and the training faces are centred crops, so the
mask here is an ellipse over the crop's centre, jittered, deformed and blurred as the paper does its hull.
"""
import cv2
import numpy as np
from PIL import Image

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's: mostly a full paste, sometimes a partial one


def altered_copy(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source: colour shifted, contrast and brightness changed, blurred or sharpened, shifted and scaled."""
    height, width = pixels.shape[:2]
    source = pixels.astype(np.float32)
    source = source * rng.uniform(0.9, 1.1) + rng.uniform(-12, 12) + rng.uniform(-10, 10, size=3)
    if rng.random() < 0.5:
        sigma = rng.uniform(0.5, 1.2)
        blurred = cv2.GaussianBlur(source, (0, 0), sigma)
        source = blurred if rng.random() < 0.5 else source + rng.uniform(0.5, 1.0) * (source - blurred)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, size=2) * (width, height)
    affine = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    affine[:, 2] += shift
    source = cv2.warpAffine(source, affine, (width, height), borderMode=cv2.BORDER_REFLECT)
    return np.clip(source, 0, 255)


def face_mask(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A soft mask in [0, 1]: an ellipse over the face, its outline deformed by smooth noise, its edge blurred."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    centre_x = width * (0.5 + rng.uniform(-0.04, 0.04))
    centre_y = height * (0.53 + rng.uniform(-0.04, 0.04))
    radius_x, radius_y = width * rng.uniform(0.26, 0.38), height * rng.uniform(0.32, 0.45)
    # A coarse random field, upsampled, bends the outline as the paper's elastic deformation of the hull does.
    bend = cv2.resize(rng.uniform(-0.12, 0.12, size=(4, 4)).astype(np.float32), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    distance = np.sqrt(((xs - centre_x) / radius_x) ** 2 + ((ys - centre_y) / radius_y) ** 2)
    mask = (distance < 1 + bend).astype(np.float32)
    sigma = max(1.0, rng.uniform(0.02, 0.08) * min(height, width))
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return np.clip(mask / max(mask.max(), 1e-6), 0, 1)


def self_blend(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    target = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = target.shape[:2]
    source = altered_copy(target, rng)
    mask = face_mask(height, width, rng)[..., None] * rng.choice(BLEND_RATIOS)
    blended = source * mask + target * (1 - mask)
    return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8))
