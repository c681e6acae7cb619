"""Frozen-backbone training: features computed once per image and augmentation round, then a head trained on them.

When only a model's head trains, the backbone's output for an augmented view never changes, so it is computed
once and kept: round r holds the training images that the epochs using it draw (epoch e uses round e % rounds),
each under the augmentation that epoch r would have drawn (the same seed); validation holds every evaluation
crop. With every image drawn (the default), a round is the whole split and a head trains in seconds per epoch
after the first pass; under --epoch-size a round holds only what its epochs draw, so a short run on a large
corpus embeds the few thousand images it trains on, not all of them. Files are written atomically under a key
made of everything the features depend on, down to a digest of the frozen weights, so a resumed or repeated
run reuses them and a changed one never reads stale features. Under torchrun, rank 0 computes the training
rounds and the others read them; each rank scores its own slice of validation, as in image training.
"""
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..checkpoint import atomic_write_bytes
from ..data.datasets import Batch, collate_skipping_failures
from ..inference.forward import CROPS_PER_FORWARD, as_model_input, mixed_precision
from ..models.base import frozen_weights_digest
from .engine import seed_everything


def trains_head_only(model: nn.Module) -> bool:
    """Whether every trainable parameter is in `model.head`, and the rest can be computed once by `model.embed`."""
    if not model.splits_at_head:
        return False
    head = {id(parameter) for parameter in model.head.parameters()}
    return all(id(parameter) in head for parameter in model.parameters() if parameter.requires_grad)


@dataclass
class FeatureSet:
    """Features of the images that decoded. Training: one row per image; validation: `crops_per_image` rows."""
    features: torch.Tensor
    labels: torch.Tensor
    indices: List[int]  # the dataset indices they belong to
    crops_per_image: Optional[List[int]] = None

    def training_batches(self, batch_sampler) -> Iterator[Batch]:
        """The sampler's batches of dataset indices, as cached rows. An image that did not decode has no row and
        is left out of its batch, as the image loader leaves it out (an empty batch is skipped by the engine)."""
        row_of = {index: row for row, index in enumerate(self.indices)}
        for indices in batch_sampler:
            rows = torch.as_tensor([row_of[index] for index in indices if index in row_of], dtype=torch.long)
            yield Batch(self.features[rows], self.labels[rows], [self.indices[row] for row in rows.tolist()], [])

    def evaluation_batches(self, images_per_batch: int) -> Iterator[Batch]:
        starts = torch.cumsum(torch.as_tensor([0] + self.crops_per_image), 0).tolist()
        for first in range(0, len(self.indices), images_per_batch):
            last = min(first + images_per_batch, len(self.indices))
            yield Batch(self.features[starts[first]:starts[last]], self.labels[first:last],
                        self.indices[first:last], [], self.crops_per_image[first:last])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save({"features": self.features, "labels": self.labels, "indices": self.indices,
                    "crops_per_image": self.crops_per_image}, buffer)
        return buffer.getvalue()

    @classmethod
    def read(cls, path: Path) -> "FeatureSet":
        return cls(**torch.load(path, map_location="cpu", weights_only=True))

    # Evaluation-style sets (crops_per_image given): what adaptation trains a head on and replays.
    def crop_labels(self) -> torch.Tensor:
        """Each crop's row labelled with its image's label."""
        return self.labels.repeat_interleave(torch.as_tensor(self.crops_per_image, dtype=torch.long))

    def image_logits(self, head: nn.Module) -> torch.Tensor:
        """One logit per image: the mean of its crops', as in prediction."""
        with torch.no_grad():
            logits = head(self.features).reshape(-1)
        return (torch.stack([part.mean() for part in logits.split(self.crops_per_image)]) if self.crops_per_image
                else logits[:0])

    def take(self, images: Sequence[int]) -> "FeatureSet":
        """The rows of these images (positions in this set), in that order."""
        starts = torch.cumsum(torch.as_tensor([0] + self.crops_per_image), 0).tolist()
        rows = [row for image in images for row in range(starts[image], starts[image + 1])]
        return FeatureSet(self.features[rows], self.labels[list(images)], [self.indices[image] for image in images],
                          [self.crops_per_image[image] for image in images])

    def __add__(self, other: "FeatureSet") -> "FeatureSet":
        return FeatureSet(torch.cat([self.features, other.features]), torch.cat([self.labels, other.labels]),
                          self.indices + other.indices, self.crops_per_image + other.crops_per_image)


@torch.inference_mode()
def compute_features(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int, workers: int,
                     seed: int, amp: bool = False, on_batch: Callable[[int], None] = lambda n: None,
                     on_failure: Callable[[str], None] = lambda message: None) -> FeatureSet:
    """`model.embed` of every decodable item of `dataset`, in order (an item that does not decode is reported to
    `on_failure` and has no row); the seed fixes the augmentation drawn."""
    seed_everything(seed)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_skipping_failures,
                        generator=torch.Generator().manual_seed(seed))
    model.eval()
    features, labels, indices, crops_per_image = [], [], [], []
    for batch in loader:
        for failure in batch.failures:
            on_failure(f"skipped: {failure.message}")
        if batch.indices:
            images = as_model_input(batch.images.to(device))
            with mixed_precision(device, amp):
                features += [model.embed(chunk).float().cpu() for chunk in images.split(CROPS_PER_FORWARD)]
            labels.append(batch.labels)
            indices += batch.indices
            if batch.crops_per_image is not None:
                crops_per_image += batch.crops_per_image
        on_batch(len(batch.indices) + len(batch.failures))
    empty = torch.empty(0)
    return FeatureSet(torch.cat(features) if features else empty, torch.cat(labels) if labels else empty, indices,
                      crops_per_image if crops_per_image else None)


class FeatureCache:
    """One folder of FeatureSets for one (model, data, preprocessing, augmentation) combination."""

    def __init__(self, folder: Path, model: nn.Module, recipe: dict, device: torch.device, batch_size: int,
                 workers: int, amp: bool, show_progress: bool):
        key = json.dumps(dict(recipe, frozen_weights=frozen_weights_digest(model)), sort_keys=True, default=str)
        self.folder = Path(folder) / hashlib.sha256(key.encode()).hexdigest()[:16]
        self.model, self.device, self.batch_size = model, device, batch_size
        self.workers, self.amp, self.show_progress = workers, amp, show_progress

    def get(self, name: str, dataset: Dataset, seed: int, compute_here: bool = True,
            wait: Callable[[], None] = lambda: None) -> FeatureSet:
        """The cached set `name`, computed first if missing (by this process only when `compute_here`;
        `wait` is the barrier after which another process has written it)."""
        path = self.folder / f"{name}.pt"
        if compute_here and not path.is_file():
            with tqdm(total=len(dataset), desc=f"features ({name})", unit="img", leave=False,
                      disable=not self.show_progress) as bar:
                computed = compute_features(self.model, dataset, self.device, self.batch_size, self.workers, seed,
                                            self.amp, on_batch=bar.update)
            atomic_write_bytes(path, computed.to_bytes())
        wait()
        return FeatureSet.read(path)


def round_name(round_number: int, items: Sequence[int], n_items: int) -> str:
    """The cache file of a training round: named by its number when it holds the whole split, and by a digest of
    its items too when it holds a draw, so that another --epoch-size or --epochs never reads it."""
    if len(items) == n_items:
        return f"train-round{round_number}"
    digest = hashlib.sha256(json.dumps(list(items)).encode()).hexdigest()[:12]
    return f"train-round{round_number}-{digest}"
