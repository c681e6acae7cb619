"""One pass of scoring labelled batches: the logits and P(fake) of every image that decodes. Evaluation,
training's validation and recalibration all score through it."""
from dataclasses import dataclass, field
from typing import Callable, Iterable, List

import torch
import torch.nn as nn

from ..data.datasets import Batch, DecodeFailure
from ..inference.calibration import fake_probability
from ..inference.forward import crop_averaged_logits, mixed_precision


@dataclass
class Scores:
    """Per-image logits and fake probabilities, in dataset order of the images that decoded."""
    indices: List[int] = field(default_factory=list)
    labels: List[int] = field(default_factory=list)
    logits: List[float] = field(default_factory=list)
    fake_probabilities: List[float] = field(default_factory=list)
    failures: List[DecodeFailure] = field(default_factory=list)


@torch.inference_mode()
def score(model: nn.Module, batches: Iterable[Batch], device: torch.device,
          on_batch: Callable[[Batch], None] = lambda batch: None, amp: bool = False,
          to_probability: Callable[[torch.Tensor], torch.Tensor] = fake_probability) -> Scores:
    """Crop-averaged logits, and P(fake) from them (uncalibrated unless `to_probability` says otherwise),
    for every image that decodes."""
    model.eval()
    scores = Scores()
    for batch in batches:
        scores.failures += batch.failures
        if batch.indices:
            with mixed_precision(device, amp):
                logits = crop_averaged_logits(model, batch.images.to(device, non_blocking=True),
                                              batch.crops_per_image)
            scores.indices += batch.indices
            scores.labels += batch.labels.int().tolist()
            scores.logits += logits.float().cpu().tolist()
            scores.fake_probabilities += to_probability(logits).cpu().tolist()
        on_batch(batch)
    return scores
