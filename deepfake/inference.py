"""Detector: a loaded checkpoint that turns images, or folders of them, into fake probabilities.

    detector = load_detector()                      # weights/ shipped with the project
    detector.predict("photo.jpg").fake_probability
    for result in detector.predict_paths(paths): ...  # batched, decoded by worker processes
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Union

import torch
from PIL import Image
from torch.utils.data import DataLoader

from .checkpoint import ModelCard, load_model
from .data import ImagePathDataset, collate_skipping_failures, iter_image_files, worker_count
from .engine import crop_averaged_logits
from .errors import DeepfakeError
from .images import IMAGE_EXTENSIONS, load_rgb_image
from .transforms import EvalTransform

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "deepfake_cnn.safetensors"


@dataclass(frozen=True)
class Prediction:
    path: Optional[str]
    label: str  # "fake" or "real"
    fake_probability: float

    def to_dict(self) -> dict:
        return {"path": self.path, "label": self.label, "fake_probability": round(self.fake_probability, 6)}


@dataclass(frozen=True)
class Failure:
    path: str
    message: str


class Detector:
    def __init__(self, model: torch.nn.Module, card: ModelCard, device: Union[str, torch.device] = "cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()
        self.card = card
        self.transform = EvalTransform(card.preprocessing)

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def _verdict(self, path, fake_probability: float) -> Prediction:
        label = "fake" if fake_probability >= self.threshold else "real"
        return Prediction(None if path is None else str(path), label, fake_probability)

    @torch.inference_mode()
    def fake_probabilities(self, crops: torch.Tensor) -> torch.Tensor:
        """crops: [batch, n_crops, 3, H, W], already transformed -> [batch] probabilities."""
        logits = crop_averaged_logits(self.model, crops.to(self.device, non_blocking=True))
        return torch.sigmoid(logits.float()).cpu()

    def predict(self, image: Union[str, Path, Image.Image], path: Union[str, Path, None] = None) -> Prediction:
        """One image, given as a path or as a PIL image (`path` then only labels the result)."""
        if isinstance(image, Image.Image):
            pil_image = image.convert("RGB")
        else:
            path = Path(image)
            pil_image = load_rgb_image(path)
        probability = self.fake_probabilities(self.transform(pil_image).unsqueeze(0))[0].item()
        return self._verdict(path, probability)

    def predict_paths(self, paths: Sequence[Path], batch_size: int = 32, workers: Optional[int] = None,
                      on_batch: Callable[[int], None] = lambda n: None) -> Iterator[Union[Prediction, Failure]]:
        """Predictions (or Failures, for files that do not decode) in input order, streamed batch by batch."""
        paths = list(paths)
        workers = min(worker_count(workers), max(0, len(paths) // batch_size))
        loader = DataLoader(ImagePathDataset(paths, self.transform), batch_size=batch_size, num_workers=workers,
                            collate_fn=collate_skipping_failures, pin_memory=self.device.type == "cuda")
        for batch in loader:
            results = {failure.index: Failure(str(paths[failure.index]), failure.message)
                       for failure in batch.failures}
            if batch.indices:
                probabilities = self.fake_probabilities(batch.images).tolist()
                for index, probability in zip(batch.indices, probabilities):
                    results[index] = self._verdict(paths[index], probability)
            yield from (results[index] for index in sorted(results))
            on_batch(len(results))


def load_detector(weights: Union[str, Path, None] = None, device: Optional[str] = None) -> Detector:
    model, card = load_model(weights or DEFAULT_WEIGHTS)
    return Detector(model, card, device or ("cuda" if torch.cuda.is_available() else "cpu"))


def collect_images(path: Union[str, Path], on_error: Callable[[str], None] = lambda message: None) -> List[Path]:
    """One image, or every image under a folder (recursively, sorted)."""
    path = Path(path)
    if path.is_dir():
        images = list(iter_image_files(path, on_error))
        if not images:
            raise DeepfakeError(f"{path}: folder holds no images (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        return images
    if not path.exists():
        raise DeepfakeError(f"{path}: no such file or folder")
    return [path]
