"""The face model beside the whole-image model: faces go to the face model, everything else (and a user's own
--weights) to the whole-image one, and every result says which model scored it."""
import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from conftest import run_script

from deepfake.checkpoint import load_model
from deepfake.faces.boxes import FaceBox
from deepfake.inference.detector import Detector, load_detector
from deepfake.inference.records import csv_row
from deepfake.shipped_weights import DEFAULT_FACE_WEIGHTS


class BrightFaces:
    """A stand-in face detector: a face in a bright picture, none in a dark one."""
    name = "bright"

    def detect(self, image):
        return [FaceBox(8, 8, 24, 24)] if Image.Image.getextrema(image.convert("L"))[1] > 128 else []


def pair(trained_checkpoint):
    """A whole-image model that calls everything real and a face model that calls everything fake: which one
    decided is then plain from the label."""
    model, card = load_model(trained_checkpoint)
    face = Detector(model, replace(card, threshold=0.0), weights=Path("faces.safetensors"))
    whole = Detector(model, replace(card, threshold=1.0 + 1e-9), weights=Path("whole.safetensors"),
                     face_model=lambda: face)
    return whole, face


def bright(size=48):
    return Image.new("RGB", (size, size), (200, 180, 160))


def dark(size=48):
    return Image.new("RGB", (size, size), (20, 20, 20))


def test_faces_are_scored_and_decided_by_the_face_model(trained_checkpoint):
    whole, _ = pair(trained_checkpoint)
    found = whole.predict_faces(bright(), BrightFaces(), path="face.png").to_dict()
    assert found["model"] == "faces.safetensors" and found["label"] == "fake" and len(found["faces"]) == 1
    assert csv_row(found)["model"] == "faces.safetensors"
    none = whole.predict_faces(dark(), BrightFaces(), path="dark.png").to_dict()
    assert none["model"] == "whole.safetensors" and none["label"] == "real" and "no face found" in none["note"]


def test_a_video_counts_only_its_frames_with_a_face(trained_checkpoint, tmp_path, monkeypatch):
    from deepfake.data import video
    whole, face = pair(trained_checkpoint)
    frames = [video.VideoFrame(index, index / 10, picture) for index, picture in enumerate([dark(), bright(), dark()])]
    monkeypatch.setattr(video, "sample_frames", lambda path, n, on_frame=None: frames)
    record = whole.predict_video(tmp_path / "clip.mp4", 3, BrightFaces()).to_dict()
    assert record["model"] == "faces.safetensors" and record["label"] == "fake"
    assert [frame.get("counted", True) for frame in record["frames"]] == [False, True, False]
    assert record["fake_probability"] == pytest.approx(record["frames"][1]["fake_probability"], abs=1e-6)
    frames[1] = video.VideoFrame(1, 0.1, dark())  # no face anywhere: the whole-image model, every frame
    record = whole.predict_video(tmp_path / "clip.mp4", 3, BrightFaces()).to_dict()
    assert record["model"] == "whole.safetensors" and "counted" not in str(record["frames"])


def test_own_weights_score_faces_themselves(trained_checkpoint):
    detector = load_detector(trained_checkpoint)
    assert detector.face_model() is detector
    record = detector.predict_faces(bright(), BrightFaces(), path="face.png").to_dict()
    assert record["model"] == Path(trained_checkpoint).name


def test_the_shipped_weights_bring_the_shipped_face_model():
    detector = load_detector()
    assert detector.face_model().weights == DEFAULT_FACE_WEIGHTS and detector.face_model().card.preprocessing.faces
    whole_only = load_detector(face_model=False)  # the face path before the face model (benchmarks/faces.py)
    assert whole_only.face_model() is whole_only


def test_predict_faces_with_the_shipped_pair_names_the_face_model(tmp_path):
    """As a user runs it: the astronaut's face is scored by the face model, the coffee (no face) by the
    whole-image model, and the JSON and the CSV say which."""
    from skimage import data
    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    result = run_script("predict.py", "--image_path", str(tmp_path), "--faces", "--json", "--csv",
                        str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    records = {Path(record["path"]).name: record for record in map(json.loads, result.stdout.splitlines())}
    assert records["astronaut.png"]["model"] == "deepfake_faces.safetensors" and records["astronaut.png"]["faces"]
    assert records["coffee.png"]["model"] == "deepfake_cnn.safetensors" and records["coffee.png"]["faces"] == []
    rows = {Path(row["path"]).name: row for row in csv.DictReader(open(tmp_path / "out.csv"))}
    assert rows["astronaut.png"]["model"] == "deepfake_faces.safetensors"


def test_the_astronaut_stays_real_when_saved_as_jpeg(tmp_path):
    """Issue 49's report: with --faces, the astronaut was real as PNG and fake once saved as JPEG 85."""
    from skimage import data
    from deepfake.inference.options import PredictOptions
    detector = load_detector()
    picture = Image.fromarray(data.astronaut())
    picture.save(tmp_path / "astronaut.png")
    picture.save(tmp_path / "astronaut.jpg", quality=85)
    labels = {path.suffix: detector.predict_file(path, PredictOptions(faces=True)).label
              for path in (tmp_path / "astronaut.png", tmp_path / "astronaut.jpg")}
    assert labels == {".png": "real", ".jpg": "real"}


def test_the_overlay_is_the_deciding_models(trained_checkpoint, tmp_path, monkeypatch):
    from deepfake.inference.options import PredictOptions
    whole, face = pair(trained_checkpoint)
    asked = []
    for detector, name in ((whole, "whole"), (face, "face")):
        monkeypatch.setattr(detector, "explainable", lambda name=name: asked.append(name) or 1 / 0)
    bright().save(tmp_path / "face.png")
    dark().save(tmp_path / "dark.png")
    for picture in ("face.png", "dark.png"):
        prediction = whole.predict_faces(tmp_path / picture, BrightFaces())
        with pytest.raises(ZeroDivisionError):
            whole.with_explanation(prediction, PredictOptions(faces=True, explain=True))
    assert asked == ["face", "whole"]
