from pathlib import Path

import pytest
from PIL import Image

from deepfake import DeepfakeError
from deepfake.data.datasets import discover_labelled_images, load_split, split_train_val


def touch_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path)
    return path


def test_layouts_real_fake_and_cnndetection_nested(tmp_path):
    touch_image(tmp_path / "real" / "a.png")
    touch_image(tmp_path / "fake" / "b.jpg")
    touch_image(tmp_path / "progan" / "cat" / "0_real" / "c.png")
    touch_image(tmp_path / "progan" / "cat" / "1_fake" / "d.png")
    touch_image(tmp_path / "unlabelled" / "e.png")  # no class folder above it: ignored
    (tmp_path / "real" / "notes.txt").write_text("not an image")
    found = {image.path.name: image.label for image in discover_labelled_images(tmp_path)}
    assert found == {"a.png": 0, "b.jpg": 1, "c.png": 0, "d.png": 1}


def test_missing_or_unlabelled_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DeepfakeError, match="no such folder"):
        discover_labelled_images(tmp_path / "absent")
    touch_image(tmp_path / "photos" / "a.png")
    with pytest.raises(DeepfakeError, match="real/"):
        discover_labelled_images(tmp_path)


def make_video_frames(root: Path, n_videos: int = 10, frames: int = 4) -> Path:
    for label in ("real", "fake"):
        for video in range(n_videos):
            for frame in range(frames):
                touch_image(root / label / f"{video:03d}" / f"{frame}.png")
    return root


def test_split_is_deterministic_stratified_and_keeps_videos_whole(tmp_path):
    images = discover_labelled_images(make_video_frames(tmp_path))
    train, val = split_train_val(images, val_fraction=0.2, seed=3)
    again_train, again_val = split_train_val(list(reversed(images)), val_fraction=0.2, seed=3)
    assert sorted(map(str, (i.path for i in val))) == sorted(map(str, (i.path for i in again_val)))
    assert {i.group for i in train}.isdisjoint({i.group for i in val})
    assert sum(i.label for i in val) == len(val) / 2  # 2 of 10 videos per class, 4 frames each
    assert len(val) == 16 and len(train) == 64
    other_train, other_val = split_train_val(images, val_fraction=0.2, seed=4)
    assert {i.group for i in val} != {i.group for i in other_val}


def test_split_by_file_splits_frames_independently(tmp_path):
    images = discover_labelled_images(make_video_frames(tmp_path, n_videos=1))
    with pytest.raises(DeepfakeError, match="split-by file"):
        split_train_val(images, 0.2, seed=0)  # one video per class cannot be split by video
    train, val = split_train_val(images, 0.25, seed=0, split_by="file")
    assert len(val) == 2 and {i.group for i in train} == {i.group for i in val}


def test_each_root_is_split_on_its_own(tmp_path):
    first, second = make_video_frames(tmp_path / "a"), make_video_frames(tmp_path / "b", n_videos=6)
    _, val_alone, _ = load_split([first], 0.25, seed=0)
    _, val_together, summary = load_split([first, second], 0.25, seed=0)
    assert {str(i.path) for i in val_alone} <= {str(i.path) for i in val_together}
    assert [entry["name"] for entry in summary] == ["a", "b"]
    assert len(summary[0]["file_list_sha256"]) == 16


def test_train_fraction_keeps_whole_videos_and_the_full_runs_validation(tmp_path):
    root = make_video_frames(tmp_path, n_videos=20)
    train, val, summary = load_split([root], 0.2, seed=0)
    half_train, half_val, half_summary = load_split([root], 0.2, seed=0, train_fraction=0.5)
    assert [i.path for i in half_val] == [i.path for i in val]
    assert {i.path for i in half_train} < {i.path for i in train}
    # 16 training videos per class, 8 kept per class, each with all 4 of its frames
    assert len({i.group for i in half_train}) == 16 and len(half_train) == 64
    assert sum(i.label for i in half_train) == 32
    assert half_summary[0]["n_train"] == 64 and summary[0]["n_train"] == 128
    with pytest.raises(DeepfakeError, match="--train-fraction"):
        load_split([root], 0.2, seed=0, train_fraction=0)


def test_a_class_with_one_group_is_refused_and_a_one_class_folder_splits(tmp_path):
    touch_image(tmp_path / "real" / "a.png")
    touch_image(tmp_path / "real" / "b.png")
    train, val = split_train_val(discover_labelled_images(tmp_path), 0.5, seed=0)
    assert len(train) == len(val) == 1  # one class only: the trainer checks that the folders hold both
    touch_image(tmp_path / "fake" / "c.png")
    with pytest.raises(DeepfakeError, match="only 1 fake group to split"):
        split_train_val(discover_labelled_images(tmp_path), 0.2, seed=0)


def test_roots_of_one_class_each_split_and_train_together(tmp_path):
    """The corpus lays out each generator and each camera source as its own root, holding one class."""
    from conftest import make_labelled_folder
    from deepfake.training.trainer import TrainConfig, fit
    reals = make_labelled_folder(tmp_path / "cameras", n_per_class=12, layout=("real", "ignored"))
    fakes = make_labelled_folder(tmp_path / "generator", n_per_class=12, layout=("ignored", "fake"))
    train, val, summary = load_split([reals, fakes], 0.25, seed=0)
    assert {image.label for image in train} == {image.label for image in val} == {0, 1}
    assert [(entry["n_real"], entry["n_fake"]) for entry in summary] == [(12, 0), (0, 12)]
    config = dict(out_dir=str(tmp_path / "run"), arch="artifact_cnn_tiny", epochs=1, img_size=32, batch_size=8,
                  workers=0, show_progress=False, device="cpu")
    assert fit(TrainConfig(data_dirs=[str(reals), str(fakes)], **config), log=lambda message: None).exists()
    with pytest.raises(DeepfakeError, match=r"the training split has \{'n_real': 0, 'n_fake': 9\}"):
        fit(TrainConfig(data_dirs=[str(fakes)], **config), log=lambda message: None)
