"""Rules that turn per-frame fake probabilities into one verdict for a video."""
from typing import Callable, Dict, Sequence

import numpy as np


def mean(scores: Sequence[float]) -> float:
    return float(np.mean(scores))


def top_quarter_mean(scores: Sequence[float]) -> float:
    """Mean of the most suspicious quarter of frames: catches a manipulation that covers part of a clip."""
    ordered = np.sort(np.asarray(scores))[::-1]
    return float(ordered[: max(1, len(ordered) // 4)].mean())


def confident_mean(scores: Sequence[float], confident: float = 0.8, share: float = 0.4) -> float:
    """The DFDC winner's rule (Seferbekov, 2020): if enough frames are confidently fake, average those;
    else if most are confidently real, average those; else average everything."""
    scores = np.asarray(scores)
    fake = scores[scores > confident]
    if len(fake) > share * len(scores):
        return float(fake.mean())
    real = scores[scores < 1 - confident]
    if len(real) > 0.9 * len(scores):
        return float(real.mean())
    return float(scores.mean())


AGGREGATIONS: Dict[str, Callable[[Sequence[float]], float]] = {
    "mean": mean,
    "top_quarter_mean": top_quarter_mean,
    "confident_mean": confident_mean,
    "max": lambda scores: float(np.max(scores)),
}
