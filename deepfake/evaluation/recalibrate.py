"""Refit a checkpoint's calibration and threshold on its own validation split, without retraining.

    python -m deepfake.recalibrate --weights runs/train/best.safetensors --data DIR [DIR ...] [--out NEW]

For checkpoints made before train.py calibrated its probabilities (format 1: temperature 1, bias 0), to
switch the threshold rule (say to `fpr_5` for a moderation queue), or to score with another crop layout
(`--eval-crops`, `--mirror-views`: averaging more views changes the spread of the logits, so the map and
threshold must be refit with them). It scores exactly the validation images the
checkpoint recorded (same folders, seed and split; refused if the file lists differ) the way training scored
them (same autocast), then runs the same `calibrate_on_validation` as train.py: the result is the checkpoint
train.py would have written (with --eval-crops, had it validated with those crops: its choice of best epoch
could have differed).
"""
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch.utils.data import DataLoader

from ..checkpoint import ModelCard, load_model, save_model
from ..data.datasets import LabelledImageDataset, collate_skipping_failures, load_split, worker_count
from ..data.transforms import EvalTransform
from ..errors import DeepfakeError
from ..inference.calibration import calibrated_rule
from .evaluate import recorded_split
from .metrics import calibrate_on_validation
from .scoring import score


def recalibrate_checkpoint(weights: Union[str, Path], data_dirs: Sequence[str], out: Union[str, Path, None] = None,
                           threshold_rule: str = "balanced_accuracy", batch_size: int = 32,
                           workers: Optional[int] = None, eval_crops: Optional[int] = None,
                           mirror_views: Optional[bool] = None) -> ModelCard:
    """Write the recalibrated checkpoint to `out` (default: over `weights`, atomically) and return its card."""
    model, card = load_model(weights)
    # How the checkpoint scores an image from now on: the arguments given, the checkpoint's own otherwise.
    views = {key: value for key, value in (("eval_crops", eval_crops), ("mirror_views", mirror_views))
             if value is not None}
    card = replace(card, preprocessing=replace(card.preprocessing, **views))
    if card.preprocessing.faces:
        raise DeepfakeError(f"{weights}: trained on face crops; recalibrating it needs its face cache: retrain "
                            f"with train.py, which calibrates every epoch")
    training = card.training
    if not training.get("data"):
        raise DeepfakeError(f"{weights}: records no training data, so it has no validation split to calibrate "
                            f"on (a converted checkpoint?)")
    _, val_images, data_summary = load_split(data_dirs, **recorded_split(card))
    if data_summary != training["data"]:
        trained_on = ", ".join(entry["name"] for entry in training["data"])
        raise DeepfakeError(f"{weights}: was trained on other data ({trained_on}; file lists differ): pass the "
                            f"same --data folders, so that calibration uses its validation split and nothing else")
    loader = DataLoader(LabelledImageDataset(val_images, EvalTransform(card.preprocessing)), batch_size=batch_size,
                        num_workers=worker_count(workers), collate_fn=collate_skipping_failures)
    scores = score(model, loader, torch.device("cpu"), amp=bool(training.get("amp")))
    validation = calibrate_on_validation(scores.labels, scores.logits, threshold_rule)
    card = replace(card, temperature=validation.temperature, logit_bias=validation.bias,
                   threshold=validation.threshold, threshold_rule=calibrated_rule(threshold_rule),
                   validation_metrics=validation.metrics)
    save_model(out or weights, model, card)
    return card
