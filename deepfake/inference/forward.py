"""The model's forward pass over images' crops, and mixed precision: what prediction and training share.

Prediction imports this and not the training engine (engine.py), whose optimiser steps it never needs.
"""
from typing import Sequence

import torch
import torch.nn as nn


def amp_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the hardware has it (recent x86 CPUs, Ampere+ GPUs): float32's range, so no loss scaling."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def mixed_precision(device: torch.device, enabled: bool):
    """Autocast for --amp. Convolutions and matmuls run in low precision; BatchNorm, losses and sigmoid stay fp32."""
    return torch.autocast(device.type, dtype=amp_dtype(device), enabled=enabled)


def as_model_input(tensor: torch.Tensor) -> torch.Tensor:
    """Images go in channels-last (faster convolutions on CPU and GPU); cached feature rows as they are."""
    return tensor.contiguous(memory_format=torch.channels_last) if tensor.dim() == 4 else tensor


# The model sees at most this many crops at once. Activations grow with the crops in flight (the first block
# keeps 16 x 128 x 128 floats per crop), and a batch of 32 large images is 288 crops under the 3x3 grid.
CROPS_PER_FORWARD = 64


def crop_averaged_logits(model: nn.Module, crops: torch.Tensor, crops_per_image: Sequence[int]) -> torch.Tensor:
    """crops: [all crops, 3, H, W] (or their cached features), each image's in turn -> one logit per image,
    the mean of its crops'."""
    logits = torch.cat([model(as_model_input(chunk))
                        for chunk in crops.split(CROPS_PER_FORWARD)]).float()
    counts = torch.as_tensor(list(crops_per_image), device=logits.device)
    image_of_crop = torch.repeat_interleave(torch.arange(len(counts), device=logits.device), counts)
    return logits.new_zeros(len(counts)).index_add(0, image_of_crop, logits) / counts
