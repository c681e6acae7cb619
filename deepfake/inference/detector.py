"""Detector: a loaded checkpoint that turns images, or folders of them, into fake probabilities.

    detector = load_detector()                      # weights/ shipped with the project
    detector.predict("photo.jpg").fake_probability
    for result in detector.predict_paths(paths): ...  # batched, decoded by worker processes
"""
import glob
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Union

import torch
from PIL import Image
from torch.utils.data import DataLoader

from ..checkpoint import ModelCard, load_model
from ..data.datasets import (
    ImagePathDataset,
    collate_skipping_failures,
    concatenate_crops,
    iter_media_files,
    load_for,
    worker_count,
)
from ..data.images import IMAGE_EXTENSIONS, check_judgeable, load_rgb_image, unreadable_reason
from ..data.transforms import EvalTransform
from ..distributed import default_device
from ..errors import DeepfakeError
from ..shipped_weights import DEFAULT_FACE_WEIGHTS, DEFAULT_WEIGHTS, SHIPPED_WEIGHTS  # noqa: F401 (re-exported)
from ..provenance import EVIDENCE_MODES, Evidence, deciding_evidence, read_evidence
from .calibration import fake_probability
from .forward import crop_averaged_logits, mixed_precision
from .options import Explanation, PredictOptions, check_threshold



@dataclass(frozen=True)
class Prediction:
    path: Optional[str]
    label: str  # "fake" or "real"
    fake_probability: float  # always the model's calibrated score, whatever decided the label
    details: dict = field(default_factory=dict)  # faces, frames, aggregation rule, notes
    evidence: Optional[List[Evidence]] = None  # provenance read from the file; None: not read (--evidence off)
    decided_by: str = "model"  # or "provenance": an AI-generation declaration set the label
    explanation: Optional[Explanation] = None  # a Grad-CAM overlay, under PredictOptions(explain=True)

    def to_dict(self) -> dict:
        return {"path": self.path, "label": self.label, "fake_probability": round(self.fake_probability, 6),
                **self.details, "decided_by": self.decided_by,
                "evidence": None if self.evidence is None else [item.to_dict() for item in self.evidence]}


@dataclass(frozen=True)
class Failure:
    path: str
    message: str


class Detector:
    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], card: ModelCard,
                 device: Union[str, torch.device] = "cpu", amp: bool = False, evidence: str = "decide",
                 trust_anchors: Optional[str] = None, weights: Optional[Path] = None,
                 face_model: Optional[Callable[[], "Detector"]] = None):
        """`model`: an nn.Module (moved to `device`, eval mode), or any callable crops -> logits (onnx_backend).
        `evidence`: one of EVIDENCE_MODES; `trust_anchors`: PEM certificates a C2PA signer must chain to for its
        claim to count as verified (none by default: the project ships no trust list); `weights`: the file it was
        loaded from, if any (adaptation finds the replay set beside it); `face_model`: makes the Detector that
        scores face crops (the shipped face model beside the shipped whole-image one), called on first use;
        None: this one scores them."""
        if evidence not in EVIDENCE_MODES:
            raise DeepfakeError(f"unknown evidence mode {evidence!r}; choose one of {', '.join(EVIDENCE_MODES)}")
        self.device = torch.device(device)
        self.amp = amp
        self.evidence_mode = evidence
        self.trust_anchors = trust_anchors
        if isinstance(model, torch.nn.Module):
            model = model.to(self.device, memory_format=torch.channels_last).eval()
        self.model = model
        self.card = card
        self.weights = Path(weights) if weights else None
        self.transform = EvalTransform(card.preprocessing)
        self._face_detectors: dict = {}  # by name, made on first use (MTCNN's weights take a moment)
        self._make_face_model = face_model
        self._face_model: Optional["Detector"] = None

    @property
    def name(self) -> str:
        """How results name the model that scored them: its file, else its architecture."""
        return self.weights.name if self.weights else self.card.arch

    def face_model(self) -> "Detector":
        """The Detector that scores face crops: the face model, loaded on first use, or this one."""
        if self._make_face_model is None:
            return self
        if self._face_model is None:
            self._face_model = self._make_face_model()
        return self._face_model

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def probability_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """P(fake) under the checkpoint's calibration: the scale its threshold was chosen on."""
        return fake_probability(logits, self.card.temperature, self.card.logit_bias)

    def calls_fake(self, fake_probability: float) -> bool:
        """The decision rule: a calibrated P(fake) at or above the threshold chosen on validation."""
        return fake_probability >= self.threshold

    def read_evidence(self, path, decoded: Optional[Image.Image] = None) -> Optional[List[Evidence]]:
        """The file's provenance evidence, or None under --evidence off."""
        if self.evidence_mode == "off" or path is None:
            return None
        return read_evidence(path, decoded, self.trust_anchors)

    def _evidence_reader(self) -> Optional[Callable]:
        """What decoding workers call on each file beside the model's decode (picklable), or None when off."""
        return None if self.evidence_mode == "off" else partial(read_evidence, trust_anchors=self.trust_anchors)

    def verdict(self, path, fake_probability: float, evidence: Optional[List[Evidence]] = None,
                 **details) -> Prediction:
        """The Prediction for a score: the threshold's label, unless provenance decides (--evidence decide)."""
        label = "fake" if self.calls_fake(fake_probability) else "real"
        decided_by = "model"
        if self.evidence_mode == "decide" and deciding_evidence(evidence):
            label, decided_by = "fake", "provenance"
        return Prediction(None if path is None else str(path), label, fake_probability, details, evidence,
                          decided_by)

    def score_images(self, images: List[Image.Image]) -> List[float]:
        """Fake probabilities of already-decoded images (face crops, video frames), in one batch."""
        return self.fake_probabilities(*concatenate_crops([self.transform(image) for image in images])).tolist()

    def _faces_evidence(self, image: Image.Image, face_detector) -> "tuple[float, dict, Detector]":
        """Score each face with the face model; the most suspicious one decides. No face: the whole image, by
        this (whole-image) model, and say so. Returns (score, details, the Detector whose scale it is on)."""
        from ..faces.boxes import crop_face
        boxes = face_detector.detect(image)
        if not boxes:
            return (self.score_images([image])[0], {"faces": [], "note": "no face found; scored the whole image"},
                    self)
        scorer = self.face_model()
        scores = scorer.score_images([crop_face(image, box) for box in boxes])
        faces = [dict(box.to_dict(), fake_probability=round(score, 6)) for box, score in zip(boxes, scores)]
        return max(scores), {"faces": faces}, scorer

    def predict_faces(self, image: Union[str, Path, Image.Image], face_detector, path=None) -> Prediction:
        if not isinstance(image, Image.Image):
            path, image = Path(image), check_judgeable(load_rgb_image(image), image)
        probability, faces, scorer = self._faces_evidence(image, face_detector)
        return scorer.verdict(path, probability, self.read_evidence(path, image), **faces, model=scorer.name)

    def predict_video(self, path, n_frames: int = 16, face_detector=None, aggregation: str = "mean",
                      on_frame: Callable[[], None] = lambda: None) -> Prediction:
        """One verdict per video from N uniformly sampled frames, with the per-frame evidence."""
        from ..data.video import sample_frames
        from .aggregate import AGGREGATIONS
        frames = sample_frames(path, n_frames, on_frame)
        if face_detector is None:
            scores = self.score_images([frame.image for frame in frames])
            records = [{"index": f.index, "time": round(f.time, 3), "fake_probability": round(s, 6)}
                       for f, s in zip(frames, scores)]
            return self.verdict(path, AGGREGATIONS[aggregation](scores), self.read_evidence(path),
                                aggregation=aggregation, frames=records)
        scored = [(frame, *self._faces_evidence(frame.image, face_detector)) for frame in frames]
        # With a face model of its own, a frame without a face is scored by the whole-image model, on another
        # scale and threshold: the verdict is the face model's, over the frames that have a face, if any has.
        scorer = self.face_model()
        counted = [frame_scorer is scorer for *_, frame_scorer in scored]
        if not any(counted):
            scorer, counted = self, [True] * len(scored)
        records = [{"index": frame.index, "time": round(frame.time, 3), "fake_probability": round(score, 6),
                    **evidence, **({} if kept else {"counted": False})}
                   for (frame, score, evidence, _), kept in zip(scored, counted)]
        scores = [score for (_, score, *_), kept in zip(scored, counted) if kept]
        return scorer.verdict(path, AGGREGATIONS[aggregation](scores), self.read_evidence(path),
                              aggregation=aggregation, frames=records, model=scorer.name)

    @torch.inference_mode()
    def fake_probabilities(self, crops: torch.Tensor, crops_per_image: Sequence[int]) -> torch.Tensor:
        """crops: [all crops, 3, H, W], already transformed, each image's in turn -> [images] probabilities."""
        with mixed_precision(self.device, self.amp):
            logits = crop_averaged_logits(self.model, crops.to(self.device, non_blocking=True), crops_per_image)
        return self.probability_from_logits(logits).cpu()

    def predict(self, image: Union[str, Path, Image.Image], path: Union[str, Path, None] = None) -> Prediction:
        """One image, given as a path or as a PIL image (`path` then only labels the result)."""
        if isinstance(image, Image.Image):
            image = check_judgeable(image.convert("RGB"), path or "the image")
            crops, evidence = self.transform(image), self.read_evidence(path, image)
        else:
            path = Path(image)
            crops, evidence = self.prepare(path)
        probability = self.fake_probabilities(crops, [len(crops)])[0].item()
        return self.verdict(path, probability, evidence)

    def prepare(self, path: Path) -> "tuple[torch.Tensor, Optional[List[Evidence]]]":
        """The model-free half of predict(path): decode (as predict_paths does), crop, read the evidence. The
        service runs it on request threads and batches only the model's half."""
        image = check_judgeable(load_for(self.transform, path), path)
        return self.transform(image), self.read_evidence(path, image)

    # ------------------------------------------------------------------ files under PredictOptions
    def scores_faces(self, options: PredictOptions) -> bool:
        """Faces are scored when asked, and always for a checkpoint trained on faces."""
        return options.faces or self.card.preprocessing.faces

    def face_detector_for(self, options: PredictOptions):
        """The face detector `options` call for (the one asked for, else the one the checkpoint was trained
        with), or None when faces are not scored."""
        if not self.scores_faces(options):
            return None
        from ..faces.detectors import create_face_detector, face_detector_name
        name = face_detector_name(self.card.training, options.face_detector)
        if name not in self._face_detectors:
            self._face_detectors[name] = create_face_detector(name)
        return self._face_detectors[name]

    def predict_file(self, path: Union[str, Path], options: PredictOptions = PredictOptions(),
                     on_frame: Callable[[], None] = lambda: None) -> Prediction:
        """One image or video under `options` (faces, frames, explanation); a bad file raises DeepfakeError."""
        from ..data.video import is_video_file
        path, face_detector = Path(path), self.face_detector_for(options)
        if is_video_file(path):
            prediction = self.predict_video(path, options.frames, face_detector, options.aggregate, on_frame)
        elif face_detector is not None:
            prediction = self.predict_faces(path, face_detector)
        else:
            prediction = self.predict(path)
        return self.with_explanation(prediction, options)

    def explainable(self):
        """What Grad-CAM needs of this detector (explain.Explainable): the network, its preprocessing, the device
        and the decision rule, so that explain.py depends on those and not on the Detector."""
        from .explain import Explainable
        return Explainable(self.model, self.card.preprocessing, self.device,
                           lambda logit: self.calls_fake(self.probability_from_logits(logit).item()), self.threshold)

    def with_explanation(self, prediction: Prediction, options: PredictOptions) -> Prediction:
        """The prediction with its Grad-CAM overlay attached, if `options` ask for one."""
        if not options.explain:
            return prediction
        from .explain import explain_result
        # Grad-CAM of the model that decided: a result another model scored names it (without loading the face
        # model for every other explanation)
        deciding = self.face_model() if prediction.details.get("model", self.name) != self.name else self
        picture, note, explained = explain_result(deciding.explainable(), Path(prediction.path),
                                                  prediction.to_dict(), options.frames)
        return replace(prediction, explanation=Explanation(picture, note, explained.get("frame")))

    def predict_files(self, paths: Sequence[Path], options: PredictOptions = PredictOptions(),
                      batch_size: int = 32, workers: Optional[int] = None,
                      on_progress: Callable[[int], None] = lambda n: None,
                      on_video: Callable[[Path], Callable[[], None]] = lambda path: (lambda: None)
                      ) -> Iterator[Union[Prediction, Failure]]:
        """Every file under `options`, images first (batched by decoding workers unless faces are scored),
        then videos one by one (reporting_order); a file that cannot be scored becomes a Failure."""
        images, videos = images_and_videos(paths)
        one_by_one = videos
        if not self.scores_faces(options):
            for result in self.predict_paths(images, batch_size, workers, on_batch=on_progress):
                yield result if isinstance(result, Failure) else self._explained_or_failure(result, options)
        else:
            one_by_one = images + videos
        for path in one_by_one:
            try:
                yield self.predict_file(path, options, on_frame=on_video(path))
            except DeepfakeError as error:
                yield Failure(str(path), str(error))
            on_progress(1)

    def _explained_or_failure(self, prediction: Prediction, options: PredictOptions) -> Union[Prediction, Failure]:
        try:
            return self.with_explanation(prediction, options)
        except DeepfakeError as error:
            return Failure(str(prediction.path), str(error))

    def adapt(self, fake_paths: Sequence[Path], real_paths: Sequence[Path] = (), replay=None, out=None,
              settings=None, show_progress: bool = False, log=print) -> "Detector":
        """A new Detector taught the generator of `fake_paths` (and, optionally, the user's own `real_paths`):
        only the head learns, replaying the base model's training features (deepfake/adaptation/). `replay`: an
        adaptation.Replay, else the replay file beside this detector's weights. With `out`, the adapted
        checkpoint and its replay set are also written there."""
        from ..adaptation import adapt_detector  # the one call up: adaptation is built on training's feature cache
        return adapt_detector(self, fake_paths, real_paths, replay, out, settings, show_progress, log)

    def predict_paths(self, paths: Sequence[Path], batch_size: int = 32, workers: Optional[int] = None,
                      on_batch: Callable[[int], None] = lambda n: None) -> Iterator[Union[Prediction, Failure]]:
        """Predictions (or Failures, for files that do not decode) in input order, streamed batch by batch."""
        paths = list(paths)
        workers = min(worker_count(workers), max(0, len(paths) // batch_size))
        dataset = ImagePathDataset(paths, self.transform, self._evidence_reader())  # evidence read in the workers
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                            collate_fn=collate_skipping_failures, pin_memory=self.device.type == "cuda")
        for batch in loader:
            results = {failure.index: Failure(str(paths[failure.index]), failure.message)
                       for failure in batch.failures}
            if batch.indices:
                probabilities = self.fake_probabilities(batch.images, batch.crops_per_image).tolist()
                evidence = batch.evidence or [None] * len(batch.indices)
                for index, probability, found in zip(batch.indices, probabilities, evidence):
                    results[index] = self.verdict(paths[index], probability, found)
            yield from (results[index] for index in sorted(results))
            on_batch(len(results))


def _load_onnx(path):
    from .onnx_backend import load_onnx_model  # onnxruntime is imported only by those who ask for it
    return load_onnx_model(path)


# Each backend reads its own file format and returns (callable crops -> logits, model card).
BACKENDS = {"torch": load_model, "onnx": _load_onnx}


def load_detector(weights: Union[str, Path, None] = None, device: Optional[str] = None,
                  backend: str = "torch", amp: bool = False, evidence: str = "decide",
                  trust_anchors: Optional[str] = None, threshold: Optional[float] = None,
                  face_model: bool = True) -> Detector:
    """A Detector over a checkpoint (default: the shipped weights). `threshold` replaces the one the
    checkpoint chose on its validation data (predict.py --threshold). The shipped weights come with the shipped
    face model, which scores faces (face_model=False: the whole-image model scores them, as before it)."""
    check_threshold(threshold)
    if backend not in BACKENDS:
        raise DeepfakeError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "torch" and device not in (None, "cpu"):
        raise DeepfakeError(f"the {backend} backend runs on the CPU; use the torch backend for --device {device}")
    device = default_device(device) if backend == "torch" else torch.device("cpu")  # checked before loading
    model, card = BACKENDS[backend](weights or DEFAULT_WEIGHTS)
    if threshold is not None:
        card = replace(card, threshold=threshold, threshold_rule="set by --threshold")
    faces = None
    if face_model and is_shipped_whole_image_model(weights) and DEFAULT_FACE_WEIGHTS.is_file():
        # The shipped pair: faces (--faces, videos, the service's faces option) go to the face model. A user's
        # own --weights scores faces itself, as it always has.
        faces = partial(load_detector, DEFAULT_FACE_WEIGHTS, str(device), backend, amp, evidence, trust_anchors,
                        threshold)
    return Detector(model, card, device, amp=amp, evidence=evidence, trust_anchors=trust_anchors,
                    weights=weights or DEFAULT_WEIGHTS, face_model=faces)


def is_shipped_whole_image_model(weights) -> bool:
    return weights is None or Path(weights).resolve() == DEFAULT_WEIGHTS.resolve()


def images_and_videos(paths: Sequence[Path]) -> "tuple[list, list]":
    """The images (they batch) and the videos, each in input order."""
    from ..data.video import is_video_file
    return [path for path in paths if not is_video_file(path)], [path for path in paths if is_video_file(path)]


def reporting_order(paths: Sequence[Path]) -> List[Path]:
    """The order predict_files reports files in: images first, then videos, each in input order."""
    images, videos = images_and_videos(paths)
    return images + videos


GLOB_CHARACTERS = frozenset("*?[")


def collect_media(path: Union[str, Path], on_error: Callable[[str], None] = lambda message: None) -> List[Path]:
    """One file, every image and video under a folder (recursively, sorted), or what a glob pattern the shell
    did not expand matches ('imgs/*.webp' quoted, or any pattern on Windows; ** spans folders)."""
    from ..data.video import VIDEO_EXTENSIONS
    path = Path(path)
    if not path.exists() and not path.is_symlink() and GLOB_CHARACTERS & set(str(path)):
        matches = sorted(Path(match) for match in glob.glob(str(path), recursive=True))
        if not matches:
            raise DeepfakeError(f"{path}: no file matches this pattern")
        return [media for match in matches for media in collect_media(match, on_error)]
    if path.is_dir():
        media = list(iter_media_files(path, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS, on_error))
        if not media:
            raise DeepfakeError(f"{path}: folder holds no images or videos (looked for "
                                f"{', '.join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))})")
        return media
    problem = unreadable_reason(path)
    if problem:
        raise DeepfakeError(f"{path}: {problem}")
    return [path]
