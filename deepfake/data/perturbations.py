"""Named image degradations for robustness checks: what platforms and people do to images after generation.

Each is a PIL -> PIL function applied before the detector's own preprocessing. The table
(`evaluate.py --robustness`) reports ROC-AUC under each beside the clean score.
"""
import io
from typing import Callable, Dict

from PIL import Image, ImageEnhance, ImageFilter

Perturbation = Callable[[Image.Image], Image.Image]


def jpeg(quality: int) -> Perturbation:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")
    return apply


def downscale(factor: float) -> Perturbation:
    def apply(image: Image.Image) -> Image.Image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return image.resize(size, Image.BILINEAR)
    return apply


def gaussian_blur(sigma: float) -> Perturbation:
    return lambda image: image.filter(ImageFilter.GaussianBlur(radius=sigma))


def center_crop(fraction: float) -> Perturbation:
    def apply(image: Image.Image) -> Image.Image:
        width, height = round(image.width * fraction), round(image.height * fraction)
        left, top = (image.width - width) // 2, (image.height - height) // 2
        return image.crop((left, top, left + width, top + height))
    return apply


def brightness(factor: float) -> Perturbation:
    return lambda image: ImageEnhance.Brightness(image).enhance(factor)


def contrast(factor: float) -> Perturbation:
    return lambda image: ImageEnhance.Contrast(image).enhance(factor)


def gamma(value: float) -> Perturbation:
    table = [round(255 * (level / 255) ** value) for level in range(256)] * 3
    return lambda image: image.point(table)


def down_up(factor: float) -> Perturbation:
    """Downscale and back: the detail a low-resolution copy lost, at the original size."""
    def apply(image: Image.Image) -> Image.Image:
        return downscale(factor)(image).resize(image.size, Image.BILINEAR)
    return apply


def identity(image: Image.Image) -> Image.Image:
    return image


# The seed README's "lighting conditions, image resolution": evaluate.py --stress sweeps these.
STRESS_FAMILIES: Dict[str, Dict[str, Perturbation]] = {
    "lighting": {
        **{f"brightness_{f}": brightness(f) for f in (0.5, 0.75, 1.25, 1.5)},
        **{f"contrast_{f}": contrast(f) for f in (0.5, 0.75, 1.25, 1.5)},
        **{f"gamma_{g}": gamma(g) for g in (0.7, 0.85, 1.2, 1.4)},
    },
    "resolution": {
        "native": identity,
        **{f"down_up_{f}": down_up(f) for f in (0.25, 0.5, 0.75)},
        "upscale_1.5x": downscale(1.5),
    },
}

ROBUSTNESS_SUITE: Dict[str, Perturbation] = {
    "jpeg_q95": jpeg(95),
    "jpeg_q75": jpeg(75),
    "jpeg_q50": jpeg(50),
    "downscale_0.5x": downscale(0.5),
    "gaussian_blur_sigma1": gaussian_blur(1.0),
    "center_crop_0.8": center_crop(0.8),
}


class Perturbed:
    """The detector's transform, applied after a perturbation."""

    def __init__(self, perturbation: Perturbation, transform: Callable):
        self.perturbation = perturbation
        self.transform = transform

    def __call__(self, image: Image.Image):
        return self.transform(self.perturbation(image))
