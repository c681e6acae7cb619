"""Named image degradations for robustness checks: what platforms and people do to images after generation.

Each is a PIL -> PIL function applied before the detector's own preprocessing. The table
(`evaluate.py --robustness`) reports ROC-AUC under each beside the clean score.
"""
import io
from typing import Callable, Dict

from PIL import Image, ImageFilter

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
