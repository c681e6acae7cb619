"""One epoch of training. No argparse, no printing, no file layout (scoring: evaluation/scoring.py)."""
import math
import random
from typing import Callable, Iterable, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.datasets import Batch
from ..errors import DeepfakeError
from ..inference.forward import amp_dtype, as_model_input, mixed_precision


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class NonFiniteLossError(DeepfakeError):
    """Training diverged; raised before the optimizer step so the weights stay finite."""


def train_one_epoch(model: nn.Module, batches: Iterable[Batch], optimizer: torch.optim.Optimizer,
                    scheduler: Optional[torch.optim.lr_scheduler.LRScheduler], device: torch.device,
                    on_batch: Callable[[float], None] = lambda loss: None, amp: bool = False,
                    all_finite: Callable[[bool], bool] = lambda finite: finite,
                    after_step: Callable[[], None] = lambda: None,
                    mix: Optional[Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]] = None
                    ) -> "tuple[float, int]":
    """(sum of BCE-with-logits losses, number of images) over the epoch.

    `all_finite` lets data-parallel ranks agree to stop together when any one of them sees a NaN;
    `after_step` runs after every optimizer step (the weight average's update); `mix` blends each batch
    (mixup.Mixup), so the loss is then against blended targets."""
    model.train()
    # float16 (older GPUs) underflows small gradients without loss scaling; bfloat16 does not need it.
    scaler = torch.amp.GradScaler(device.type, enabled=amp and amp_dtype(device) == torch.float16)
    total_loss, total_images = 0.0, 0
    for batch_number, batch in enumerate(batches):
        if not batch.indices:
            continue
        images = as_model_input(batch.images.to(device, non_blocking=True))
        labels = batch.labels.to(device, non_blocking=True)
        if mix is not None:
            images, labels = mix(images, labels)
        with mixed_precision(device, amp):
            logits = model(images)
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels)
        if not all_finite(math.isfinite(loss.item())):
            raise NonFiniteLossError(f"training loss became non-finite at batch {batch_number}; lower --lr "
                                     f"or check the data (the best checkpoint was left untouched)")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        after_step()
        total_loss += loss.item() * len(batch.indices)
        total_images += len(batch.indices)
        on_batch(loss.item())
    return total_loss, total_images
