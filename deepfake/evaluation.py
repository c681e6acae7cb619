"""Scoring a checkpoint on labelled folders: the metrics report behind evaluate.py."""
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

from torch.utils.data import DataLoader
from tqdm import tqdm

from .data import LabelledImageDataset, collate_skipping_failures, select_split, worker_count
from .engine import score
from .errors import DeepfakeError
from .inference import load_detector
from .metrics import binary_metrics

# A checkpoint that records no split (a converted peer model) is split with the training defaults.
DEFAULT_SPLIT = {"seed": 0, "val_fraction": 0.2, "split_by": "folder"}


def evaluate_checkpoint(weights, data_dirs: Sequence, split: str = "all", batch_size: int = 32,
                        workers: Optional[int] = None, threshold: Optional[float] = None,
                        show_progress: bool = True, on_failure=lambda message: None) -> Dict:
    """Metrics of one checkpoint on the images of `data_dirs` (all of them, or one side of its recorded split)."""
    detector = load_detector(weights)
    recorded = {key: detector.card.training.get(key, default) for key, default in DEFAULT_SPLIT.items()}
    images = select_split(data_dirs, split, recorded["val_fraction"], recorded["seed"], recorded["split_by"])
    dataset = LabelledImageDataset(images, detector.transform)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=worker_count(workers),
                        collate_fn=collate_skipping_failures)
    started = time.time()
    bar = tqdm(total=len(dataset), desc=f"scoring {Path(weights).name}", unit="img", leave=False,
               disable=not show_progress)
    scores = score(detector.model, loader, detector.device,
                   on_batch=lambda batch: bar.update(len(batch.indices) + len(batch.failures)))
    bar.close()
    seconds = time.time() - started
    for failure in scores.failures:
        on_failure(failure.message)
    if not scores.indices:
        raise DeepfakeError(f"none of the {len(dataset)} images in {', '.join(map(str, data_dirs))} could be read")
    used_threshold = detector.threshold if threshold is None else threshold
    report = binary_metrics(scores.labels, scores.fake_probabilities, used_threshold)
    report.update({
        "weights": str(weights), "arch": detector.card.arch, "data": [str(d) for d in data_dirs],
        "split": split, "threshold_rule": detector.card.threshold_rule if threshold is None else "--threshold",
        "n_failed": len(scores.failures), "images_per_second": round(len(scores.indices) / max(seconds, 1e-9), 1),
    })
    return report
