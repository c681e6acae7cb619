"""How a file is scored, as one value: predict.py's flags, the service's form fields and the Python API all
build a PredictOptions and hand it to Detector.predict_file / predict_files, so the three take one path."""
from dataclasses import dataclass
from typing import Optional

from PIL import Image

from ..errors import DeepfakeError
from .aggregate import AGGREGATIONS


def check_threshold(threshold: Optional[float]) -> None:
    """A threshold given by the user (predict.py, evaluate.py --threshold, load_detector) is a probability."""
    if threshold is not None and not 0 <= threshold <= 1:
        raise DeepfakeError(f"--threshold is a fake probability, between 0 and 1, not {threshold}")


@dataclass(frozen=True)
class PredictOptions:
    # Score each detected face (the most suspicious decides; no face: the whole image). A checkpoint trained
    # on faces always does, asked or not.
    faces: bool = False
    face_detector: Optional[str] = None  # faces.detectors by name; None: the checkpoint's own, else mtcnn
    frames: int = 16  # a video's frames, sampled evenly
    aggregate: str = "mean"  # how frame scores make a video's (inference.aggregate)
    explain: bool = False  # attach a Grad-CAM overlay to each Prediction (Prediction.explanation)

    def __post_init__(self):
        if self.frames < 1:
            raise DeepfakeError(f"--frames must be at least 1, not {self.frames}")
        if self.aggregate not in AGGREGATIONS:
            raise DeepfakeError(f"--aggregate must be one of {', '.join(sorted(AGGREGATIONS))}, "
                                f"not {self.aggregate!r}")


@dataclass(frozen=True)
class Explanation:
    """A Grad-CAM overlay for one result, and where it came from."""
    picture: Image.Image  # at the picture's size, longer side at most explain.MAX_OVERLAY_SIDE
    note: str = ""  # why the map is flat, when it is
    frame: Optional[int] = None  # a video's explained frame (its most suspicious)

    def fields(self, location: str) -> dict:
        """predict.py's JSON keys for this overlay, kept at `location` (a file, or a data: URI)."""
        return {"explanation": location, **({"explanation_frame": self.frame} if self.frame is not None else {}),
                **({"explanation_note": self.note} if self.note else {})}
