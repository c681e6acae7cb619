"""The training run: split, loaders, epochs, best checkpoint by validation ROC-AUC, resumable state.

Every epoch reseeds torch from (seed, epoch), so shuffling, augmentation and dropout depend only on the
seed and the epoch number: a run resumed from `last.pt` continues exactly where the interrupted one was.
"""
import csv
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import __version__
from .checkpoint import ModelCard, load_training_state, save_model, save_training_state
from .data import (LabelledImage, LabelledImageDataset, collate_skipping_failures, count_labels, load_split,
                   worker_count)
from .engine import score, train_one_epoch
from .errors import DeepfakeError
from .metrics import binary_metrics, choose_threshold
from .plots import save_training_curves
from .registry import create_model
from .transforms import NO_AUGMENTATION, Augmentation, EvalTransform, Preprocessing, build_train_transform

BEST_CHECKPOINT = "best.safetensors"
TRAINING_STATE = "last.pt"
EPOCH_LOG = "log.csv"
TRAINING_CURVES = "training_curves.png"
FACE_CACHE = "face_cache"


@dataclass
class TrainConfig:
    data_dirs: Sequence[str]
    out_dir: str = "runs/train"
    arch: str = "artifact_cnn"
    model_kwargs: Dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    img_size: int = 128
    eval_crops: int = 5
    resize: int = 0
    faces: bool = False
    val_fraction: float = 0.2
    seed: int = 0
    workers: Optional[int] = None
    split_by: str = "folder"
    threshold_rule: str = "balanced_accuracy"
    augment: bool = True
    resume: Optional[str] = None
    device: str = "cuda" if torch.cuda.is_available() else "cpu"
    show_progress: bool = True


def with_input_size(arch: str, model_kwargs: Dict, img_size: int) -> Dict:
    """Fixed-size architectures (MesoNet's dense head) take the crop size as `input_size`; others ignore it."""
    import inspect
    from .registry import model_builder
    if "input_size" in inspect.signature(model_builder(arch)).parameters:
        return {"input_size": img_size, **model_kwargs}
    return dict(model_kwargs)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _loader(dataset, batch_size, shuffle, workers, seed, device) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                      collate_fn=collate_skipping_failures, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(seed), drop_last=False)


def fit(config: TrainConfig, log=print) -> Path:
    """Train, keep the best epoch by validation ROC-AUC, and return the path of its checkpoint."""
    out_dir = Path(config.out_dir)
    device = torch.device(config.device)
    train_images, val_images, data_summary = load_split(config.data_dirs, config.val_fraction, config.seed,
                                                        config.split_by)
    log(f"data: {len(train_images)} train {count_labels(train_images)}, {len(val_images)} validation "
        f"{count_labels(val_images)}")

    if config.faces:
        cropped = crop_faces(train_images + val_images, out_dir / FACE_CACHE, config.show_progress, log)
        train_images = [cropped[image.path] for image in train_images if image.path in cropped]
        val_images = [cropped[image.path] for image in val_images if image.path in cropped]
    preprocessing = Preprocessing(input_size=config.img_size, eval_crops=config.eval_crops, resize=config.resize,
                                  faces=config.faces)
    augmentation = Augmentation() if config.augment else NO_AUGMENTATION
    train_set = LabelledImageDataset(train_images, build_train_transform(preprocessing, augmentation))
    val_set = LabelledImageDataset(val_images, EvalTransform(preprocessing))
    workers = worker_count(config.workers)

    seed_everything(config.seed)
    model_kwargs = with_input_size(config.arch, config.model_kwargs, config.img_size)
    model = create_model(config.arch, **model_kwargs).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(train_set) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, pct_start=0.15,
                                                    total_steps=config.epochs * steps_per_epoch)
    training = {
        "data": data_summary, "seed": config.seed, "val_fraction": config.val_fraction,
        "split_by": config.split_by, "epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr,
        "weight_decay": config.weight_decay, "augmentation": asdict(augmentation),
        "torch_version": str(torch.__version__),
    }
    start_epoch, best_auc, history = 0, -1.0, []
    if config.resume:
        state = load_training_state(config.resume)
        recorded = state.get("training", {})
        if recorded.get("data") != data_summary:
            raise DeepfakeError(f"{config.resume}: was trained on different data (file lists differ); "
                                f"resume with the same --data, --val-fraction and --seed")
        if recorded.get("epochs") != config.epochs or recorded.get("batch_size") != config.batch_size:
            # The one-cycle schedule spans the whole run; a different length would be a different run.
            raise DeepfakeError(f"{config.resume}: was started with --epochs {recorded.get('epochs')} "
                                f"--batch-size {recorded.get('batch_size')}; resume with the same values")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best_auc, history = state["epoch"], state["best_auc"], state["history"]
        log(f"resumed from {config.resume} after epoch {start_epoch} (best validation ROC-AUC {best_auc:.4f})")

    started = time.time()
    try:
        for epoch in range(start_epoch, config.epochs):
            seed_everything(config.seed * 1000 + epoch)
            epoch_started = time.time()
            train_loader = _loader(train_set, config.batch_size, True, workers, config.seed * 1000 + epoch, device)
            bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False,
                       disable=not config.show_progress)
            train_loss = train_one_epoch(model, bar, optimizer, scheduler, device,
                                         on_batch=lambda loss: bar.set_postfix(loss=f"{loss:.3f}"))
            val_loader = _loader(val_set, config.batch_size, False, workers, config.seed, device)
            val_bar = tqdm(val_loader, desc="validating", unit="batch", leave=False, disable=not config.show_progress)
            val_scores = score(model, val_bar, device)
            threshold = choose_threshold(val_scores.labels, val_scores.fake_probabilities, config.threshold_rule)
            val_metrics = binary_metrics(val_scores.labels, val_scores.fake_probabilities, threshold)
            row = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "val_roc_auc": val_metrics["roc_auc"],
                   "val_accuracy": round(val_metrics["accuracy"], 5), "threshold": round(threshold, 5),
                   "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - epoch_started, 1)}
            history.append(row)
            improved = (val_metrics["roc_auc"] or 0.0) > best_auc
            card = ModelCard(arch=config.arch, model_kwargs=model_kwargs, preprocessing=preprocessing,
                             threshold=threshold, threshold_rule=f"{config.threshold_rule} on the validation split",
                             training=dict(training, best_epoch=epoch + 1, history=history),
                             validation_metrics=val_metrics, package_version=__version__)
            if improved:
                best_auc = val_metrics["roc_auc"] or 0.0
                save_model(out_dir / BEST_CHECKPOINT, model, card)
            save_training_state(out_dir / TRAINING_STATE, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1, "best_auc": best_auc, "history": history, "training": training,
                "model_card": card.to_json()})
            write_epoch_log(out_dir / EPOCH_LOG, history)
            save_training_curves(history, out_dir / TRAINING_CURVES,
                                 f"{config.arch} on {', '.join(entry['name'] for entry in data_summary)}")
            auc_text = "n/a" if val_metrics["roc_auc"] is None else f"{val_metrics['roc_auc']:.4f}"
            log(f"epoch {epoch + 1}/{config.epochs}: loss {train_loss:.4f}, val ROC-AUC {auc_text}, "
                f"accuracy {val_metrics['accuracy']:.4f} at threshold {threshold:.3f}, {row['seconds']:.0f}s"
                + ("  [best, saved]" if improved else ""))
    except KeyboardInterrupt:
        # last.pt is rewritten only at the end of an epoch, so it is whole and consistent: resume from there.
        log(f"interrupted during epoch {len(history) + 1}; {out_dir / TRAINING_STATE} holds the state after "
            f"epoch {len(history)}: continue with the same command plus --resume")
        raise
    log(f"done in {time.time() - started:.0f}s; best validation ROC-AUC {best_auc:.4f}; "
        f"checkpoint {out_dir / BEST_CHECKPOINT}")
    return out_dir / BEST_CHECKPOINT


def crop_faces(images, cache_dir: Path, show_progress: bool, log) -> Dict[Path, LabelledImage]:
    """Each image's cached face crop (detected on the first run only), by original path; unreadable ones left out."""
    from .faces import FaceCropCache
    cache = FaceCropCache(cache_dir)
    cropped, without_face = {}, 0
    for image in tqdm(images, desc="face crops", unit="img", leave=False, disable=not show_progress):
        try:
            path, found = cache.crop(image.path)
        except DeepfakeError as error:
            log(f"skipped: {error}")
            continue
        without_face += not found
        cropped[image.path] = replace(image, path=path)
    log(f"faces: {len(cropped) - without_face} of {len(cropped)} images cropped to a face; "
        f"{without_face} used whole (no face found); cache {cache_dir}")
    return cropped


def write_epoch_log(path: Path, history: List[Dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
