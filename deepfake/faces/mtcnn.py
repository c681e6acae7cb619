"""MTCNN (Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks",
IEEE SPL 2016): three small CNNs in a cascade, the default face detector.

P-Net slides over an image pyramid and proposes windows; R-Net rejects most of them on 24-px crops; O-Net
scores the survivors on 48-px crops and refines their boxes. Each stage regresses its boxes and merges
overlaps (non-maximum suppression). The weights are the ones facenet-pytorch's wheel ships (MIT; ported from
the authors' Caffe models), read as plain tensors (`torch.load(weights_only=True)`) and checked by SHA-256;
facenet-pytorch's own code is never imported. The networks are written here with its layer names, so its
state dicts load as they are; R-Net and O-Net flatten their last feature map column-major, as the Caffe
originals did.

Chosen over OpenCV's Haar cascade by measurement (docs/experiments.md, "Which face detector"): it finds
turned, small and partly hidden faces that a frontal cascade misses.
"""
from typing import List, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from ..models.packaged_weights import PackagedWeights
from .boxes import FaceBox


def _facenet_file(name: str, sha256: str) -> PackagedWeights:
    return PackagedWeights(package="facenet_pytorch", distribution="facenet-pytorch", version="2.6.0",
                           resource=f"data/{name}.pt", sha256=sha256, licence="MIT")


PNET_WEIGHTS = _facenet_file("pnet", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f")
RNET_WEIGHTS = _facenet_file("rnet", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86")
ONET_WEIGHTS = _facenet_file("onet", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d")


def _conv(in_channels: int, out_channels: int, kernel: int, index: int, module: nn.Module) -> None:
    setattr(module, f"conv{index}", nn.Conv2d(in_channels, out_channels, kernel))
    setattr(module, f"prelu{index}", nn.PReLU(out_channels))


def _stages(module: nn.Module, x: torch.Tensor, pools: dict, count: int) -> torch.Tensor:
    for index in range(1, count + 1):
        x = getattr(module, f"prelu{index}")(getattr(module, f"conv{index}")(x))
        if index in pools:
            x = F.max_pool2d(x, *pools[index], ceil_mode=True)
    return x


class PNet(nn.Module):
    """Fully convolutional: 12x12 windows at stride 2 -> (box offsets [N, 4, h, w], P(face) [N, h, w])."""
    pools = {1: (2, 2)}

    def __init__(self):
        super().__init__()
        for index, (cin, cout) in enumerate([(3, 10), (10, 16), (16, 32)], start=1):
            _conv(cin, cout, 3, index, self)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = _stages(self, x, self.pools, 3)
        return self.conv4_2(x), F.softmax(self.conv4_1(x), dim=1)[:, 1]


class RNet(nn.Module):
    """24x24 crops -> (box offsets [N, 4], P(face) [N])."""
    pools = {1: (3, 2), 2: (3, 2)}

    def __init__(self):
        super().__init__()
        for index, (cin, cout, kernel) in enumerate([(3, 28, 3), (28, 48, 3), (48, 64, 2)], start=1):
            _conv(cin, cout, kernel, index, self)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x):
        x = _stages(self, x, self.pools, 3).permute(0, 3, 2, 1).flatten(1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), F.softmax(self.dense5_1(x), dim=1)[:, 1]


class ONet(nn.Module):
    """48x48 crops -> (box offsets [N, 4], P(face) [N]); its five landmarks (dense6_3) are not used here."""
    pools = {1: (3, 2), 2: (3, 2), 3: (2, 2)}

    def __init__(self):
        super().__init__()
        for index, (cin, cout, kernel) in enumerate([(3, 32, 3), (32, 64, 3), (64, 64, 3), (64, 128, 2)], start=1):
            _conv(cin, cout, kernel, index, self)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = _stages(self, x, self.pools, 4).permute(0, 3, 2, 1).flatten(1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), F.softmax(self.dense6_1(x), dim=1)[:, 1]


def _loaded(network: nn.Module, weights: PackagedWeights) -> nn.Module:
    state = torch.load(weights.verified_path(), map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    return network.eval()


def _normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - 127.5) / 128.0  # the authors' input scaling


def _nms(boxes: torch.Tensor, scores: torch.Tensor, overlap: float, by_smaller: bool = False) -> torch.Tensor:
    """Indices kept by greedy non-maximum suppression, best first. Intersection over union goes to
    torchvision's compiled NMS, as the reference implementation's P-Net and R-Net stages do (a Python loop
    here took seconds on a busy photo's thousands of P-Net windows); by_smaller (O-Net's last merge, over a
    handful of boxes) is intersection over the smaller box, as the reference's own loop computes it."""
    if not by_smaller:
        from torchvision.ops import nms  # the face path only: prediction without --faces never imports it
        return nms(boxes.float(), scores.float(), overlap)
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    keep = []
    while order.numel():
        best, rest = order[0], order[1:]
        keep.append(best)
        width = (torch.minimum(x2[best], x2[rest]) - torch.maximum(x1[best], x1[rest]) + 1).clamp(min=0)
        height = (torch.minimum(y2[best], y2[rest]) - torch.maximum(y1[best], y1[rest]) + 1).clamp(min=0)
        intersection = width * height
        order = rest[intersection / torch.minimum(areas[best], areas[rest]) <= overlap]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def _regressed(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    size = (boxes[:, 2:4] - boxes[:, 0:2] + 1).repeat(1, 2)
    return boxes + offsets * size


def _squared(boxes: torch.Tensor) -> torch.Tensor:
    centre = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    half = (boxes[:, 2:4] - boxes[:, 0:2]).max(dim=1).values.unsqueeze(1) / 2
    return torch.cat([centre - half, centre + half], dim=1)


def integral_image(image: torch.Tensor) -> torch.Tensor:
    """[1, C, H, W] pixels -> [C, H + 1, W + 1] running sums from the top-left corner (int64: exact at any size)."""
    sums = image[0].round().long().cumsum(1).cumsum(2)
    return F.pad(sums, (1, 0, 1, 0))


def _crops(integral: torch.Tensor, boxes: torch.Tensor, side: int) -> "tuple[torch.Tensor, torch.Tensor]":
    """Each box's pixels (clipped to the picture) averaged down to side x side, all boxes at once; and which
    boxes had any pixels. The same cells as F.interpolate(mode="area") (adaptive average pooling: cell i spans
    rows floor(i*h/side) to ceil((i+1)*h/side)), read off the integral image instead of one resize per box,
    which took most of --faces' time on a photo with a thousand candidate windows."""
    height, width = integral.shape[-2] - 1, integral.shape[-1] - 1
    corners = boxes.trunc().long()
    x1, y1 = (corners[:, 0] - 1).clamp(min=0), (corners[:, 1] - 1).clamp(min=0)
    x2, y2 = corners[:, 2].clamp(max=width), corners[:, 3].clamp(max=height)
    kept = torch.nonzero((x2 > x1) & (y2 > y1)).flatten()
    if not len(kept):
        return torch.zeros(0, 3, side, side), kept
    x1, y1, x2, y2 = x1[kept], y1[kept], x2[kept], y2[kept]
    cells = torch.arange(side)

    def spans(start: torch.Tensor, length: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        first = start[:, None] + (cells[None] * length[:, None]) // side
        last = start[:, None] + ((cells[None] + 1) * length[:, None] + side - 1) // side
        return first, last

    top, bottom = spans(y1, y2 - y1)  # [N, side] rows
    left, right = spans(x1, x2 - x1)  # [N, side] columns

    def at(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:  # -> [C, N, side, side]
        return integral[:, rows[:, :, None], columns[:, None, :]]

    sums = at(bottom, right) - at(top, right) - at(bottom, left) + at(top, left)
    counts = (bottom - top)[:, :, None] * (right - left)[:, None, :]
    return (sums.float() / counts).permute(1, 0, 2, 3).contiguous(), kept


# R-Net and O-Net see the candidates in chunks of this many, as the reference's fixed_batch_process does, so
# a picture with thousands of windows never holds all their crops at once.
STAGE_BATCH = 512


def _in_chunks(network: nn.Module, crops: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
    outputs = [network(_normalised(chunk)) for chunk in crops.split(STAGE_BATCH)]
    return torch.cat([offsets for offsets, _ in outputs]), torch.cat([scores for _, scores in outputs])


# The longest side a picture is searched at (see MTCNNFaceDetector.detect).
MAX_DETECTION_SIDE = 1024


class MTCNNFaceDetector:
    name = "mtcnn"

    def __init__(self, min_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7), factor: float = 0.709,
                 max_faces: int = 5):
        self.pnet, self.rnet, self.onet = (_loaded(PNet(), PNET_WEIGHTS), _loaded(RNet(), RNET_WEIGHTS),
                                           _loaded(ONet(), ONET_WEIGHTS))
        self.min_size, self.thresholds, self.factor, self.max_faces = min_size, tuple(thresholds), factor, max_faces

    @torch.inference_mode()
    def detect(self, image: Image.Image) -> List[FaceBox]:
        """Faces, largest first; at most max_faces. A picture whose longer side is over MAX_DETECTION_SIDE is
        searched at that size and the boxes scaled back: the pyramid's cost grows with the pixels (6 s for a
        12-MP photo at full size), and a face under 20 px at that size (80 px in a 4,000-px photo) is too
        small to judge anyway."""
        scale = min(1.0, MAX_DETECTION_SIDE / max(image.size))
        if scale < 1:
            searched = image.resize((round(image.width * scale), round(image.height * scale)), Image.BOX)
            return [FaceBox(round(box.x / scale), round(box.y / scale), round(box.width / scale),
                            round(box.height / scale)) for box in self._detect(searched)]
        return self._detect(image)

    def _detect(self, image: Image.Image) -> List[FaceBox]:
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32).copy()).permute(2, 0, 1)[None]
        height, width = pixels.shape[-2:]
        boxes = self._propose(pixels)
        integral = integral_image(pixels) if len(boxes) else None
        for network, side, threshold, last in ((self.rnet, 24, self.thresholds[1], False),
                                               (self.onet, 48, self.thresholds[2], True)):
            if not len(boxes):
                break
            crops, kept = _crops(integral, boxes, side)
            if not len(kept):
                return []
            offsets, probabilities = _in_chunks(network, crops)
            passed = probabilities > threshold
            boxes, offsets, scores = boxes[kept][passed], offsets[passed], probabilities[passed]
            if last:  # O-Net: refine first, then merge by the smaller box's overlap
                boxes = _regressed(boxes, offsets)
                boxes = boxes[_nms(boxes, scores, 0.7, by_smaller=True)]
            else:
                keep = _nms(boxes, scores, 0.7)
                boxes = _squared(_regressed(boxes[keep], offsets[keep]))
        found = []
        for x1, y1, x2, y2 in boxes.tolist():
            x1, y1, x2, y2 = max(0, round(x1)), max(0, round(y1)), min(width, round(x2)), min(height, round(y2))
            if x2 - x1 >= 2 and y2 - y1 >= 2:
                found.append(FaceBox(x1, y1, x2 - x1, y2 - y1))
        found.sort(key=lambda box: box.width * box.height, reverse=True)
        return found[: self.max_faces]

    def _propose(self, pixels: torch.Tensor) -> torch.Tensor:
        """P-Net over the pyramid: squared candidate boxes [N, 4] in the picture's pixels."""
        height, width = pixels.shape[-2:]
        scale = 12.0 / self.min_size  # the smallest face wanted becomes P-Net's 12-pixel window
        candidates, scores, offsets = [], [], []
        while min(height, width) * scale >= 12:
            scaled = F.interpolate(pixels, size=(int(height * scale + 1), int(width * scale + 1)), mode="area")
            window_offsets, probabilities = self.pnet(_normalised(scaled))
            rows, columns = torch.nonzero(probabilities[0] >= self.thresholds[0], as_tuple=True)
            if len(rows):
                corner = torch.stack([columns, rows], dim=1).float()
                boxes = torch.cat([((2 * corner + 1) / scale).floor(), ((2 * corner + 12) / scale).floor()], dim=1)
                score = probabilities[0, rows, columns]
                keep = _nms(boxes, score, 0.5)
                candidates.append(boxes[keep])
                scores.append(score[keep])
                offsets.append(window_offsets[0, :, rows, columns].T[keep])
            scale *= self.factor
        if not candidates:
            return torch.zeros(0, 4)
        boxes, score, offset = torch.cat(candidates), torch.cat(scores), torch.cat(offsets)
        keep = _nms(boxes, score, 0.7)
        boxes, offset = boxes[keep], offset[keep]
        # P-Net's offsets are relative to the window's size without the +1 (as the authors' code has it).
        size = (boxes[:, 2:4] - boxes[:, 0:2]).repeat(1, 2)
        return _squared(boxes + offset * size)
