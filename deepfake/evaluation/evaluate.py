"""Scoring checkpoints on labelled folders: the metrics reports behind evaluate.py."""
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoint import ModelCard
from ..data.datasets import (
    DecodeFailure,
    LabelledImageDataset,
    collate_skipping_failures,
    discover_roots,
    select_split,
    worker_count,
)
from ..distributed import Cluster, default_device, rank_device
from ..errors import DeepfakeError
from ..inference.aggregate import AGGREGATIONS
from ..inference.detector import Detector, load_detector
from .metrics import binary_metrics
from .scoring import Scores, score

# A checkpoint that records no split (a converted peer model) is split with the training defaults, so that its
# "val" is the same images as a model trained now. Every checkpoint this project trains records its own.
DEFAULT_SPLIT = {"seed": 0, "val_fraction": 0.2, "split_by": "source", "train_fraction": 1.0}


def recorded_split(card: ModelCard) -> Dict:
    """How the checkpoint's training split its data (DEFAULT_SPLIT's keys), so "val" and "train" mean its own."""
    return {key: card.training.get(key, default) for key, default in DEFAULT_SPLIT.items()}


@dataclass
class Evaluation:
    """The metrics of one checkpoint, and the per-image scores behind them (for plots and reports)."""
    report: Dict
    paths: List[Path]
    labels: List[int]
    fake_probabilities: List[float]
    card: ModelCard


def evaluate_checkpoints(weights: Sequence, data_dirs: Sequence, split: str = "all", batch_size: int = 32,
                         workers: Optional[int] = None, threshold: Optional[float] = None,
                         show_progress: bool = True, on_failure: Callable[[str], None] = lambda message: None,
                         robustness: bool = False, stress: Optional[Callable[[Detector, list], Dict]] = None,
                         per_video: Optional[str] = None, cluster: Cluster = Cluster(),
                         device: Optional[str] = None, amp: bool = False) -> List[Evaluation]:
    """One evaluation per checkpoint, all on the same folders (scanned once). Under torchrun (`cluster`), the
    ranks share the scoring and rank 0 gets the evaluations; the others get [].

    split="val" or "train" takes the side of the split each checkpoint recorded when it was trained;
    robustness=True adds the degradation table to each report (under "robustness"); stress, a function
    (detector, images) -> report (evaluate.py passes stress.stress_sweep with its options; this module does not
    import the sweep, which is built on it), adds that report under "stress"; per_video, a key of
    AGGREGATIONS, adds metrics over videos (under "per_video": see video_level_report). A .onnx file runs on
    onnxruntime (the onnx backend); `amp` scores in bfloat16.
    """
    if cluster.distributed and (robustness or stress is not None):
        raise DeepfakeError("--robustness and --stress run in one process: run evaluate.py without torchrun")
    images_by_root = discover_roots(data_dirs)
    # A video is a sub-folder of a class folder within one --data folder: two folders may both hold real/000.
    video_of = ({image.path: (root, image.group) for root, images in images_by_root.items() for image in images}
                if per_video else {})
    evaluations = []
    for checkpoint in weights:
        backend = "onnx" if Path(checkpoint).suffix == ".onnx" else "torch"
        detector = load_detector(checkpoint, str(rank_device(default_device(device), cluster)) if backend == "torch"
                                 else None, backend, amp)
        recorded = recorded_split(detector.card)
        images = select_split(images_by_root, split, **recorded)
        evaluation = evaluate_detector(detector, images, batch_size, workers, threshold,
                                       show_progress and cluster.is_main, on_failure, name=Path(checkpoint).name,
                                       cluster=cluster)
        if evaluation is None:
            continue  # another rank's share, merged on rank 0
        evaluation.report.update({"weights": str(checkpoint), "data": [str(d) for d in data_dirs], "split": split})
        if per_video:
            evaluation.report["per_video"] = video_level_report(evaluation, video_of, per_video)
        if robustness:
            evaluation.report["robustness"] = robustness_table(detector, images, batch_size, workers, show_progress,
                                                               clean=evaluation)
        if stress is not None:
            evaluation.report["stress"] = stress(detector, images)
        evaluations.append(evaluation)
    return evaluations


def evaluate_detector(detector: Detector, images, batch_size: int = 32, workers: Optional[int] = None,
                      threshold: Optional[float] = None, show_progress: bool = True,
                      on_failure: Callable[[str], None] = lambda message: None, name: str = "model",
                      transform: Optional[Callable] = None, cluster: Cluster = Cluster()) -> Optional[Evaluation]:
    """Score labelled images; `transform` replaces the detector's own (to perturb images first, say).

    Under torchrun (`cluster`), each rank scores a shard and rank 0 gathers every score before any metric, so
    the figures are one process's; other ranks return None."""
    images = list(images)
    dataset = LabelledImageDataset(cluster.shard(images), transform or detector.transform)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=worker_count(workers),
                        collate_fn=collate_skipping_failures)
    started = time.time()
    with tqdm(total=len(dataset), desc=f"scoring {name}", unit="img", leave=False, disable=not show_progress) as bar:
        scores = score(detector.model, loader, detector.device, amp=detector.amp,
                       to_probability=detector.probability_from_logits,
                       on_batch=lambda batch: bar.update(len(batch.indices) + len(batch.failures)))
    seconds = time.time() - started
    if cluster.distributed:
        scores = merged_scores(cluster, scores, len(dataset))
        if scores is None:
            return None
    for failure in scores.failures:
        on_failure(failure.message)
    if not scores.indices:
        raise DeepfakeError(f"none of the {len(images)} images could be read")
    report = binary_metrics(scores.labels, scores.fake_probabilities,
                            detector.threshold if threshold is None else threshold)
    report.update({
        "arch": detector.card.arch,
        "threshold_rule": detector.card.threshold_rule if threshold is None else "set by --threshold",
        "n_failed": len(scores.failures),
        "images_per_second": round(len(scores.indices) / max(seconds, 1e-9), 1),
    })
    # Indices are the shard's in one process and, merged, the whole list's: both index `images` (one shard is all)
    return Evaluation(report, [images[i].path for i in scores.indices], scores.labels,
                      scores.fake_probabilities, detector.card)


def merged_scores(cluster: Cluster, scores: Scores, n_local: int) -> Optional[Scores]:
    """Every rank's shard of scores, back in the order of the unsharded list, on rank 0 (None elsewhere)."""
    per_image: list = [None] * n_local
    for index, label, logit, probability in zip(scores.indices, scores.labels, scores.logits,
                                                scores.fake_probabilities):
        per_image[index] = (label, logit, probability)
    for failure in scores.failures:
        per_image[failure.index] = failure.message
    merged = cluster.merge_shards(per_image)
    if not cluster.is_main:
        return None
    whole = Scores()
    for index, item in enumerate(merged):
        if isinstance(item, str):
            whole.failures.append(DecodeFailure(index, item))
        else:
            whole.indices.append(index)
            whole.labels.append(item[0])
            whole.logits.append(item[1])
            whole.fake_probabilities.append(item[2])
    return whole


def video_level_report(evaluation: Evaluation, video_of: Dict[Path, Tuple[str, str]], rule: str = "mean") -> Dict:
    """Metrics with each video as one sample: its frames' fake probabilities combined by an AGGREGATIONS rule
    (the mean, by default, as DeepfakeBench scores videos), judged at the same threshold as single frames.
    An image that sits directly in real/ or fake/ is a video of one frame."""
    frames, labels = defaultdict(list), {}
    for path, label, probability in zip(evaluation.paths, evaluation.labels, evaluation.fake_probabilities):
        frames[video_of[path]].append(probability)
        labels[video_of[path]] = label
    videos = sorted(frames)
    combine = AGGREGATIONS[rule]
    report = binary_metrics([labels[video] for video in videos], [combine(frames[video]) for video in videos],
                            evaluation.report["threshold"])
    report.update({"aggregate": rule, "n_videos": len(videos),
                   "frames_per_video": round(len(evaluation.paths) / max(1, len(videos)), 2)})
    return report


def perturbed_rows(detector: Detector, images, perturbations: Dict, batch_size: int = 32,
                   workers: Optional[int] = None, show_progress: bool = True) -> List[Dict]:
    """ROC-AUC and accuracy (at the checkpoint's threshold) with each named perturbation applied first."""
    from ..data.perturbations import Perturbed
    rows = []
    for name, perturbation in perturbations.items():
        report = evaluate_detector(detector, images, batch_size, workers, show_progress=show_progress, name=name,
                                   transform=Perturbed(perturbation, detector.transform)).report
        rows.append({"condition": name, "roc_auc": report["roc_auc"], "accuracy": report["accuracy"]})
    return rows


def robustness_table(detector: Detector, images, batch_size: int = 32, workers: Optional[int] = None,
                     show_progress: bool = True, clean: Optional[Evaluation] = None) -> List[Dict]:
    """The clean row, then each degradation of the robustness suite with its ROC-AUC drop from clean."""
    from ..data.perturbations import ROBUSTNESS_SUITE
    clean = clean or evaluate_detector(detector, images, batch_size, workers, show_progress=show_progress,
                                       name="clean")
    clean_auc = clean.report["roc_auc"]
    rows = [{"condition": "clean", "roc_auc": clean_auc, "accuracy": clean.report["accuracy"]}]
    rows += perturbed_rows(detector, images, ROBUSTNESS_SUITE, batch_size, workers, show_progress)
    for row in rows:
        both_defined = row["roc_auc"] is not None and clean_auc is not None
        row["roc_auc_drop"] = clean_auc - row["roc_auc"] if both_defined else None
    return rows
