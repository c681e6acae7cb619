"""The replay set: features of the base model's own training and validation split, kept beside its checkpoint
(`W.replay.safetensors`, built once from the folders it was trained on), which every adaptation step pairs with
the new images, and whose validation side chooses the threshold beside the held-out new images."""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from safetensors.torch import load_file, save

from ..checkpoint import ModelCard, atomic_write_bytes, load_model
from ..data.datasets import discover_roots, split_roots
from ..errors import DeepfakeError
from ..models.base import frozen_weights_digest
from ..training.feature_cache import FeatureSet
from .features import check_adaptable, embed_images

REPLAY_PER_FOLDER = 64  # replay images per class and --data folder of the base model (train side; val: a quarter)
REPLAY_SUFFIX = ".replay.safetensors"


@dataclass
class Replay:
    """The base model's own training (`train`) and validation (`val`) features, for the frozen network whose
    digest is `embedding`."""
    train: FeatureSet  # evaluation-style: crops_per_image rows per image
    val: FeatureSet
    embedding: str
    data: List[str] = field(default_factory=list)  # what they came from, for the record

    def save(self, path: Path) -> None:
        tensors = {}
        for side, features in (("train", self.train), ("val", self.val)):
            tensors[f"{side}_features"] = features.features.half()  # compact: 2 bytes a value is plenty for a head
            tensors[f"{side}_labels"] = features.labels.to(torch.uint8)
            tensors[f"{side}_crops"] = torch.as_tensor(features.crops_per_image, dtype=torch.int32)
        metadata = {"embedding": self.embedding, "data": json.dumps(self.data)}
        atomic_write_bytes(path, save({name: tensor.contiguous() for name, tensor in tensors.items()}, metadata))

    @classmethod
    def load(cls, path: Path) -> "Replay":
        from safetensors import safe_open
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), "pt") as handle:
                metadata = handle.metadata() or {}
        except Exception as error:  # safetensors raises its own errors for a damaged file
            raise DeepfakeError(f"{path}: not a replay file ({str(error).splitlines()[0]})") from None
        sides = {}
        for side in ("train", "val"):
            crops = tensors[f"{side}_crops"].tolist()
            sides[side] = FeatureSet(tensors[f"{side}_features"].float(), tensors[f"{side}_labels"].float(),
                                     list(range(len(crops))), crops)
        return cls(sides["train"], sides["val"], metadata.get("embedding", ""), json.loads(metadata.get("data", "[]")))


def replay_path(weights: Path) -> Path:
    weights = Path(weights)
    return weights.with_name(weights.name.split(".")[0] + REPLAY_SUFFIX)


def build_replay(model: nn.Module, card: ModelCard, data_dirs: Sequence[str], per_folder: int = REPLAY_PER_FOLDER,
                 show_progress: bool = False, log=print) -> Replay:
    """Features of an evenly spaced sample of the base model's own split: up to `per_folder` images per class of
    each --data folder from its training side, a quarter as many from its validation side. The folders must be
    the very data the card records (file lists compared), or the replay would teach it something else."""
    from tqdm import tqdm
    training = card.training
    if not training.get("data"):
        raise DeepfakeError(f"{card.arch}: the checkpoint records no training data to replay (a converted peer?)")
    split = dict(val_fraction=training.get("val_fraction", 0.2), seed=training.get("seed", 0),
                 split_by=training.get("split_by", "source"), train_fraction=training.get("train_fraction", 1.0))
    sides: Dict[str, List] = {"train": [], "val": []}
    summary = []
    for root, images in discover_roots(data_dirs).items():
        train, val, root_summary = split_roots({root: images}, **split)  # each root splits on its own, as in training
        summary += root_summary
        for side, chosen, per_class in (("train", train, per_folder), ("val", val, max(1, per_folder // 4))):
            for label in (0, 1):
                group = [image for image in chosen if image.label == label]
                sides[side] += group[::max(1, len(group) // per_class)][:per_class]  # evenly spaced
    recorded = [(entry["name"], entry.get("file_list_sha256")) for entry in training["data"]]
    if [(entry["name"], entry.get("file_list_sha256")) for entry in summary] != recorded:
        raise DeepfakeError(f"--replay-data is not what the checkpoint was trained on ("
                            f"{', '.join(name for name, _ in recorded)}, file lists recorded in its card): give "
                            f"those folders as they were")
    features = {}
    for side, chosen in sides.items():
        with tqdm(total=len(chosen), desc=f"replay features ({side})", unit="img", leave=False,
                  disable=not show_progress) as bar:
            features[side], _ = embed_images(model, card, [image.path for image in chosen],
                                             [image.label for image in chosen], on_batch=bar.update, on_failure=log)
    return Replay(features["train"], features["val"], frozen_weights_digest(model), [name for name, _ in recorded])


def write_replay(weights: Path, folders: Sequence[str], fallback: Optional[Path] = None, model=None, card=None,
                 show_progress: bool = False, log=print) -> Tuple[Replay, Path]:
    """Build the replay set of the checkpoint at `weights` and write it beside it (beside `fallback`, the output,
    where the checkpoint's folder is read-only)."""
    if model is None:
        model, card = load_model(weights)
        check_adaptable(model, card)
    replay = build_replay(model, card, folders, show_progress=show_progress, log=log)
    stored = replay_path(weights)
    try:
        replay.save(stored)
    except OSError:
        if fallback is None:
            raise DeepfakeError(f"{stored}: cannot be written (a read-only install?)") from None
        stored = replay_path(fallback)
        replay.save(stored)
    return replay, stored
