"""Plots, training curves, Grad-CAM overlays and the HTML report exist and are well formed."""
import json
from html.parser import HTMLParser

import numpy as np
import torch
import pytest
from PIL import Image
from skimage import data

from conftest import run_script, synthetic_image
from deepfake import create_model, load_detector
from deepfake.checkpoint import ModelCard, save_model
from deepfake.inference.explain import LEGEND_HEIGHT, explanation, grad_cam, overlay, with_legend
from deepfake.faces.boxes import FaceBox
from deepfake.preprocessing import Preprocessing


def assert_picture(path, min_size=(300, 250)):
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1], image.size
        colours = np.asarray(image.convert("L"))
        assert colours.std() > 5, f"{path} is blank"


def test_training_writes_curves_beside_the_checkpoint(trained_checkpoint):
    assert_picture(trained_checkpoint.parent / "training_curves.png", (600, 250))


def test_evaluate_plots_and_report(trained_checkpoint, labelled_folder, tmp_path):
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        "--plots", str(tmp_path / "plots"), "--report", str(tmp_path / "report.html"),
                        "--workers", "0")
    assert result.returncode == 0, result.stderr
    for name in ("roc", "precision_recall", "confusion_matrix", "score_histogram", "reliability"):
        assert_picture(tmp_path / "plots" / f"{name}.png")

    class Collector(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.images, self.text = [], [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "img":
                self.images.append(dict(attrs)["src"])

        def handle_data(self, data):
            self.text.append(data)

    page = (tmp_path / "report.html").read_text()
    parser = Collector()
    parser.feed(page)
    parser.close()
    text = " ".join(parser.text)
    assert {"html", "head", "body", "table"} <= set(parser.tags)
    assert len([src for src in parser.images if src.startswith("data:image/png;base64,")]) == 5
    for fragment in ("ROC-AUC", "Worst false positives", "Worst false negatives", "artifact_cnn_tiny", "Threshold"):
        assert fragment in text
    assert "http" not in page.split("<body>")[1]  # self-contained: nothing fetched when opened
    assert "Per video" not in text  # only with --per-video


@pytest.mark.parametrize("arch, preprocessing", [
    ("artifact_cnn_tiny", Preprocessing(input_size=32)),
    ("meso4", Preprocessing(input_size=256, mean=(0, 0, 0), std=(1, 1, 1), eval_crops=1, resize=256)),
    ("mesoinception4", Preprocessing(input_size=256, mean=(0, 0, 0), std=(1, 1, 1), eval_crops=1, resize=256)),
])
def test_grad_cam_for_each_family(tmp_path, arch, preprocessing):
    save_model(tmp_path / "m.safetensors", create_model(arch), ModelCard(arch, {}, preprocessing))
    detector = load_detector(tmp_path / "m.safetensors", device="cpu")
    image = synthetic_image(np.random.default_rng(0), fake=True, size=300)
    view, heatmap = grad_cam(detector, image)
    assert heatmap.shape == (view.height, view.width)
    assert heatmap.min() >= 0 and heatmap.max() <= 1 and np.isfinite(heatmap).all()


def test_predict_explain_writes_an_overlay_per_image(trained_checkpoint, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(2):
        synthetic_image(np.random.default_rng(index), fake=bool(index), size=64).save(folder / f"img{index}.png")
    result = run_script("predict.py", "--image_path", str(folder), "--weights", str(trained_checkpoint), "--json",
                        "--explain", str(tmp_path / "why"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    names = [r["explanation"].rsplit("/", 1)[-1] for r in records]
    assert [name.split("-")[0] for name in names] == ["img0", "img1"] and all(n.endswith(".gradcam.png") for n in names)
    # The overlay at the picture's size, over a legend strip at least 320 px wide.
    assert_picture(records[0]["explanation"], (320, 64 + LEGEND_HEIGHT))


def test_flat_map_is_saved_plain_and_said(tmp_path):
    model = create_model("artifact_cnn_tiny")
    with torch.no_grad():  # every hidden unit of the head off: the score cannot depend on any region
        model.head[0].weight.zero_()
        model.head[0].bias.fill_(-1.0)
    save_model(tmp_path / "m.safetensors", model, ModelCard("artifact_cnn_tiny", {}, Preprocessing(input_size=32)))
    detector = load_detector(tmp_path / "m.safetensors", device="cpu")
    image = synthetic_image(np.random.default_rng(0), fake=True, size=48)
    picture, note = explanation(detector, image)
    assert "flat map" in note
    assert np.array_equal(np.asarray(picture), np.asarray(image))


@pytest.mark.parametrize("size, expected", [((300, 200), (300, 200)), ((2100, 700), (1024, 341))])
def test_overlay_has_the_pictures_own_size_capped(trained_checkpoint, size, expected):
    detector = load_detector(trained_checkpoint, device="cpu")
    image = synthetic_image(np.random.default_rng(1), fake=True, size=max(size)).resize(size)
    picture, _ = explanation(detector, image)
    assert picture.size == expected


def test_a_faces_overlay_is_the_whole_picture_with_the_face_box(trained_checkpoint):
    detector = load_detector(trained_checkpoint, device="cpu")
    image = Image.fromarray(data.astronaut())  # 512 x 512, her face upper centre-left
    face = FaceBox(170, 60, 110, 130)
    picture, _ = explanation(detector, image, face)
    assert picture.size == image.size
    pixels = np.asarray(picture)
    assert (pixels[face.y, face.x + 10:face.x + face.width - 10] == 255).all()  # the box's top edge, white
    untouched = np.asarray(image)[480:, 480:]  # far outside the face's crop: left as it was
    assert np.array_equal(pixels[480:, 480:], untouched)


def test_a_videos_overlay_is_its_most_suspicious_frame(trained_checkpoint, tmp_path):
    from test_faces_video import write_video
    clip = write_video(tmp_path / "clip.mp4", Image.fromarray(data.astronaut()).resize((160, 128)))
    result = run_script("predict.py", "--image_path", str(clip), "--weights", str(trained_checkpoint), "--json",
                        "--frames", "4", "--explain", str(tmp_path / "why"))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    worst = max(record["frames"], key=lambda frame: frame["fake_probability"])
    assert record["explanation_frame"] == worst["index"]
    with Image.open(record["explanation"]) as picture:
        assert picture.size == (320, 128 + LEGEND_HEIGHT)


def test_the_overlay_keeps_the_photo_where_the_model_did_not_look_and_has_a_legend():
    photo = synthetic_image(np.random.default_rng(3), fake=False, size=400)
    heat = np.zeros((400, 400))
    heat[100:200, 100:200] = 1.0
    painted = np.asarray(overlay(photo, heat))
    assert np.array_equal(painted[250:, 250:], np.asarray(photo)[250:, 250:])  # cold: the photo as it was
    assert not np.array_equal(painted[120:180, 120:180], np.asarray(photo)[120:180, 120:180])
    framed = with_legend(photo, {"label": "fake", "fake_probability": 0.8765}, threshold=0.5)
    assert framed.size == (400, 400 + LEGEND_HEIGHT)
    strip = np.asarray(framed)[400:]
    assert np.array_equal(np.asarray(framed)[:400], np.asarray(photo))
    ramp = strip[8, 8:8 + 400 // 3]  # the colour bar, a third of the width: jet from blue to red
    assert ramp[0, 2] > ramp[0, 0] and ramp[-1, 0] > ramp[-1, 2]
    assert (strip[:, 300:] < 200).any()  # the verdict's text, right-aligned
