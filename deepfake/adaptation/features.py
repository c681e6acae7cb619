"""The new images' features, as the checkpoint scores them: what the head trains on and the threshold is chosen on."""
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..checkpoint import ModelCard
from ..data.datasets import ImagePathDataset, worker_count
from ..data.transforms import EvalTransform
from ..errors import DeepfakeError
from ..training.feature_cache import FeatureSet, compute_features

MIN_PER_CLASS = 8  # fewer new images of a class than this give a held-out part of one or two: no threshold


def check_adaptable(model: nn.Module, card: ModelCard) -> None:
    if not getattr(model, "splits_at_head", False):
        raise DeepfakeError(f"{card.arch} is not head(embed(image)): adaptation trains a head on frozen features, "
                            f"so it needs a pretrained_* or fused_* architecture such as the shipped mobilenet_v2")


def embed_images(model: nn.Module, card: ModelCard, paths: Sequence[Path], labels: Sequence[int],
                 batch_size: int = 32, workers: Optional[int] = None,
                 on_batch: Callable[[int], None] = lambda n: None,
                 on_failure: Callable[[str], None] = lambda message: None) -> Tuple[FeatureSet, List[int]]:
    """Features of every image that decodes, crops as the card scores them (training's compute_features), and
    the indices of those images (a file that does not decode is reported and left out)."""
    dataset = ImagePathDataset(list(paths), EvalTransform(card.preprocessing))
    computed = compute_features(model, dataset, next(model.parameters()).device, batch_size,
                                min(worker_count(workers), len(paths) // 64), seed=0, on_batch=on_batch,
                                on_failure=on_failure)
    kept = computed.indices
    labels = torch.as_tensor([float(labels[index]) for index in kept])
    return FeatureSet(computed.features, labels, list(range(len(kept))), computed.crops_per_image or []), kept
