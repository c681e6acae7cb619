"""The training run: split, loaders, epochs, best checkpoint by validation ROC-AUC, resumable state.

Every epoch reseeds torch from (seed, epoch) (and the rank, under torchrun), so shuffling, augmentation and
dropout depend only on those: a run resumed from `last.pt` continues exactly where the interrupted one was.
"""
import csv
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from .. import __version__
from ..checkpoint import (
    ModelCard,
    load_model,
    load_trained_state,
    load_training_state,
    save_model,
    save_training_state,
    trained_state,
)
from ..data.datasets import (
    LabelledImage,
    MIN_VALIDATION_PER_CLASS,
    LabelledImageDataset,
    collate_skipping_failures,
    count_labels,
    load_split,
    worker_count,
)
from ..data.format_blind import FormatChain
from ..data.transforms import (
    NO_AUGMENTATION,
    Augmentation,
    EvalTransform,
    build_train_transform,
)
from ..distributed import Cluster, GlobalBatchSampler, rank_device, start_cluster, stop_cluster
from ..errors import DeepfakeError
from ..preprocessing import Preprocessing
from ..evaluation.metrics import calibrate_on_validation
from ..evaluation.scoring import score
from ..inference.calibration import calibrated_rule
from ..registry import create_model, model_arguments
from .config import TrainConfig
from .ema import ExponentialMovingAverage
from .engine import seed_everything, train_one_epoch
from .feature_cache import FeatureCache, round_name, trains_head_only
from .mixup import Mixup

BEST_CHECKPOINT = "best.safetensors"
TRAINING_STATE = "last.pt"
EPOCH_LOG = "log.csv"
TRAINING_CURVES = "training_curves.png"
FACE_CACHE = "face_cache"
FEATURE_CACHE = "feature_cache"


def with_input_size(arch: str, model_kwargs: Dict, img_size: int) -> Dict:
    """Fixed-size architectures (MesoNet's dense head) take the crop size as `input_size`; others ignore it."""
    if "input_size" in model_arguments(arch):
        return {"input_size": img_size, **model_kwargs}
    return dict(model_kwargs)


def _loader(dataset, workers, seed, device, **batching) -> DataLoader:
    # The generator seeds the worker processes, hence augmentation: reproducible from (seed, epoch, rank).
    return DataLoader(dataset, num_workers=workers, collate_fn=collate_skipping_failures,
                      pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(seed), **batching)


def fit(config: TrainConfig, log=print) -> Path:
    """Train, keep the best epoch by validation ROC-AUC, and return the path of its checkpoint.

    Under torchrun each process runs this same function on its slice of every batch (see distributed.py)."""
    cluster = start_cluster(torch.device(config.device).type)
    try:
        return _fit(config, cluster, log if cluster.is_main else lambda *args, **kwargs: None)
    finally:
        stop_cluster(cluster)


# Settings of the machine a run happens to use rather than of the run: resuming elsewhere may change them.
MACHINE_SETTINGS = ("out_dir", "resume", "device", "show_progress", "workers")


def training_record(config: TrainConfig, **derived) -> Dict:
    """What the checkpoint says of how it was trained: every setting of the run (asdict of the config) and the
    facts derived from them (`derived`: the data's file lists, the augmentation drawn, what the pseudo-fakes
    became). Settings that were not used are recorded too, at their value; only empty derived facts are left out."""
    settings = {name: value for name, value in asdict(config).items() if name not in MACHINE_SETTINGS}
    settings = json.loads(json.dumps(settings, default=str))  # as the checkpoint will hold them: paths as text
    del settings["pseudo_fakes"]  # the methods' names give way to what they made (pseudo_fake_record)
    return dict(settings, **{name: value for name, value in derived.items() if value is not None})


@dataclass
class Prepared:
    """The split after faces are cropped and pseudo-fakes added: what the datasets are built from."""
    train_images: List[LabelledImage]
    val_images: List[LabelledImage]
    set_ids: List[int]  # each training image's --data folder
    data_summary: List[Dict]
    pseudo_fakes: Optional[Dict]


def prepare_images(config: TrainConfig, cluster: Cluster, out_dir: Path, show_progress: bool, log) -> Prepared:
    train_images, val_images, data_summary = load_split(config.data_dirs, config.val_fraction, config.seed,
                                                        config.split_by, config.train_fraction)
    for side, images in (("training", train_images), ("validation", val_images)):
        if not all(count_labels(images).values()):
            raise DeepfakeError(f"the {side} split has {count_labels(images)}: training needs real and fake images "
                                f"in both; add a folder of the missing class to --data")
    if min(count_labels(val_images).values()) < MIN_VALIDATION_PER_CLASS:
        log(f"warning: the validation split holds {count_labels(val_images)}: the calibration, the threshold and "
            f"the metrics are chosen on it, and below {MIN_VALIDATION_PER_CLASS} images per class they are noise "
            f"(precision 1.0 from a handful of fakes, every score calibrated near 0.5); add images or raise "
            f"--val-fraction")
    log(f"data: {len(train_images)} train {count_labels(train_images)}, {len(val_images)} validation "
        f"{count_labels(val_images)}" + (f"; {cluster.world_size} processes" if cluster.distributed else ""))

    set_ids = data_set_ids(train_images, config.data_dirs)
    if config.faces:
        if not cluster.is_main:
            cluster.barrier()  # rank 0 detects the faces once; the others then read its cache
        cropped = crop_faces(train_images + val_images, out_dir / FACE_CACHE, config.face_detector, show_progress,
                             log)
        if cluster.is_main:
            cluster.barrier()
        set_ids = [set_id for image, set_id in zip(train_images, set_ids) if image.path in cropped]
        train_images = [cropped[image.path] for image in train_images if image.path in cropped]
        val_images = [cropped[image.path] for image in val_images if image.path in cropped]
    pseudo_fakes = None
    if config.reals_only or config.pseudo_fakes:
        train_images, set_ids, val_images, pseudo_fakes = add_pseudo_fakes(config, train_images, set_ids, val_images,
                                                                          out_dir, cluster, show_progress, log)
    return Prepared(train_images, val_images, set_ids, data_summary, pseudo_fakes)


@dataclass
class Run:
    """What every epoch works on: the model as trained (`trained`: under DDP, or only its head over cached
    features) and as validated (`evaluated`: the weight average under --ema-decay), and their data."""
    config: TrainConfig
    cluster: Cluster
    device: torch.device
    model: torch.nn.Module
    trained: torch.nn.Module
    ema: Optional[ExponentialMovingAverage]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_set: LabelledImageDataset
    val_set: LabelledImageDataset
    set_ids: Optional[List[int]]  # None unless --balance-sets
    cache: Optional[FeatureCache]  # frozen backbones: the head trains and validates on cached features
    workers: int
    show_progress: bool

    @property
    def evaluated(self) -> torch.nn.Module:
        return self.ema.module if self.ema else self.model

    def sampler(self, epoch: int) -> GlobalBatchSampler:
        """This rank's batches of epoch `epoch`: shuffled by (seed, epoch) alone, so all ranks cut the same ones."""
        return GlobalBatchSampler(len(self.train_set), self.config.batch_size, self.cluster,
                                  self.config.seed * 1000 + epoch, self.set_ids, self.config.epoch_size)

    def round_items(self, round_number: int) -> List[int]:
        """The training images a feature round must hold: every image any of its epochs draws, on any rank."""
        epochs = range(round_number, self.config.epochs, self.config.feature_rounds)
        return sorted(set().union(*(self.sampler(epoch).epoch_order() for epoch in epochs)))

    def train_epoch(self, epoch: int) -> float:
        """One epoch's steps; the mean training loss over every rank's images."""
        config, cluster = self.config, self.cluster
        # Shuffling depends on (seed, epoch) alone, so all ranks cut the same global batches; augmentation
        # and dropout also depend on the rank, since each rank sees different images.
        epoch_seed = config.seed * 1000 + epoch
        rank_seed = epoch_seed * cluster.world_size + cluster.rank
        seed_everything(rank_seed)
        sampler = self.sampler(epoch)
        if self.cache:
            # Round r was drawn with epoch r's seed: the views epoch r would have seen.
            round_number = epoch % config.feature_rounds
            items = self.round_items(round_number)
            views = self.cache.get(round_name(round_number, items, len(self.train_set)),
                                   Subset(self.train_set, items), config.seed * 1000 + round_number,
                                   compute_here=cluster.is_main, wait=cluster.barrier)
            batches = views.training_batches(sampler)
        else:
            batches = _loader(self.train_set, self.workers, rank_seed, self.device, batch_sampler=sampler)
        bar = tqdm(batches, total=len(sampler), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   leave=False, disable=not self.show_progress)
        ema = self.ema
        loss_sum, n_trained = train_one_epoch(self.trained, bar, self.optimizer, self.scheduler, self.device,
                                              on_batch=lambda loss: bar.set_postfix(loss=f"{loss:.3f}"),
                                              amp=config.amp, all_finite=cluster.all_finite,
                                              after_step=(lambda: ema.update(self.model)) if ema else lambda: None,
                                              mix=Mixup(config.mixup_alpha) if config.mixup_alpha else None)
        loss_sum, n_trained = cluster.sum(loss_sum, n_trained)
        return loss_sum / max(n_trained, 1)

    def validate(self):
        """Every rank scores its slice of validation; the gathered scores are calibrated and thresholded."""
        config, cluster = self.config, self.cluster
        if self.cache:
            crops = self.cache.get(f"validation-rank{cluster.rank}of{cluster.world_size}", self.val_set, config.seed)
            batches, scored = crops.evaluation_batches(config.batch_size), self.evaluated.head
        else:
            batches = _loader(self.val_set, self.workers, config.seed, self.device, batch_size=config.batch_size)
            scored = self.evaluated
        bar = tqdm(batches, desc="validating", unit="batch", leave=False, disable=not self.show_progress)
        local_scores = score(scored, bar, self.device, amp=config.amp)
        gathered = cluster.gather((local_scores.labels, local_scores.logits))
        labels = [label for rank_labels, _ in gathered for label in rank_labels]
        logits = [logit for _, rank_logits in gathered for logit in rank_logits]
        return calibrate_on_validation(labels, logits, config.threshold_rule)


def _fit(config: TrainConfig, cluster: Cluster, log) -> Path:
    out_dir = Path(config.out_dir)
    device = rank_device(torch.device(config.device), cluster)
    show_progress = config.show_progress and cluster.is_main
    prepared = prepare_images(config, cluster, out_dir, show_progress, log)
    seed_everything(config.seed)  # the same initial weights on every rank
    model_kwargs = with_input_size(config.arch, config.model_kwargs, config.img_size)
    model = create_model(config.arch, **model_kwargs)
    initialised_from = initialise_cnn_branch(model, config.init_cnn) if config.init_cnn else None
    branches_from = initialise_branches(model, config.init_branches) if config.init_branches else None
    started_from = initialise_model(model, config.arch, config.init_from) if config.init_from else None
    preprocessing = Preprocessing(input_size=config.img_size, eval_crops=config.eval_crops, resize=config.resize,
                                  faces=config.faces or config.face_crops, mirror_views=config.mirror_views,
                                  global_view=model.global_view)
    augmentation = (Augmentation.each_with_probability(config.augment_probability, config.reframe_probability,
                                                      config.relight_probability)
                    if config.augment else NO_AUGMENTATION)
    format_chain = FormatChain() if config.format_blind else None
    train_set = LabelledImageDataset(prepared.train_images,
                                     build_train_transform(preprocessing, augmentation, format_chain))
    # Each rank scores every world_size-th validation image; the scores are gathered before any metric.
    val_set = LabelledImageDataset(prepared.val_images[cluster.rank::cluster.world_size], EvalTransform(preprocessing))
    workers = worker_count(config.workers)

    model = model.to(device, memory_format=torch.channels_last)
    # With everything but the head frozen, the head trains on features computed once (feature_cache.py).
    head_only = trains_head_only(model)
    if head_only and config.mixup_alpha:
        raise DeepfakeError("--mixup blends images, but with a frozen backbone the head trains on cached features; "
                            "drop --mixup or fine-tune (--trainable-blocks)")
    trained = model.head if head_only else model
    if cluster.distributed:
        if device.type == "cuda":
            trained = torch.nn.SyncBatchNorm.convert_sync_batchnorm(trained)
        trained = DistributedDataParallel(trained, device_ids=[device.index] if device.type == "cuda" else None)
    # The average is what gets validated, calibrated and saved as best.safetensors; training steps the model.
    ema = ExponentialMovingAverage(model, config.ema_decay) if config.ema_decay else None
    groups = parameter_groups(model, config.lr, config.layer_decay)
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    set_ids = prepared.set_ids if config.balance_sets else None
    steps_per_epoch = len(GlobalBatchSampler(len(train_set), config.batch_size, cluster, config.seed, set_ids,
                                             config.epoch_size))
    if steps_per_epoch == 0:
        raise DeepfakeError(f"too few training images ({len(train_set)}) for {cluster.world_size} processes")
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[group["lr"] for group in groups],
                                                    pct_start=0.15,
                                                    total_steps=config.epochs * steps_per_epoch)
    training = training_record(
        config, data=prepared.data_summary, augmentation=asdict(augmentation), processes=cluster.world_size,
        torch_version=str(torch.__version__),
        trainable_parameters=sum(p.numel() for group in groups for p in group["params"]),
        format_chain=format_chain.to_dict() if format_chain else None, pseudo_fakes=prepared.pseudo_fakes,
        cnn_initialised_from=initialised_from, branches_initialised_from=branches_from, initialised_from=started_from)
    cache = None
    if head_only:
        cache = FeatureCache(out_dir / FEATURE_CACHE, model, {
            "arch": config.arch, "model_kwargs": model_kwargs, "data": prepared.data_summary, "seed": config.seed,
            "preprocessing": preprocessing.to_dict(), "augmentation": asdict(augmentation), "amp": config.amp,
            **({"format_chain": format_chain.to_dict()} if format_chain else {}),
            "faces": config.faces, "pseudo_fakes": prepared.pseudo_fakes}, device, config.batch_size, workers,
            config.amp, show_progress)
    run = Run(config, cluster, device, model, trained, ema, optimizer, scheduler, train_set, val_set, set_ids, cache,
              workers, show_progress)
    start_epoch, best_auc, history = 0, -1.0, []
    if config.resume:
        start_epoch, best_auc, history = resume(run, training)
        log(f"resumed from {config.resume} after epoch {start_epoch} (best validation ROC-AUC {best_auc:.4f})")

    started = time.time()
    try:
        for epoch in range(start_epoch, config.epochs):
            epoch_started = time.time()
            train_loss = run.train_epoch(epoch)
            validation = run.validate()
            val_metrics, threshold = validation.metrics, validation.threshold
            row = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "val_roc_auc": val_metrics["roc_auc"],
                   "val_accuracy": round(val_metrics["accuracy"], 5), "threshold": round(threshold, 5),
                   "temperature": round(validation.temperature, 4), "logit_bias": round(validation.bias, 4),
                   "val_ece": round(val_metrics["expected_calibration_error"], 4),
                   "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - epoch_started, 1)}
            history.append(row)
            improved = (val_metrics["roc_auc"] or 0.0) > best_auc
            if improved:
                best_auc = val_metrics["roc_auc"] or 0.0
            if cluster.is_main:
                card = ModelCard(arch=config.arch, model_kwargs=model_kwargs, preprocessing=preprocessing,
                                 threshold=threshold, threshold_rule=calibrated_rule(config.threshold_rule),
                                 temperature=validation.temperature, logit_bias=validation.bias,
                                 training=dict(training, best_epoch=epoch + 1, history=history),
                                 validation_metrics=val_metrics, package_version=__version__)
                save_epoch(out_dir, model, ema, optimizer, scheduler, card, history, best_auc, training, improved,
                           f"{config.arch} on {', '.join(entry['name'] for entry in prepared.data_summary)}")
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


def resume(run: Run, training: Dict) -> "tuple[int, float, List[Dict]]":
    """Restore an interrupted run from its last.pt after checking that it is the same run: (epochs done, best
    validation ROC-AUC, history)."""
    config = run.config
    state = load_training_state(config.resume)
    check_same_run(config, state, training)
    load_trained_state(run.model, state["model"], Path(config.resume), config.arch)
    if run.ema:
        run.ema.load_state_dict(state["ema"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    return state["epoch"], state["best_auc"], state["history"]


def check_same_run(config: TrainConfig, state: Dict, training: Dict) -> None:
    """Refuse to continue a run under settings that would make it another run: other data, pseudo-fakes, codec
    chain, schedule length or weight average."""
    recorded = state.get("training", {})
    if recorded.get("data") != training["data"]:
        raise DeepfakeError(f"{config.resume}: was trained on different data (file lists differ); "
                            f"resume with the same --data, --val-fraction and --seed")
    if recorded.get("pseudo_fakes") != training.get("pseudo_fakes"):
        raise DeepfakeError(f"{config.resume}: was trained with other pseudo-fakes or --reals-only; resume "
                            f"with the same --pseudo-fakes and --reals-only")
    if recorded.get("format_chain") != training.get("format_chain"):
        raise DeepfakeError(f"{config.resume}: was started {'with' if recorded.get('format_chain') else 'without'}"
                            f" --format-blind; resume the same way")
    schedule = (recorded.get("epochs"), recorded.get("batch_size"), bool(recorded.get("balance_sets")),
                recorded.get("epoch_size", 0))
    if schedule != (config.epochs, config.batch_size, config.balance_sets, config.epoch_size):
        # The one-cycle schedule spans the whole run (epochs x batches per epoch, which --balance-sets
        # changes); a different length would be a different run, and the scheduler would overrun.
        raise DeepfakeError(f"{config.resume}: was started with --epochs {schedule[0]} --batch-size "
                            f"{schedule[1]}{' --balance-sets' if schedule[2] else ' without --balance-sets'}"
                            f"{f' --epoch-size {schedule[3]}' if schedule[3] else ''}; "
                            f"resume with the same values")
    started_decay = state["ema"]["decay"] if "ema" in state else 0.0
    if started_decay != config.ema_decay:
        raise DeepfakeError(f"{config.resume}: was started with --ema-decay {started_decay:g}; "
                            f"resume with the same value")


def save_epoch(out_dir: Path, model, ema: Optional[ExponentialMovingAverage], optimizer, scheduler, card: ModelCard,
               history: List[Dict], best_auc: float, training: Dict, improved: bool, curves_title: str) -> None:
    """Everything an epoch leaves on disk; each file is replaced atomically, the best model only if it improved.

    best.safetensors holds the weights that were validated, which under --ema-decay are the moving average;
    last.pt holds both the trained weights (to resume from) and the average (what load_model reads from it)."""
    evaluated = ema.module if ema else model
    if improved:
        save_model(out_dir / BEST_CHECKPOINT, evaluated, card)
    state = {"model": trained_state(model), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": len(history), "best_auc": best_auc, "history": history, "training": training,
             "model_card": card.to_json()}
    if ema:
        state["ema"] = ema.state_dict()
    save_training_state(out_dir / TRAINING_STATE, state)
    write_epoch_log(out_dir / EPOCH_LOG, history)
    draw_training_curves(history, out_dir / TRAINING_CURVES, curves_title)


def draw_training_curves(history: List[Dict], path: Path, title: str) -> None:
    """The curves beside the checkpoint, when matplotlib (the report extra) is there; log.csv holds the same
    numbers, so a plain install trains all the same."""
    try:
        from ..reporting.plots import save_training_curves
    except DeepfakeError:  # extras.needs: matplotlib is not installed
        return
    save_training_curves(history, path, title)


def parameter_groups(model: torch.nn.Module, lr: float, layer_decay: float = 1.0) -> List[Dict]:
    """AdamW groups of the trainable parameters. With a pretrained backbone (`parameter_depths`, models/base.py) and
    layer_decay < 1, stage d of D learns at lr * layer_decay ** (D - d): the earlier a stage, the more
    general its features and the less they should move (BEiT's layer-wise decay)."""
    by_scale: Dict[float, List] = {}
    for _, parameter, depth, deepest in model.parameter_depths():
        if parameter.requires_grad:
            by_scale.setdefault(layer_decay ** (deepest - depth), []).append(parameter)
    return [{"params": params, "lr": lr * scale} for scale, params in sorted(by_scale.items(), reverse=True)]


def initialise_cnn_branch(model: torch.nn.Module, weights: str) -> Dict:
    """Copy a CNN checkpoint's features (an artifact CNN's convolutions, a MobileNetV2 detector's backbone) into a
    fused model's CNN branch (its head is not used).
    Returns what the new checkpoint records of where they came from."""
    if not hasattr(model, "cnn"):
        raise DeepfakeError("--init-cnn needs a fused architecture (fused_*), which has a CNN branch")
    source, card = load_model(weights)
    features = {name: tensor for name, tensor in source.state_dict().items() if not name.startswith("head.")}
    try:
        model.cnn.load_state_dict(features)
    except RuntimeError as error:
        raise DeepfakeError(f"{weights}: its {card.arch} does not fit the fused model's CNN branch "
                            f"({str(error).splitlines()[0]}); pass --model-kwargs cnn={card.arch}") from None
    return start_record(weights, card)


def initialise_branches(model: torch.nn.Module, weights_by_branch: Dict[str, str]) -> Dict:
    """Copy trained checkpoints' features into a two-view model's branches (models/two_view.py), each of the
    architecture the branch is, and seen through the view the branch reads. Returns what the new checkpoint
    records of each, as --init-from does."""
    branches = model.branches() if hasattr(model, "branches") else {}
    records = {}
    for name, weights in weights_by_branch.items():
        if name not in branches:
            raise DeepfakeError(f"--init-branch {name}={weights}: this architecture has "
                                f"{'branches ' + ', '.join(branches) if branches else 'no branches'}")
        source, card = load_model(weights)
        view = model.global_view if name == "global" else 0
        if card.preprocessing.resize != view:
            raise DeepfakeError(f"{weights}: trained on images resized to {card.preprocessing.resize or 'native'} "
                                f"px, and the {name} branch reads {view or 'native'} px")
        features = {key: tensor for key, tensor in source.state_dict().items() if not key.startswith("head.")}
        try:
            branches[name].load_state_dict(features)
        except RuntimeError as error:
            raise DeepfakeError(f"{weights}: its {card.arch} does not fit the {name} branch "
                                f"({str(error).splitlines()[0]})") from None
        records[name] = start_record(weights, card)
    return records


SPLIT_SETTINGS = ("seed", "val_fraction", "split_by")  # with a folder's files, they decide its split


def initialise_model(model: torch.nn.Module, arch: str, weights: str) -> Dict:
    """Copy every weight of a trained checkpoint of the same architecture into the new model, head included:
    the run fine-tunes that detector on its --data (the optimiser and schedule start afresh, unlike --resume).
    Returns what the new checkpoint records of it, its training data included, so that the card can say what
    the model has seen in all."""
    source, card = load_model(weights)
    if card.arch != arch:
        raise DeepfakeError(f"{weights}: --init-from needs a checkpoint of --arch {arch}, and this one is {card.arch}")
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as error:
        raise DeepfakeError(f"{weights}: its weights do not fit this {arch} ({str(error).splitlines()[0]}); "
                            f"pass the --model-kwargs it was trained with") from None
    return start_record(weights, card)


def start_record(weights: str, card) -> Dict:
    """What a checkpoint records of the one it started from: its data, and how that data was split (so that
    a card can check that no image one run validated on trained the other), and its preprocessing."""
    return {"weights": str(weights), "arch": card.arch, "data": card.training.get("data"),
            "split": {name: card.training.get(name) for name in SPLIT_SETTINGS},
            "preprocessing": card.preprocessing.to_dict()}


def data_set_ids(images: Sequence[LabelledImage], data_dirs: Sequence[str]) -> List[int]:
    """For each image, the index of the --data folder it came from."""
    roots = [Path(os.path.abspath(root)) for root in data_dirs]  # abspath: symlinked files stay in their set
    return [next(i for i, root in enumerate(roots) if Path(os.path.abspath(image.path)).is_relative_to(root))
            for image in images]


def add_pseudo_fakes(config: TrainConfig, train_images, set_ids, val_images, out_dir: Path, cluster: Cluster,
                     show_progress: bool, log):
    """The training side gains a pseudo-fake per real image and method. Under --reals-only the sets' fakes
    are dropped from both sides, and validation's reals get pseudo-fakes too: the best epoch and the threshold
    are then chosen without any real fake, and evaluate.py --split val scores the held-back reals against the
    sets' real fakes. Rank 0 makes the images; the others wait and read its cache."""
    from ..synthesis.training import pseudo_fake_record, reals_only, with_pseudo_fakes
    cache_dir = Path(config.pseudo_fake_cache) if config.pseudo_fake_cache else out_dir / "pseudo_fakes"
    val_ids = [0] * len(val_images)
    if config.reals_only:
        train_images, set_ids = reals_only(train_images, set_ids)
        val_images, val_ids = reals_only(val_images, val_ids)
    if not cluster.is_main:
        cluster.barrier()
    # `log` is already silent on ranks other than 0 (fit), and so is the progress bar.
    train_images, set_ids, n_train = with_pseudo_fakes(train_images, set_ids, config.pseudo_fakes, cache_dir,
                                                       config.taef2, show_progress, log, " (training)")
    n_val = 0
    if config.reals_only:
        val_images, _, n_val = with_pseudo_fakes(val_images, val_ids, config.pseudo_fakes, cache_dir, config.taef2,
                                                 show_progress, log, " (validation)")
    if cluster.is_main:
        cluster.barrier()
    if config.reals_only and not (n_train and n_val):
        raise DeepfakeError("--reals-only needs --pseudo-fakes: without them there is no fake to learn from")
    log(f"pseudo-fakes ({', '.join(config.pseudo_fakes)}): {n_train} for training, {n_val} for validation"
        + ("; the sets' own fakes left out (--reals-only)" if config.reals_only else "") + f"; cache {cache_dir}")
    return train_images, set_ids, val_images, pseudo_fake_record(config.pseudo_fakes, config.reals_only, n_train,
                                                                 n_val)


def crop_faces(images, cache_dir: Path, detector_name: str, show_progress: bool, log) -> Dict[Path, LabelledImage]:
    """Each image's cached face crop (detected on the first run only), by original path; unreadable ones left out."""
    from ..faces.detectors import FaceCropCache
    cache = FaceCropCache(cache_dir, detector_name)
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
        # Union of the rows' keys: a run resumed across a package upgrade may have gained a column.
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(key for row in history for key in row)))
        writer.writeheader()
        writer.writerows(history)
