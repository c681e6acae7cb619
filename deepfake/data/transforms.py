"""Preprocessing as data that rides on the checkpoint, and the train/eval transforms built from it.

Images are never squashed to a fixed shape. Training takes random square crops, at native resolution or
after resizing the shorter side (Preprocessing.resize; the shipped model sees the whole image at 128 px);
evaluation scores fixed crops (a grid spread over the image, by default), optionally with their mirrors,
and the caller averages their logits, so any image size and shape works without padding.
"""
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

from ..preprocessing import EVAL_CROP_COUNTS, Preprocessing
from .format_blind import FormatBlind, FormatChain, reencoded


def _centre(width: int, height: int, size: int) -> List[Tuple[int, int]]:
    # Rounded as torchvision's center_crop rounds it, so scores match the training-time view.
    return [(int(round((width - size) / 2.0)), int(round((height - size) / 2.0)))]


def _centre_and_corners(width: int, height: int, size: int) -> List[Tuple[int, int]]:
    return [(0, 0), (width - size, 0), (0, height - size), (width - size, height - size)] + \
        _centre(width, height, size)


def _grid(per_side: int) -> Callable[[int, int, int], List[Tuple[int, int]]]:
    """per_side x per_side crops spread evenly from corner to corner (they overlap on small images)."""
    def boxes(width: int, height: int, size: int) -> List[Tuple[int, int]]:
        lefts = [round(i * (width - size) / (per_side - 1)) for i in range(per_side)]
        tops = [round(i * (height - size) / (per_side - 1)) for i in range(per_side)]
        return [(left, top) for top in tops for left in lefts]
    return boxes


# --eval-crops N -> where the N crops sit (preprocessing.DEFAULT_EVAL_CROPS says why 9 by default).
CROP_LAYOUTS: Dict[int, Callable[[int, int, int], List[Tuple[int, int]]]] = {
    1: _centre,
    5: _centre_and_corners,
    9: _grid(3),
    16: _grid(4),
}
assert tuple(CROP_LAYOUTS) == EVAL_CROP_COUNTS  # preprocessing.py checks checkpoints against the same counts


def crop_boxes(width: int, height: int, size: int, n_crops: int) -> List[Tuple[int, int]]:
    """(left, top) of an image's evaluation crops, each position once: an image no larger than the crop is
    scored once rather than N times over, which is what every 128-px face crop would otherwise cost."""
    return list(dict.fromkeys(CROP_LAYOUTS[n_crops](width, height, size)))


# 0.2 each: against 0.1, it halved the ROC-AUC lost to blur (0.061 -> 0.029) and cut the loss to 0.5x
# downscaling (0.086 -> 0.065) for 0.01 of clean ROC-AUC, in 6-epoch runs of the native-resolution recipe.
DEFAULT_DEGRADATION_PROBABILITY = 0.2
# Half of the training images reframed: it cut the shipped recipe's loss on StyleGAN faces centre-cropped to
# 0.8 from 0.126 to 0.057 ROC-AUC, and raised clean ROC-AUC on two sets of three. 0.8 cut that loss to 0.015
# but cost 0.03 of clean ROC-AUC on the same faces (weights/MODEL_CARD.md).
DEFAULT_REFRAME_PROBABILITY = 0.5
# Off by default, so that a command trained before relighting existed still trains the same weights. The shipped
# recipe passes --relight-probability 0.3: it halved what halving the contrast costs (0.143 -> 0.075 ROC-AUC),
# and with --weight-decay 0.05 it also kept clean ROC-AUC (weights/MODEL_CARD.md).
DEFAULT_RELIGHT_PROBABILITY = 0.0


@dataclass(frozen=True)
class Augmentation:
    """CNNDetection-style degradations, so the detector survives what platforms do to uploads."""
    downscale_probability: float = DEFAULT_DEGRADATION_PROBABILITY
    min_downscale: float = 0.5
    blur_probability: float = DEFAULT_DEGRADATION_PROBABILITY
    max_blur_sigma: float = 2.0
    jpeg_probability: float = DEFAULT_DEGRADATION_PROBABILITY
    min_jpeg_quality: int = 40
    # Not a degradation: a user's crop of a photo. See Reframe.
    reframe_probability: float = DEFAULT_REFRAME_PROBABILITY
    min_reframe_fraction: float = 0.75
    # Not a degradation either: lighting as a camera or an edit changes it. See Relight.
    relight_probability: float = DEFAULT_RELIGHT_PROBABILITY
    max_relight_change: float = 0.3

    @classmethod
    def each_with_probability(cls, probability: float, reframe_probability: float = DEFAULT_REFRAME_PROBABILITY,
                              relight_probability: float = DEFAULT_RELIGHT_PROBABILITY) -> "Augmentation":
        """The three degradations at `probability` each, reframing and relighting at their own."""
        return cls(downscale_probability=probability, blur_probability=probability, jpeg_probability=probability,
                   reframe_probability=reframe_probability, relight_probability=relight_probability)


NO_AUGMENTATION = Augmentation(downscale_probability=0.0, min_downscale=1.0, blur_probability=0.0, max_blur_sigma=0.0,
                               jpeg_probability=0.0, min_jpeg_quality=100, reframe_probability=0.0,
                               min_reframe_fraction=1.0, relight_probability=0.0, max_relight_change=0.0)


def _uniform(low: float, high: float) -> float:
    # torch's RNG, not `random`: DataLoader reseeds it per worker, so augmentation is reproducible by seed.
    return low + (high - low) * torch.rand(()).item()


def _happens(probability: float) -> bool:
    return probability > 0 and torch.rand(()).item() < probability


def resize_shorter_side(image: Image.Image, size: int) -> Image.Image:
    scale = size / min(image.size)
    return image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))),
                        Image.BICUBIC)


def fit_to_input(image: Image.Image, preprocessing: "Preprocessing") -> Image.Image:
    if preprocessing.resize:
        return resize_shorter_side(image, preprocessing.resize)
    return upscale_to_at_least(image, preprocessing.input_size)


def upscale_to_at_least(image: Image.Image, size: int) -> Image.Image:
    """Images smaller than the crop are enlarged (shorter side to `size`); larger ones are left alone."""
    short_side = min(image.size)
    if short_side >= size:
        return image
    scale = size / short_side
    new_size = (max(size, round(image.width * scale)), max(size, round(image.height * scale)))
    return image.resize(new_size, Image.BICUBIC)


class Reframe:
    """Keep a random window of min_reframe_fraction..1 of the image's width and height (aspect kept), and
    never narrower than `view_size` (the side the network sees): an image at or below it is left whole.

    A model that sees whole images (Preprocessing.resize) otherwise learns the exact framing of its training
    sets, the aligned faces of FFHQ and StyleGAN above all: trained without it, the shipped recipe lost 0.126
    ROC-AUC on StyleGAN faces centre-cropped to 0.8. With native-resolution crops it only moves where the crop
    may fall."""

    def __init__(self, augmentation: Augmentation, view_size: int = 1):
        self.augmentation = augmentation
        self.view_size = view_size

    def __call__(self, image: Image.Image) -> Image.Image:
        aug = self.augmentation
        if not _happens(aug.reframe_probability):
            return image
        # Never cut a window smaller than the network's view: it would have to be enlarged back, and the
        # network may read that blur as a cue. Left whole, the 128-px face-swap frames score 0.875 ROC-AUC
        # instead of 0.862 (weights/MODEL_CARD.md).
        smallest_fraction = max(aug.min_reframe_fraction, self.view_size / min(image.size))
        if smallest_fraction >= 1:
            return image
        fraction = _uniform(smallest_fraction, 1.0)
        width, height = max(1, round(image.width * fraction)), max(1, round(image.height * fraction))
        left = int(torch.randint(0, image.width - width + 1, ()).item())
        top = int(torch.randint(0, image.height - height + 1, ()).item())
        return image.crop((left, top, left + width, top + height))


# Each of these scales one property of the picture by a factor around 1 (PIL's ImageEnhance).
RELIGHT_ENHANCERS = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)


class Relight:
    """Brightness, contrast and saturation, each scaled by a factor in 1 +- max_relight_change with
    relight_probability: the shipped model, trained without it, loses 0.09 ROC-AUC when brightness is halved
    and 0.14 when contrast is (weights/MODEL_CARD.md, "Stress"), so it leans on the lighting of its training
    sets, which says nothing about how an image was made."""

    def __init__(self, augmentation: Augmentation):
        self.augmentation = augmentation

    def __call__(self, image: Image.Image) -> Image.Image:
        aug = self.augmentation
        for enhancer in RELIGHT_ENHANCERS:
            if _happens(aug.relight_probability):
                change = aug.max_relight_change
                image = enhancer(image).enhance(_uniform(1.0 - change, 1.0 + change))
        return image


class Degrade:
    def __init__(self, augmentation: Augmentation):
        self.augmentation = augmentation

    def __call__(self, image: Image.Image) -> Image.Image:
        aug = self.augmentation
        if _happens(aug.downscale_probability):
            scale = _uniform(aug.min_downscale, 1.0)
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.BILINEAR)
        if _happens(aug.blur_probability):
            image = image.filter(ImageFilter.GaussianBlur(radius=_uniform(0.1, aug.max_blur_sigma)))
        if _happens(aug.jpeg_probability):
            image = reencoded(image, "jpeg", int(_uniform(aug.min_jpeg_quality, 100)))
        return image


class ToNormalizedTensor:
    """PIL RGB -> float tensor [3, H, W], scaled to [0, 1] then normalised by the checkpoint's mean and std.

    Written with numpy rather than torchvision so that prediction does not import torchvision: that import
    alone costs more than a second of a cold start (see benchmarks/cold_start.py)."""

    def __init__(self, preprocessing: Preprocessing):
        self.mean = torch.tensor(preprocessing.mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(preprocessing.std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float().div_(255)
        return (pixels - self.mean) / self.std


def to_normalized_tensor(preprocessing: Preprocessing) -> ToNormalizedTensor:
    return ToNormalizedTensor(preprocessing)


# Native-resolution training first cuts a random window of this many times the crop: every later step (codec
# chain, reframing, degradations) scales by at most 0.5x, so the final crop still falls anywhere in the image at
# its own scale, while a 12-MP photo costs the chain's encoders a 0.8-MP window instead of all of it.
NATIVE_WINDOW_FACTOR = 4


class NativeWindow:
    """A random window of `side` x `side` pixels (each side capped at the image's)."""

    def __init__(self, side: int):
        self.side = side

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = min(self.side, image.width), min(self.side, image.height)
        if (width, height) == image.size:
            return image
        left = int(torch.randint(0, image.width - width + 1, ()).item())
        top = int(torch.randint(0, image.height - height + 1, ()).item())
        return image.crop((left, top, left + width, top + height))


def build_train_transform(preprocessing: Preprocessing, augmentation: Augmentation = Augmentation(),
                          format_chain: Optional[FormatChain] = None):
    """PIL RGB image -> float tensor [3, S, S] ([6, S, S] with a global view: see TwoViews). With a
    format_chain, every image is first resized and re-encoded by a random draw of it (data.format_blind),
    whatever its class."""
    from torchvision.transforms import v2  # training only: prediction never pays for importing torchvision

    if preprocessing.global_view:
        return TwoViews(build_train_transform(whole_image_view(preprocessing), augmentation, format_chain),
                        build_train_transform(replace(preprocessing, global_view=0), augmentation, format_chain))

    size = preprocessing.input_size
    window = [] if preprocessing.resize else [NativeWindow(NATIVE_WINDOW_FACTOR * size)]
    format_blind = [FormatBlind(format_chain, view_size=preprocessing.resize or size)] if format_chain else []
    return v2.Compose([
        *window,
        *format_blind,  # first: the file's journey before anyone crops or relights it
        Reframe(augmentation, view_size=preprocessing.resize or size),
        Relight(augmentation),  # before the degradations: an upload compresses the picture as it was lit
        Degrade(augmentation),
        lambda image: fit_to_input(image, preprocessing),
        v2.RandomCrop(size),
        v2.RandomHorizontalFlip(),
        to_normalized_tensor(preprocessing),
    ])


def whole_image_view(preprocessing: Preprocessing) -> Preprocessing:
    """The preprocessing of a two-view model's whole-image branch: the shorter side resized to global_view."""
    return replace(preprocessing, resize=preprocessing.global_view, global_view=0)


class TwoViews:
    """Training: the whole-image view and the native crop of one image, each drawn by its own chain, stacked on
    the channel axis. The two branches are trained detectors that saw these chains (models/two_view.py), so each
    keeps the view it knows; at evaluation the two sit at the same place (EvalTransform)."""

    def __init__(self, whole_image: Callable, native_crop: Callable):
        self.whole_image, self.native_crop = whole_image, native_crop

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return torch.cat([self.whole_image(image), self.native_crop(image)])


def with_mirror_views(crops: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    """[crops, 3, S, S] -> the same crops followed by their left-right mirrors, if the checkpoint asks for them."""
    return torch.cat([crops, crops.flip(-1)]) if preprocessing.mirror_views else crops


class EvalTransform:
    """PIL RGB image -> float tensor [crops, 3, S, S] ([crops, 6, S, S] with a global view); deterministic. The
    number of crops depends on the image's size (see crop_boxes), so batches concatenate them and count them
    (data.collate_skipping_failures)."""

    def __init__(self, preprocessing: Preprocessing):
        self.preprocessing = preprocessing
        self.to_tensor = to_normalized_tensor(preprocessing)
        # What the image's shorter side is resized to, so that a JPEG can be decoded at a reduced scale
        # (images.load_rgb_image); 0 for native-resolution crops, which need every pixel.
        self.decode_shorter_side = 0 if preprocessing.global_view else preprocessing.resize

    def __call__(self, image: Image.Image) -> torch.Tensor:
        size = self.preprocessing.input_size
        fitted = fit_to_input(image, self.preprocessing)
        boxes = crop_boxes(fitted.width, fitted.height, size, self.preprocessing.eval_crops)
        crops = torch.stack([self.to_tensor(fitted.crop((left, top, left + size, top + size)))
                             for left, top in boxes])
        if self.preprocessing.global_view:
            crops = torch.cat([self.whole_image_views(image, fitted.size, boxes), crops], dim=1)
        return with_mirror_views(crops, self.preprocessing)

    def whole_image_views(self, image: Image.Image, fitted_size: Tuple[int, int],
                          boxes: List[Tuple[int, int]]) -> torch.Tensor:
        """For each crop, the whole-image view's crop (same layout) whose centre lies nearest the crop's, both
        measured as fractions of their image: the global branch reads the part of the picture the crop is in."""
        size = self.preprocessing.input_size
        whole = resize_shorter_side(image, self.preprocessing.global_view)
        candidates = crop_boxes(whole.width, whole.height, size, self.preprocessing.eval_crops)
        views = [self.to_tensor(whole.crop((left, top, left + size, top + size))) for left, top in candidates]

        def centre(box: Tuple[int, int], width: int, height: int) -> torch.Tensor:
            return torch.tensor([(box[0] + size / 2) / width, (box[1] + size / 2) / height])

        view_centres = torch.stack([centre(box, *whole.size) for box in candidates])
        crop_centres = torch.stack([centre(box, *fitted_size) for box in boxes])
        nearest = torch.cdist(crop_centres, view_centres).argmin(dim=1)
        return torch.stack([views[index] for index in nearest.tolist()])
