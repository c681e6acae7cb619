"""Two views of one image, two trained detectors, one head: the whole picture and its pixels at native scale.

A detector that resizes every image to 224 px judges content and style, and resizing erases the traces a latent
decoder leaves in the pixels; a detector on native-resolution crops keeps the traces but sees a 224-px window of a
12-megapixel photo. Issue 48 measured both: the shipped whole-image model is at chance on photos against their
own autoencoder reconstructions, a native-crop model trained on those pairs alone reaches 0.70 there and says
nothing about faces, and one network trained on both drowns the trace in content (docs/experiments.md,
"Photographs"). So each view keeps its own network, trained on its own task, and a head learns how to weigh them.

Input: [B, 6, S, S], the whole-image view (shorter side resized to `global_view`, the crop at the same place) in
channels 0-2 and the native crop in 3-5, as data.transforms builds it from Preprocessing.global_view. Each branch
is a registered detector whose own head is dropped (`pooled_features` is what the head reads); `--init-branch
global=W --init-branch trace=W` starts them from trained checkpoints, and with `train_branches=False` (the
default) they stay frozen, so the trainer computes their features once and trains the head on the cache.
"""
from typing import Dict

import torch
import torch.nn as nn

from ..registry import create_model, register_model
from .pretrained import FeatureHead, HoldsBackbones

GLOBAL_CHANNELS = slice(0, 3)
TRACE_CHANNELS = slice(3, 6)


class TwoViewDetector(HoldsBackbones):
    accepts_any_size = False
    splits_at_head = True
    input_channels = 6

    def __init__(self, global_branch: nn.Module, trace_branch: nn.Module, global_view: int, train_branches: bool,
                 hidden: int, dropout: float):
        super().__init__()
        self.global_view = global_view
        self.train_branches = train_branches
        self.global_branch, self.trace_branch = global_branch, trace_branch
        for branch in self.branches().values():
            branch.head = nn.Identity()  # the two-view head replaces theirs; `*_branch.*` names still load
            branch.requires_grad_(train_branches)
        self.head = FeatureHead(global_branch.feature_dim + trace_branch.feature_dim, hidden, dropout)

    def branches(self) -> Dict[str, nn.Module]:
        """Name -> branch: what `train.py --init-branch NAME=WEIGHTS` starts from a trained checkpoint."""
        return {"global": self.global_branch, "trace": self.trace_branch}

    def train(self, mode: bool = True) -> "TwoViewDetector":
        super().train(mode)
        if not self.train_branches:
            for branch in self.branches().values():
                branch.eval()  # a frozen branch keeps the BatchNorm statistics it was trained with
        return self

    def embed(self, views: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.global_branch.pooled_features(views[:, GLOBAL_CHANNELS]),
                          self.trace_branch.pooled_features(views[:, TRACE_CHANNELS])], dim=1)

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(views))

    @property
    def cam_layer(self) -> nn.Module:
        """The trace branch's last convolution: where in the native crop the pixels looked generated. The global
        branch reaches the verdict only through the head, so the map shows the trace branch's evidence."""
        return self.trace_branch.cam_layer

    def parameter_depths(self):
        for module_name, module in (("global_branch", self.global_branch), ("trace_branch", self.trace_branch),
                                    ("head", self.head)):
            for name, parameter in module.named_parameters(prefix=module_name):
                yield name, parameter, 0, 0


@register_model
def two_view_mobilenet_v2(pretrained: bool = True, global_view: int = 224, train_branches: bool = False,
                          hidden: int = 256, dropout: float = 0.3):
    """Two fine-tuned MobileNetV2 detectors (the shipped whole-image model's architecture), one on the whole
    image at `global_view` px and one on native crops, frozen by default, under one head (5.2M parameters,
    1.2 GFLOPs a crop)."""
    return TwoViewDetector(create_model("mobilenet_v2", pretrained=pretrained),
                           create_model("mobilenet_v2", pretrained=pretrained), global_view, train_branches,
                           hidden, dropout)
