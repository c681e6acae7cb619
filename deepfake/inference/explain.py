"""Grad-CAM heatmaps: which regions of an image drove its verdict (captum's LayerGradCam).

The map is taken on the model's last convolution, for the logit of the verdict the model gave on this
view (fake, or real as the negated fake logit). Models that accept any input size
(artifact_cnn) are explained on the whole image as the model sees it; fixed-size ones (MesoNet) on the
crop they score. The overlay is then drawn on the picture the user gave, at its own size (longer side
capped at MAX_OVERLAY_SIDE), with the map placed over the region the model saw, and a scored face's box
drawn where a face decided the verdict.
"""
import hashlib
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..faces.boxes import FaceBox, face_crop_box
from ..data.transforms import EvalTransform, fit_to_input, to_normalized_tensor, with_mirror_views
from ..preprocessing import Preprocessing
from ..extras import needs

with needs("Grad-CAM overlays (--explain)"):
    from captum.attr import LayerGradCam
    from matplotlib import colormaps

# Larger views are explained on their central 1024x1024 pixels: resizing would erase the very traces being
# explained, and a 12-megapixel backward pass needs gigabytes.
MAX_EXPLAINED_SIDE = 1024
# The overlay a person looks at: the picture's own size, but no larger than a screen.
MAX_OVERLAY_SIDE = 1024

Box = Tuple[int, int, int, int]  # left, top, right, bottom in the picture's pixels


@dataclass(frozen=True)
class Explainable:
    """What Grad-CAM needs of a detector, and no more: its network, the preprocessing its checkpoint records, the
    device, and its decision rule (the view's logit, calibrated, against the threshold). Detector.explainable()
    makes one; every function here also takes the Detector itself."""
    model: nn.Module
    preprocessing: Preprocessing
    device: torch.device
    calls_fake: Callable[[torch.Tensor], bool]  # the view's mean logit -> called fake?
    threshold: float  # shown in the legend

    @classmethod
    def of(cls, subject) -> "Explainable":
        return subject if isinstance(subject, Explainable) else subject.explainable()


def grad_cam(detector, image: Image.Image) -> "tuple[Image.Image, np.ndarray]":
    """Public API: (the view explained, a heatmap in [0, 1] of the same size); `detector`: a Detector or an
    Explainable. The overlay a person looks at is explanation()'s."""
    view, _, heatmap = _grad_cam_with_region(Explainable.of(detector), image)
    return view, heatmap


def _grad_cam_with_region(detector: Explainable, image: Image.Image) -> "tuple[Image.Image, Box, np.ndarray]":
    """(the view explained, where that view lies in `image`, its heatmap)."""
    preprocessing = detector.preprocessing
    fitted = fit_to_input(image, preprocessing)
    if detector.model.accepts_any_size:  # models/base.py: the contract every architecture keeps
        width, height = min(fitted.width, MAX_EXPLAINED_SIDE), min(fitted.height, MAX_EXPLAINED_SIDE)
    else:
        width = height = preprocessing.input_size
    left, top = (fitted.width - width) // 2, (fitted.height - height) // 2
    view = fitted.crop((left, top, left + width, top + height))
    scale_x, scale_y = image.width / fitted.width, image.height / fitted.height
    region = (round(left * scale_x), round(top * scale_y), round((left + width) * scale_x),
              round((top + height) * scale_y))
    inputs = to_normalized_tensor(preprocessing)(view).unsqueeze(0)
    if preprocessing.global_view:  # a two-view model reads the whole image beside the crop, as prediction gives it
        whole = EvalTransform(preprocessing).whole_image_views(image, fitted.size, [(left, top)])
        inputs = torch.cat([whole, inputs], dim=1)
    inputs = inputs.to(detector.device)
    with torch.no_grad():
        views = with_mirror_views(inputs, preprocessing)  # the verdict prediction gives this view
        called_fake = detector.calls_fake(detector.model(views).mean())
    # Explain the verdict: evidence for "fake" when called fake, for "real" (the negated logit) otherwise;
    # a real verdict explained on the fake logit would be an all-zero map.
    direction = 1.0 if called_fake else -1.0
    inputs.requires_grad_(True)
    explainer = LayerGradCam(lambda batch: direction * detector.model(batch), detector.model.cam_layer)
    with torch.enable_grad():
        attribution = explainer.attribute(inputs, relu_attributions=True)
    heatmap = F.interpolate(attribution.detach().float(), size=inputs.shape[-2:], mode="bilinear",
                            align_corners=False)[0, 0].cpu().numpy()
    peak = heatmap.max()
    return view, region, (heatmap / peak if peak > 0 else heatmap)


def overlay(view: Image.Image, heatmap: np.ndarray, opacity: float = 0.6) -> Image.Image:
    """The map's colours over the picture, each pixel blended in proportion to its heat: where the model
    looked, the colour; elsewhere the photo as it is, so the picture stays readable."""
    colours = colormaps["jet"](heatmap)[..., :3] * 255
    weight = (opacity * heatmap)[..., None]
    blended = np.asarray(view.convert("RGB"), dtype=np.float32) * (1 - weight) + colours * weight
    return Image.fromarray(blended.round().clip(0, 255).astype(np.uint8))


LEGEND_HEIGHT = 34  # px: the strip under the overlay with the colour bar and the verdict


def with_legend(picture: Image.Image, record: dict, threshold: float) -> Image.Image:
    """The overlay with a strip below: a colour bar (what drove the verdict, from none to most) and the
    verdict with its fake probability and the threshold it was judged at."""
    from PIL import ImageFont
    width = max(picture.width, 320)
    framed = Image.new("RGB", (width, picture.height + LEGEND_HEIGHT), (255, 255, 255))
    framed.paste(picture, (0, 0))
    draw = ImageDraw.Draw(framed)
    font = ImageFont.load_default(size=12)
    top = picture.height + 6
    bar_width = min(160, width // 3)
    ramp = (colormaps["jet"](np.linspace(0, 1, bar_width))[:, :3] * 255).astype(np.uint8)
    framed.paste(Image.fromarray(np.repeat(ramp[None], 10, axis=0)), (8, top))
    draw.text((8, top + 11), "none", fill=(60, 60, 60), font=font)
    draw.text((8 + bar_width, top + 11), "most", fill=(60, 60, 60), font=font, anchor="ra")
    draw.text((16 + bar_width, top - 1), "influence on the verdict", fill=(60, 60, 60), font=font)
    verdict = (f"{record['label']}  P(fake) {record['fake_probability']:.3f}  (threshold {threshold:.3f})")
    draw.text((width - 8, top + 8), verdict, fill=(180, 0, 0) if record["label"] == "fake" else (0, 110, 0),
              font=font, anchor="ra")
    return framed


NO_EVIDENCE = "flat map: no region moved the score either way (the model sees nothing it knows here)"


def explanation(detector, image: Image.Image, face: Optional[FaceBox] = None,
                max_side: int = MAX_OVERLAY_SIDE) -> "tuple[Image.Image, str]":
    """The overlay at the picture's own size (longer side capped at max_side), and a note when the map is flat.

    face: the box of the face that decided the verdict; the face's crop is explained, its map placed on the
    whole picture and its box drawn. A flat map is not painted over the picture: a uniform colour would look
    like evidence."""
    subject_box = face_crop_box(image, face) if face is not None else (0, 0, image.width, image.height)
    subject = image.crop(subject_box) if face is not None else image
    view, region, heatmap = _grad_cam_with_region(Explainable.of(detector), subject)
    scale = min(1.0, max_side / max(image.size))
    picture = image.convert("RGB")
    if scale < 1:
        picture = picture.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.BICUBIC)

    def on_picture(box: Box) -> Box:
        return tuple(round(value * scale) for value in box)

    flat = heatmap.max() <= 0
    if not flat:
        # The view's region in the picture: its place in the subject, shifted by the subject's place.
        left, top = subject_box[0] + region[0], subject_box[1] + region[1]
        target = on_picture((left, top, subject_box[0] + region[2], subject_box[1] + region[3]))
        size = (max(1, target[2] - target[0]), max(1, target[3] - target[1]))
        patch = picture.crop(target)
        resized_map = np.asarray(Image.fromarray((heatmap * 255).astype(np.uint8)).resize(size, Image.BILINEAR))
        picture.paste(overlay(patch, resized_map / 255.0), target[:2])
    if face is not None:
        face_box = on_picture((face.x, face.y, face.x + face.width, face.y + face.height))
        ImageDraw.Draw(picture).rectangle(face_box, outline=(255, 255, 255), width=max(2, picture.width // 200))
    return picture, NO_EVIDENCE if flat else ""


def explain_result(detector, source: Path, record: dict, n_frames: int = 16
                   ) -> "tuple[Image.Image, str, dict]":
    """The overlay a person should look at for one result (predict's JSON record of `source`): the image
    itself, or a video's most suspicious frame, with the face that decided drawn. Returns (overlay, note,
    what was explained: {"frame": index, "time": seconds} for a video, else {})."""
    from ..data.images import load_rgb_image
    frames = record.get("frames")
    if frames is not None:
        from ..data.video import sample_frames
        worst = max(frames, key=lambda frame: frame["fake_probability"])
        image = next(frame.image for frame in sample_frames(source, n_frames) if frame.index == worst["index"])
        faces, explained = worst.get("faces"), {"frame": worst["index"], "time": worst["time"]}
    else:
        image, faces, explained = load_rgb_image(source), record.get("faces"), {}
    face = None
    if faces:
        deciding = max(faces, key=lambda found: found["fake_probability"])
        face = FaceBox(deciding["x"], deciding["y"], deciding["width"], deciding["height"])
    explainable = Explainable.of(detector)
    picture, note = explanation(explainable, image, face)
    return with_legend(picture, record, explainable.threshold), note, explained


def overlay_path(out_dir, source) -> Path:
    """`out_dir/<name>-<8 hex digits>.gradcam.png`, the digits a digest of the input's absolute path: a/x.jpg
    and b/x.webp (or p.jpg and p.png) never share an overlay, and the same input always gets the same name."""
    digest = hashlib.sha256(str(Path(source).absolute()).encode()).hexdigest()[:8]
    return Path(out_dir) / f"{Path(source).stem}-{digest}.gradcam.png"
