"""adapt_model: the new images' features, a quarter of each class held out, the head trained on the rest with
the replay set, then calibration and the threshold chosen afresh on the held-out images plus the base model's
validation features (evaluation's calibrate_on_validation), never on an image the head trained on; the card
records what it was adapted on. adapt_checkpoint does the same from and to files."""
import copy
import datetime
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import List, Sequence, Tuple

import torch.nn as nn

from ..checkpoint import ModelCard, file_sha256, load_model, save_model
from ..data.datasets import file_list_sha256
from ..errors import DeepfakeError
from ..evaluation.metrics import calibrate_on_validation
from ..models.base import frozen_weights_digest
from .features import MIN_PER_CLASS, check_adaptable, embed_images
from .head import AdaptSettings, fit_head
from .replay import Replay, replay_path, write_replay

HELD_OUT_SHARE = 0.25  # of each class of new images, for the threshold and calibration only


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
    rule = card.training.get("threshold_rule", "balanced_accuracy")
    calibrated = calibrate_on_validation(labels_judged, logits.tolist(), rule)
    temperature, bias, threshold = calibrated.temperature, calibrated.bias, calibrated.threshold

    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "base_sha256": base_sha256, "base_threshold": card.threshold,
        "n_fake": len(fake_paths), "n_real": len(real_paths),
        "n_held_out": {"fake": sum(labels[i] for i in held), "real": sum(1 - labels[i] for i in held)},
        "file_list_sha256": file_list_sha256((str(path), label) for path, label in zip(paths, labels)),
        "replay": {"data": replay.data, "n_train": len(replay.train.crops_per_image),
                   "n_val": len(replay.val.crops_per_image)},
        "settings": {"steps": settings.steps, "lr": settings.lr, "anchor": settings.anchor, "seed": settings.seed},
    }
    adapted_card = replace(card, threshold=threshold, temperature=temperature, logit_bias=bias,
                           threshold_rule=f"{rule} on a held-out quarter of the adaptation images plus the base "
                                          f"validation split, after Platt scaling fitted on the same images",
                           training=dict(card.training, adaptations=card.training.get("adaptations", []) + [record]))
    return adapted, adapted_card, Replay(replay.train + new_train, replay.val + new_held, replay.embedding,
                                         replay.data + [f"adaptation {record['file_list_sha256'][:12]}"])


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


def adapt_detector(detector, fake_paths: Sequence[Path], real_paths: Sequence[Path] = (), replay=None, out=None,
                   settings=None, show_progress: bool = False, log=print):
    """Detector.adapt: a new Detector taught the generator of `fake_paths`, with the same device and evidence
    settings; the replay set is the one beside the detector's weights unless `replay` is given."""
    from ..inference.detector import Detector
    if replay is None:
        stored = replay_path(detector.weights) if detector.weights else None
        if stored is None or not stored.is_file():
            raise DeepfakeError(f"no replay set beside {detector.weights or 'this detector'}: build it once with "
                                f"python -m deepfake.adapt --replay-data FOLDERS, or pass replay=")
        replay = Replay.load(stored)
    model, card, next_replay = adapt_model(detector.model, detector.card, replay, fake_paths, real_paths,
                                           file_sha256(detector.weights) if detector.weights else "",
                                           settings or AdaptSettings(), show_progress, log)
    if out is not None:
        save_adapted(Path(out), model, card, next_replay)
    return Detector(model, card, detector.device, detector.amp, detector.evidence_mode, detector.trust_anchors,
                    weights=out)
