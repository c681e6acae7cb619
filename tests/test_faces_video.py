"""Faces and videos: detection, per-face scoring, frame sampling, aggregation, bad video files."""
import csv
import json

import numpy as np
import pytest
from conftest import SHARED_DATASETS, requires_shared_data, run_script
from PIL import Image
from skimage import data

from deepfake import DeepfakeError
from deepfake.faces.detectors import (
    FACE_DETECTORS,
    FaceCropCache,
    create_face_detector,
)
from deepfake.faces.boxes import crop_face
from deepfake.data.video import sample_frames
from deepfake.inference.aggregate import AGGREGATIONS, confident_mean, top_quarter_mean


def write_video(path, image: Image.Image, n_frames: int = 30, fps: int = 10):
    import av
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = image.width, image.height, "yuv420p"
        for index in range(n_frames):
            frame = av.VideoFrame.from_image(image.rotate(index * 0.3))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def astronaut():
    return Image.fromarray(data.astronaut()).resize((256, 256))


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("media")
    astronaut.save(folder / "astronaut.png")
    Image.fromarray(data.coffee()).resize((200, 150)).save(folder / "coffee.jpg")
    write_video(folder / "clip.mp4", astronaut)
    return folder


@pytest.mark.parametrize("name", list(FACE_DETECTORS))
def test_face_detector_finds_the_astronaut_and_not_the_coffee(astronaut, name):
    detector = create_face_detector(name)
    faces = detector.detect(astronaut)
    assert len(faces) >= 1
    face = faces[0]
    assert 60 < face.x + face.width / 2 < 140 and face.y < 110  # her face is upper centre-left
    crop = crop_face(astronaut, face)
    assert crop.width == crop.height and crop.width > face.width
    assert detector.detect(Image.fromarray(data.coffee())) == []


def test_sampled_frames_are_uniform_with_timestamps(media_folder):
    frames = sample_frames(media_folder / "clip.mp4", n_frames=4)
    assert [frame.index for frame in frames] == [0, 10, 19, 29]
    assert [frame.time for frame in frames] == pytest.approx([0.0, 1.0, 1.9, 2.9], abs=0.05)
    assert frames[0].image.size == (256, 256)
    assert len(sample_frames(media_folder / "clip.mp4", n_frames=100)) == 30  # never more than there are


def test_predict_faces_on_an_image_and_the_fallback(trained_checkpoint, media_folder):
    result = run_script("predict.py", "--image_path", str(media_folder / "astronaut.png"), "--weights",
                        str(trained_checkpoint), "--faces", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["faces"] and set(record["faces"][0]) == {"x", "y", "width", "height", "fake_probability"}
    assert record["fake_probability"] == max(face["fake_probability"] for face in record["faces"])
    coffee = json.loads(run_script("predict.py", "--image_path", str(media_folder / "coffee.jpg"), "--weights",
                                   str(trained_checkpoint), "--faces", "--json").stdout)
    assert coffee["faces"] == [] and "no face found" in coffee["note"]


def test_video_verdict_with_per_frame_evidence_and_csv(trained_checkpoint, media_folder, tmp_path):
    out_csv = tmp_path / "out.csv"
    result = run_script("predict.py", "--image_path", str(media_folder), "--weights", str(trained_checkpoint),
                        "--faces", "--frames", "4", "--json", "--csv", str(out_csv))
    assert result.returncode == 0, result.stderr
    records = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in result.stdout.splitlines()}
    assert set(records) == {"astronaut.png", "coffee.jpg", "clip.mp4"}
    video = records["clip.mp4"]
    assert video["label"] in ("real", "fake") and video["aggregation"] == "mean"
    assert len(video["frames"]) == 4 and [f["index"] for f in video["frames"]] == [0, 10, 19, 29]
    assert all(frame["faces"] for frame in video["frames"])
    assert video["fake_probability"] == pytest.approx(np.mean([f["fake_probability"] for f in video["frames"]]),
                                                      abs=1e-5)
    rows = list(csv.DictReader(out_csv.open()))
    assert {row["kind"] for row in rows} == {"image", "video"} and len(rows) == 3
    assert next(row for row in rows if row["kind"] == "video")["n_frames"] == "4"


@pytest.mark.parametrize("make, reason", [
    (lambda path, clip: path.write_bytes(b""), "not a readable video"),
    (lambda path, clip: path.write_text("hello, not a video"), "not a readable video"),
    (lambda path, clip: path.write_bytes(clip.read_bytes()[:600]), "video"),
])
def test_bad_videos_get_one_line(trained_checkpoint, media_folder, tmp_path, make, reason):
    bad = tmp_path / "bad.mp4"
    make(bad, media_folder / "clip.mp4")
    result = run_script("predict.py", "--image_path", str(bad), "--weights", str(trained_checkpoint))
    # One file given: its failure is the command's, as for a bad image: one line, exit 2, FFmpeg's words
    # without its error number.
    assert result.returncode == 2 and "Traceback" not in result.stderr and "Errno" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: {bad}") and reason in result.stderr


def test_truncated_video_keeps_the_frames_before_the_damage(media_folder, tmp_path):
    clip = (media_folder / "clip.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip[: int(len(clip) * 0.6)])
    try:
        frames = sample_frames(truncated, n_frames=8)
        assert 1 <= len(frames) <= 8
    except DeepfakeError as error:  # mp4 keeps its index at the end: a cut file may not open at all
        assert "truncated.mp4" in str(error)


def test_video_without_faces_falls_back_per_frame(trained_checkpoint, tmp_path):
    clip = write_video(tmp_path / "coffee.mp4", Image.fromarray(data.coffee()).resize((160, 120)), n_frames=5)
    result = run_script("predict.py", "--image_path", str(clip), "--weights", str(trained_checkpoint), "--faces",
                        "--frames", "2", "--json")
    assert result.returncode == 0, result.stderr
    frames = json.loads(result.stdout)["frames"]
    assert len(frames) == 2 and all("no face found" in frame["note"] for frame in frames)


def test_aggregation_rules():
    scores = [0.1, 0.2, 0.9, 0.95, 0.3, 0.1, 0.2, 0.1]
    assert AGGREGATIONS["mean"](scores) == pytest.approx(np.mean(scores))
    assert top_quarter_mean(scores) == pytest.approx((0.95 + 0.9) / 2)
    assert AGGREGATIONS["max"](scores) == 0.95
    assert confident_mean([0.9, 0.95, 0.85, 0.1]) == pytest.approx(0.9)  # 3 of 4 confidently fake
    assert confident_mean([0.05, 0.1, 0.02] * 4) == pytest.approx(np.mean([0.05, 0.1, 0.02]))
    assert confident_mean([0.5, 0.6, 0.4]) == pytest.approx(0.5)


def test_face_crop_cache_detects_once(tmp_path, astronaut, monkeypatch):
    image_path = tmp_path / "face.png"
    astronaut.save(image_path)
    cache = FaceCropCache(tmp_path / "cache")
    crop, found = cache.crop(image_path)
    assert found and crop.exists() and crop.parent == tmp_path / "cache"

    def no_detection(self, image):
        raise AssertionError("detected again despite the cache")

    from deepfake.faces.mtcnn import MTCNNFaceDetector
    monkeypatch.setattr(MTCNNFaceDetector, "detect", no_detection)
    assert FaceCropCache(tmp_path / "cache").crop(image_path) == (crop, True)
    assert FaceCropCache(tmp_path / "cache", "haar").crop_path(image_path) != crop  # crops of another detector


def test_mtcnn_finds_the_boxes_of_the_reference_implementation(astronaut):
    """faces/mtcnn.py against facenet-pytorch's own MTCNN (the code in the wheel whose weights it reads): the
    same faces, boxes within a pixel."""
    reference = pytest.importorskip("facenet_pytorch.models.mtcnn")
    ours = create_face_detector("mtcnn")
    theirs = reference.MTCNN(keep_all=True, device="cpu")
    pictures = [astronaut, Image.fromarray(data.astronaut()), Image.fromarray(data.astronaut()).rotate(20),
                Image.fromarray(data.coffee())]
    for picture in pictures:
        found = ours.detect(picture)
        boxes, _ = theirs.detect(picture)
        expected = [] if boxes is None else sorted(boxes.tolist(), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]),
                                                   reverse=True)
        assert len(found) == len(expected)
        for box, (x1, y1, x2, y2) in zip(found, expected):
            assert abs(box.x - x1) <= 1 and abs(box.y - y1) <= 1
            assert abs(box.x + box.width - x2) <= 1 and abs(box.y + box.height - y2) <= 1


@pytest.mark.slow
def test_train_with_faces_records_it_in_the_checkpoint(tmp_path, astronaut):
    for label in ("real", "fake"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for index in range(6):
            image = astronaut.rotate(index * 3)
            if label == "fake":
                pixels = np.asarray(image, dtype=np.float32)
                pixels[::2, ::2] += 30
                image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
            image.save(tmp_path / "data" / label / f"{index}.png")
    args = ["--data", str(tmp_path / "data"), "--faces", "--arch", "artifact_cnn_tiny", "--epochs", "1",
            "--img-size", "32", "--batch-size", "4", "--workers", "0", "--out", str(tmp_path / "run")]
    result = run_script("train.py", *args)
    assert result.returncode == 0, result.stderr
    assert "12 of 12 images cropped to a face" in result.stdout
    assert len(list((tmp_path / "run" / "face_cache").glob("*.png"))) == 12
    described = json.loads(run_script("load_model.py", "--weights", str(tmp_path / "run" / "best.safetensors"),
                                      "--json").stdout)
    assert described["faces"] is True


@requires_shared_data
@pytest.mark.parametrize("name", list(FACE_DETECTORS))
def test_face_recall_on_real_face_photos(name):
    photos = sorted((SHARED_DATASETS / "faces-stylegan" / "real").glob("*.jpg"))[:100]
    detector = create_face_detector(name)
    found = sum(bool(detector.detect(Image.open(photo).convert("RGB"))) for photo in photos)
    assert found >= 90, f"face recall {found}/100"


def test_mtcnn_crops_all_windows_at_once_as_one_resize_each_would():
    """The batched crops read off the integral image are F.interpolate(mode="area") of each box, clipped."""
    import torch
    import torch.nn.functional as F

    from deepfake.faces.mtcnn import _crops, integral_image
    torch.manual_seed(0)
    pixels = (torch.rand(1, 3, 90, 120) * 255).round()
    boxes = torch.tensor([[10.0, 20.0, 60.0, 80.0], [-5.0, -5.0, 30.0, 20.0], [100.0, 70.0, 130.0, 100.0],
                          [40.0, 40.0, 41.0, 41.0]])
    crops, kept = _crops(integral_image(pixels), boxes, 24)
    expected = []
    for x1, y1, x2, y2 in boxes.trunc().int().tolist():
        x1, y1, x2, y2 = max(0, x1 - 1), max(0, y1 - 1), min(120, x2), min(90, y2)
        expected.append(F.interpolate(pixels[:, :, y1:y2, x1:x2], size=(24, 24), mode="area"))
    assert kept.tolist() == [0, 1, 2, 3]
    assert torch.allclose(crops, torch.cat(expected), atol=1e-3)


def test_mtcnn_searches_a_large_picture_shrunk_and_scales_the_boxes_back(astronaut):
    from deepfake.faces.mtcnn import MAX_DETECTION_SIDE
    detector = create_face_detector("mtcnn")
    small = Image.fromarray(data.astronaut())  # 512 px: searched as it is
    large = small.resize((4 * MAX_DETECTION_SIDE // 2, 4 * MAX_DETECTION_SIDE // 2), Image.BICUBIC)  # 2,048 px
    face, = detector.detect(small)[:1]
    big_face, = detector.detect(large)[:1]
    # The same face at four times the size, to within 5% of its width (found at another pyramid scale).
    tolerance = 0.05 * 4 * face.width
    for found, expected in ((big_face.x, 4 * face.x), (big_face.y, 4 * face.y), (big_face.width, 4 * face.width)):
        assert abs(found - expected) <= tolerance
