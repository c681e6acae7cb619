"""Preprocessing as typed data that rides on the checkpoint (beside ModelCard, on the ground floor): the
input size, normalisation, crop layout and resize a model was trained with, so that prediction rebuilds its
transforms with no flags (data/transforms.py builds them from this)."""
from dataclasses import asdict, dataclass
from typing import Tuple

# How many crops of an image may be scored and averaged: data.transforms.CROP_LAYOUTS places them.
EVAL_CROP_COUNTS = (1, 5, 9, 16)
# Averaging more crops helped the shipped weights on validation (ROC-AUC with 5 / 9 / 16 crops:
# faces-stylegan 0.719, 0.749, 0.763; diffusion-coco 0.895, 0.906, 0.911) at a cost that grows with N: 9
# keeps a large image under ResNet-50's GFLOPs.
DEFAULT_EVAL_CROPS = 9


@dataclass(frozen=True)
class Preprocessing:
    input_size: int = 128
    mean: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    eval_crops: int = DEFAULT_EVAL_CROPS  # a key of CROP_LAYOUTS: where the crops whose logits are averaged sit
    resize: int = 0  # 0: crop at native resolution; N: first resize the shorter side to N pixels
    faces: bool = False  # trained on face crops: prediction detects and crops faces first
    # Each crop is also scored mirrored left to right, and the logits of all views averaged. Training flips
    # at random, so the mirror is as valid a view as the original; averaging the two raises the shipped
    # weights' validation ROC-AUC on every set, but halves the model's speed, so it is an option
    # (train.py / recalibrate --mirror-views), not the shipped default (weights/MODEL_CARD.md).
    mirror_views: bool = False
    # 0: the model reads each crop alone. N: beside each crop it also reads the whole image, shorter side resized
    # to N, cropped at the same place (6 channels; models/two_view.py says why).
    global_view: int = 0

    def __post_init__(self):
        if self.eval_crops not in EVAL_CROP_COUNTS:
            raise ValueError(f"eval_crops must be one of {list(EVAL_CROP_COUNTS)}, not {self.eval_crops}")
        if self.global_view and self.global_view < self.input_size:
            raise ValueError(f"global_view must be 0 or at least input_size ({self.input_size}), not {self.global_view}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocessing":
        return cls(input_size=int(values["input_size"]), mean=tuple(values["mean"]), std=tuple(values["std"]),
                   eval_crops=int(values.get("eval_crops", 1)), resize=int(values.get("resize", 0)),
                   faces=bool(values.get("faces", False)), mirror_views=bool(values.get("mirror_views", False)),
                   global_view=int(values.get("global_view", 0)))
