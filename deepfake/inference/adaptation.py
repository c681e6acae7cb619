"""Adaptation: teach a trained detector a new generator from a few dozen confirmed examples, on a CPU, in minutes,
without forgetting what it knew.

Only the head learns, starting from the head that shipped; the network below it stays frozen, so each image's
features are computed once. Every step pairs the new images with a replay set: features of the base model's own
training split, kept beside its checkpoint (`W.replay.safetensors`, built once from the folders it was trained on).
Every crop is learnt by its label, and on the replay crops the head is also held to the base head's own logits
(learning without forgetting, Li and Hoiem, 2016), which keeps the old generators and cameras ranked as they were
rather than re-fitting them: against labels alone, it cut the largest loss on another family from 0.025 to 0.004
ROC-AUC at k = 32 (mean of three families), for a little less gained on the new one (docs/experiments.md). A weak
pull towards the base head's weights (L2-SP, Li et al., ICML 2018) does the same where neither says anything. The
calibration and the threshold are then chosen afresh on a held-out quarter of the new images plus the base model's
validation split (its replay features), never on an image the head trained on.

The slow part, the replay set (about a minute: a few hundred images through the network), is written once and
reused; an interrupted adaptation then reruns from it in seconds (the new images' features and a few hundred
steps), and its checkpoint is written atomically, or not at all.

This sits beside the Detector (`Detector.adapt`) and uses nothing above the inference layer: a few hundred AdamW
steps on a two-layer head need no training loop.
"""
import copy
import datetime
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch.utils.data import DataLoader

from ..checkpoint import ModelCard, atomic_write_bytes, file_sha256, load_model, save_model
from ..data.datasets import ImagePathDataset, collate_skipping_failures, discover_roots, split_roots, worker_count
from ..data.transforms import EvalTransform
from ..errors import DeepfakeError
from ..models.base import frozen_weights_digest
from .calibration import choose_threshold, fake_probability, fit_calibration
from .forward import CROPS_PER_FORWARD, as_model_input

MIN_PER_CLASS = 8  # fewer new images of a class than this give a held-out part of one or two: no threshold
HELD_OUT_SHARE = 0.25  # of each class of new images, for the threshold and calibration only
REPLAY_PER_FOLDER = 64  # replay images per class and --data folder of the base model (train side; val: a quarter)
REPLAY_SUFFIX = ".replay.safetensors"


@dataclass
class Features:
    """Per-crop features of some images; an image's logit is the mean of its crops', as in prediction."""
    features: torch.Tensor  # [crops, D], float32
    labels: torch.Tensor  # [images], float32: 1 = fake
    crops: List[int]  # crops of each image, in order

    def crop_labels(self) -> torch.Tensor:
        return self.labels.repeat_interleave(torch.as_tensor(self.crops, dtype=torch.long))

    def image_logits(self, head: nn.Module) -> torch.Tensor:
        with torch.no_grad():
            logits = head(self.features).reshape(-1)
        return torch.stack([part.mean() for part in logits.split(self.crops)]) if self.crops else logits[:0]

    def __add__(self, other: "Features") -> "Features":
        return Features(torch.cat([self.features, other.features]), torch.cat([self.labels, other.labels]),
                        self.crops + other.crops)

    def take(self, images: Sequence[int]) -> "Features":
        starts = torch.cumsum(torch.as_tensor([0] + self.crops), 0).tolist()
        rows = [row for image in images for row in range(starts[image], starts[image + 1])]
        return Features(self.features[rows], self.labels[list(images)], [self.crops[image] for image in images])


@dataclass
class Replay:
    """The base model's own training (`train`) and validation (`val`) features, for the frozen network whose
    digest is `embedding`."""
    train: Features
    val: Features
    embedding: str
    data: List[str] = field(default_factory=list)  # what they came from, for the record

    def save(self, path: Path) -> None:
        tensors = {}
        for side, features in (("train", self.train), ("val", self.val)):
            tensors[f"{side}_features"] = features.features.half()  # compact: 2 bytes a value is plenty for a head
            tensors[f"{side}_labels"] = features.labels.to(torch.uint8)
            tensors[f"{side}_crops"] = torch.as_tensor(features.crops, dtype=torch.int32)
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
        sides = {side: Features(tensors[f"{side}_features"].float(), tensors[f"{side}_labels"].float(),
                                tensors[f"{side}_crops"].tolist()) for side in ("train", "val")}
        return cls(sides["train"], sides["val"], metadata.get("embedding", ""), json.loads(metadata.get("data", "[]")))


def replay_path(weights: Path) -> Path:
    weights = Path(weights)
    return weights.with_name(weights.name.split(".")[0] + REPLAY_SUFFIX)


def check_adaptable(model: nn.Module, card: ModelCard) -> None:
    if not getattr(model, "splits_at_head", False):
        raise DeepfakeError(f"{card.arch} is not head(embed(image)): adaptation trains a head on frozen features, "
                            f"so it needs a pretrained_* or fused_* architecture such as the shipped mobilenet_v2")


def embed_images(model: nn.Module, card: ModelCard, paths: Sequence[Path], labels: Sequence[int],
                 batch_size: int = 32, workers: Optional[int] = None,
                 on_batch: Callable[[int], None] = lambda n: None,
                 on_failure: Callable[[str], None] = lambda message: None) -> Tuple[Features, List[int]]:
    """Features of every image that decodes, crops as the card scores them, and the indices of those images (a
    file that does not decode is reported and left out)."""
    model.eval()
    dataset = ImagePathDataset(list(paths), EvalTransform(card.preprocessing))
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=min(worker_count(workers), len(paths) // 64),
                        collate_fn=collate_skipping_failures)
    device = next(model.parameters()).device
    features, kept, crops = [], [], []
    with torch.inference_mode():
        for batch in loader:
            for failure in batch.failures:
                on_failure(f"skipped: {failure.message}")
            if batch.indices:
                images = as_model_input(batch.images.to(device))
                features += [model.embed(chunk).float().cpu() for chunk in images.split(CROPS_PER_FORWARD)]
                kept += batch.indices
                crops += batch.crops_per_image
            on_batch(len(batch.indices) + len(batch.failures))
    stacked = torch.cat(features) if features else torch.empty(0)
    return Features(stacked, torch.as_tensor([float(labels[index]) for index in kept]), crops), kept


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


def file_list_sha256(paths: Sequence[Path], labels: Sequence[int]) -> str:
    digest = hashlib.sha256()
    for path, label in sorted((str(path), label) for path, label in zip(paths, labels)):
        digest.update(f"{label}\t{path}\n".encode())
    return digest.hexdigest()


def held_out_images(paths: Sequence[Path], labels: Sequence[int]) -> List[int]:
    """The indices set aside for the threshold: a quarter of each class (at least 2), chosen by a hash of the path,
    so a resumed or repeated run holds out the same images."""
    held = []
    for label in (0, 1):
        indices = sorted((index for index, value in enumerate(labels) if value == label),
                         key=lambda index: hashlib.sha256(str(paths[index]).encode()).hexdigest())
        if indices:
            held += indices[:max(2, round(len(indices) * HELD_OUT_SHARE))]
    return sorted(held)


@dataclass(frozen=True)
class AdaptSettings:
    steps: int = 300
    lr: float = 1e-3
    new_per_step: int = 32  # crops of the new images per step
    replay_per_step: int = 64  # crops of the replay set per step
    anchor: float = 1e-2  # L2-SP: the pull towards the base head's weights
    # > 0: the replay crops' logits are also held to the base head's (squared error, this weight), keeping the
    # old ranking; 0: labels alone, which re-fits them and lost six times more on other families.
    preserve: float = 1.0
    seed: int = 0


def fit_head(head: nn.Module, new: Features, replay: Features, settings: AdaptSettings = AdaptSettings(),
             on_step: Callable[[], None] = lambda: None) -> nn.Module:
    """A copy of `head` trained on the new crops and the replay crops (AdaptSettings says how)."""
    with torch.random.fork_rng(devices=[]):
        # The head's dropout draws from torch's global generator: seeded here (and the caller's state restored
        # after), so the same images and seed give the same file, byte for byte.
        torch.manual_seed(settings.seed)
        return _fit_head(head, new, replay, settings, on_step)


def _fit_head(head: nn.Module, new: Features, replay: Features, settings: AdaptSettings,
              on_step: Callable[[], None]) -> nn.Module:
    generator = torch.Generator().manual_seed(settings.seed)
    head = copy.deepcopy(head).train()
    anchors = [parameter.detach().clone() for parameter in head.parameters()]
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.lr, weight_decay=0.0)
    new_labels, replay_labels = new.crop_labels(), replay.crop_labels()
    with torch.no_grad():
        base_logits = head.eval()(replay.features).reshape(-1)
    head.train()
    for _ in range(settings.steps):
        picked_new = torch.randint(len(new_labels), (settings.new_per_step,), generator=generator)
        picked_old = torch.randint(len(replay_labels), (settings.replay_per_step,), generator=generator)
        # One batch of both, each crop weighing the same: the new images' share of the loss is their share of it.
        features = torch.cat([new.features[picked_new], replay.features[picked_old]])
        logits = head(features).reshape(-1)
        loss = F.binary_cross_entropy_with_logits(logits, torch.cat([new_labels[picked_new],
                                                                     replay_labels[picked_old]]))
        if settings.preserve:
            loss = loss + settings.preserve * F.mse_loss(logits[len(picked_new):], base_logits[picked_old])
        loss = loss + settings.anchor * sum(((p - a) ** 2).sum() for p, a in zip(head.parameters(), anchors))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        on_step()
    return head.eval()


def adapt_model(model: nn.Module, card: ModelCard, replay: Replay, fake_paths: Sequence[Path],
                real_paths: Sequence[Path] = (), base_sha256: str = "", settings: AdaptSettings = AdaptSettings(),
                show_progress: bool = False, log=print) -> Tuple[nn.Module, ModelCard, Replay]:
    """The adapted model (base network, new head), its card (new calibration and threshold, and a record of what
    it was adapted on), and the replay set a later adaptation should use (the base's plus these images)."""
    from tqdm import tqdm
    check_adaptable(model, card)
    fake_paths, real_paths = [Path(path) for path in fake_paths], [Path(path) for path in real_paths]
    for name, given in (("fake", fake_paths), ("real", real_paths)):
        if given and len(given) < MIN_PER_CLASS:
            raise DeepfakeError(f"{len(given)} {name} images given: adaptation needs at least {MIN_PER_CLASS} of "
                                f"a class (a quarter is held out to choose the threshold)")
    if not fake_paths:
        raise DeepfakeError(f"no fake images given: adaptation needs at least {MIN_PER_CLASS} examples of the new "
                            f"generator")
    if replay.embedding != frozen_weights_digest(model):
        raise DeepfakeError("the replay set was computed by another network than this checkpoint's: rebuild it "
                            "with --replay-data")
    paths, labels = fake_paths + real_paths, [1] * len(fake_paths) + [0] * len(real_paths)
    with tqdm(total=len(paths), desc="features of the new images", unit="img", leave=False,
              disable=not show_progress) as bar:
        computed, kept = embed_images(model, card, paths, labels, on_batch=bar.update, on_failure=log)
    paths, labels = [paths[index] for index in kept], [labels[index] for index in kept]  # what decoded
    for label, name in ((1, "fake"), (0, "real")):
        if 0 < labels.count(label) < MIN_PER_CLASS or (label == 1 and not labels.count(label)):
            raise DeepfakeError(f"only {labels.count(label)} of the {name} images could be read: adaptation needs "
                                f"at least {MIN_PER_CLASS}")
    held = held_out_images(paths, labels)
    trained = sorted(set(range(len(paths))) - set(held))
    new_train, new_held = computed.take(trained), computed.take(held)

    with tqdm(total=settings.steps, desc="adapting the head", unit="step", leave=False,
              disable=not show_progress) as bar:
        head = fit_head(model.head, new_train, replay.train, settings, on_step=bar.update)
    adapted = copy.deepcopy(model)
    adapted.head = head

    # Calibration and threshold: the held-out new images plus the base validation split, never a trained image.
    judged = new_held + replay.val
    logits = judged.image_logits(head)
    labels_judged = judged.labels.int().tolist()
    temperature, bias = fit_calibration(labels_judged, logits.tolist())
    rule = card.training.get("threshold_rule", "balanced_accuracy")
    threshold = choose_threshold(labels_judged, fake_probability(logits, temperature, bias).tolist(), rule)

    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "base_sha256": base_sha256, "base_threshold": card.threshold,
        "n_fake": len(fake_paths), "n_real": len(real_paths),
        "n_held_out": {"fake": sum(labels[i] for i in held), "real": sum(1 - labels[i] for i in held)},
        "file_list_sha256": file_list_sha256(paths, labels),
        "replay": {"data": replay.data, "n_train": len(replay.train.crops), "n_val": len(replay.val.crops)},
        "settings": {"steps": settings.steps, "lr": settings.lr, "anchor": settings.anchor, "seed": settings.seed},
    }
    adapted_card = replace(card, threshold=threshold, temperature=temperature, logit_bias=bias,
                           threshold_rule=f"{rule} on a held-out quarter of the adaptation images plus the base "
                                          f"validation split, after Platt scaling fitted on the same images",
                           training=dict(card.training, adaptations=card.training.get("adaptations", []) + [record]))
    return adapted, adapted_card, Replay(replay.train + new_train, replay.val + new_held, replay.embedding,
                                         replay.data + [f"adaptation {record['file_list_sha256'][:12]}"])


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


def save_adapted(out: Path, model: nn.Module, card: ModelCard, replay: Replay) -> None:
    """The adapted checkpoint, and beside it the replay set its own next adaptation starts from."""
    save_model(out, model, card)
    replay.save(replay_path(out))


def adapt_checkpoint(weights: Path, fake_paths: Sequence[Path], real_paths: Sequence[Path], out: Path,
                     replay_data: Sequence[str] = (), settings: AdaptSettings = AdaptSettings(),
                     show_progress: bool = False, log=print) -> Tuple[Path, ModelCard]:
    """Adapt the checkpoint at `weights`, write `out` and its replay file beside it; returns (out, card).

    The base model's replay set is read from beside it, or built from `replay_data` (default: the folders its
    card records, where it records them) and written beside it for the next time."""
    weights, out = Path(weights), Path(out)
    model, card = load_model(weights)
    check_adaptable(model, card)
    stored = replay_path(weights)
    if stored.is_file() and not replay_data:
        replay = Replay.load(stored)
    else:
        folders = list(replay_data) or card.training.get("data_dirs") or []
        if not folders:
            raise DeepfakeError(f"{weights}: no replay set beside it ({stored.name}) and its card does not name its "
                                f"training folders: give them with --replay-data")
        log(f"replay set: features of {weights.name}'s own training split ({', '.join(map(str, folders))}), once")
        replay, stored = write_replay(weights, folders, out, model, card, show_progress, log)
        log(f"replay set written to {stored}")
    adapted, adapted_card, next_replay = adapt_model(model, card, replay, fake_paths, real_paths,
                                                     file_sha256(weights), settings, show_progress, log)
    save_adapted(out, adapted, adapted_card, next_replay)
    return out, adapted_card
