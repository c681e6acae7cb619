"""Pseudo-fakes: self-blended faces, TAEF2 reconstructions, the synthesize command and training with them."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import (SHARED_DATASETS, TINY_TRAINING, face_image, make_face_folder, make_labelled_folder,
                      requires_shared_data, run_script, synthetic_image)
from deepfake.checkpoint import load_model
from deepfake.data.datasets import discover_labelled_images, split_train_val
from deepfake.synthesis import PseudoFakeCache, create_method
from deepfake.synthesis.methods import NoFaceFound
from deepfake.faces.landmarks import FaceLandmarker
from deepfake.synthesis.self_blend import hull_mask, self_blend_parts, spill_limit

TAEF2_DIR = SHARED_DATASETS.parent / "anchors" / "taef2"


def oval_landmarks(centre, radii, n: int = 60) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    points = [centre[0] + radii[0] * np.cos(angles), centre[1] + radii[1] * np.sin(angles)]
    return np.stack(points, 1).astype(np.float32)


@pytest.mark.parametrize("seed", range(40))
def test_self_blend_mask_follows_the_landmarks(seed):
    """SBI's mask is the landmarks' hull, deformed and blurred within a bound: with the face off the crop's
    centre, no pixel outside the hull's dilation may take anything from the altered copy."""
    rng = np.random.default_rng(seed)
    image = synthetic_image(rng, fake=False, size=128)
    points = oval_landmarks(centre=(40 + seed % 5 * 10, 80 - seed % 3 * 15), radii=(22, 30))
    parts = self_blend_parts(image, points, rng)
    blended = np.asarray(parts.image, dtype=np.float32)
    changed = np.abs(blended - parts.target).max(axis=2) > 1  # pixels the source reached
    outside = spill_limit(128, 128, points) == 0
    assert changed.any() and not changed[outside].any()
    assert parts.mask[outside].max(initial=0) == 0
    # ... and it is the face's own region, not a thin ring: most of the hull takes the source
    assert (parts.mask[hull_mask(128, 128, points) > 0] > 0).mean() > 0.6


def test_landmarks_find_a_real_face_and_no_face_in_noise():
    landmarker = FaceLandmarker()
    points = landmarker(face_image(np.random.default_rng(0), size=128))
    assert points.shape == (468, 2)
    # centred on the face the crop holds (the mesh may run a little past a tight crop's chin), and spread over
    # it rather than bunched in one spot
    assert ((points.mean(axis=0) > 30) & (points.mean(axis=0) < 100)).all()
    assert np.ptp(points[:, 0]) > 40 and np.ptp(points[:, 1]) > 50
    assert landmarker(synthetic_image(np.random.default_rng(0), fake=False, size=128)) is None


def test_pseudo_fakes_are_deterministic_by_content_and_cached(tmp_path):
    image = face_image(np.random.default_rng(0))
    image.save(tmp_path / "a.png")
    image.save(tmp_path / "same_photo_elsewhere.png")
    face_image(np.random.default_rng(1)).save(tmp_path / "b.png")
    synthetic_image(np.random.default_rng(0), fake=False).save(tmp_path / "no_face.png")
    cache = PseudoFakeCache(tmp_path / "cache", create_method("sbi"))
    first = cache.make(tmp_path / "a.png")
    assert cache.make(tmp_path / "same_photo_elsewhere.png") == first  # keyed by the bytes, not the path
    made = first.read_bytes()
    first.write_bytes(b"kept")  # a cache hit never remakes the file
    assert cache.make(tmp_path / "a.png").read_bytes() == b"kept"
    first.unlink()
    assert cache.make(tmp_path / "a.png").read_bytes() == made  # remade identically
    assert cache.make(tmp_path / "b.png") != first
    assert first.parent.name == "sbi-v2"
    for _ in range(2):  # no face: no pseudo-fake, and the second look is the marker's
        with pytest.raises(NoFaceFound, match="no_face.png"):
            cache.make(tmp_path / "no_face.png")


@pytest.mark.skipif(not TAEF2_DIR.is_dir(), reason="../shared/anchors/taef2 is not beside the project")
@requires_shared_data
def test_taef2_reconstructs_a_photo_as_its_readme_measured():
    photo = sorted((SHARED_DATASETS / "diffusion-coco" / "real").iterdir())[0]
    image = Image.open(photo).convert("RGB").resize((256, 256))
    method = create_method("autoencoder", str(TAEF2_DIR))
    out = method.make(image, np.random.default_rng(0))
    assert out.size == (256, 256)
    error = np.abs(np.asarray(out, dtype=np.float32) - np.asarray(image, dtype=np.float32)).mean()
    assert 0.5 < error < 8  # the README: 3.6/255 at 512 px; a wrong layer would give a blur or noise


def make_paired_sources(root, n_sources: int = 8):
    """DFDC's layout: real/<source>/x.png and fake/<source>/y.png, the fake made from that source."""
    rng = np.random.default_rng(0)
    for source in range(n_sources):
        for label, folder in enumerate(("real", "fake")):
            (root / folder / f"s{source:02d}").mkdir(parents=True)
            synthetic_image(rng, fake=bool(label)).save(root / folder / f"s{source:02d}" / f"{folder}.png")
    # fakes with no real of their name, and a real without fakes, split in their own strata
    for extra in range(4):
        (root / "fake" / f"lone{extra}").mkdir()
        synthetic_image(rng, fake=True).save(root / "fake" / f"lone{extra}" / "f.png")
    return root


def test_split_by_source_keeps_a_source_and_its_fakes_together(tmp_path):
    images = discover_labelled_images(make_paired_sources(tmp_path))
    for seed in range(5):
        train, val = split_train_val(images, 0.25, seed)  # the default: by source
        assert {i.source_group for i in train}.isdisjoint({i.source_group for i in val})
        assert {i.label for i in val} == {0, 1}
    # by folder, the real and fake folders of a source are split apart for some seed
    apart = False
    for seed in range(5):
        train, val = split_train_val(images, 0.25, seed, split_by="folder")
        apart |= not {i.source_group for i in train}.isdisjoint({i.source_group for i in val})
    assert apart


def test_split_by_source_equals_split_by_folder_without_shared_names(tmp_path):
    images = discover_labelled_images(make_labelled_folder(tmp_path, n_per_class=20))
    by_source, by_folder = split_train_val(images, 0.2, 0), split_train_val(images, 0.2, 0, "folder")
    assert [[i.path for i in side] for side in by_source] == [[i.path for i in side] for side in by_folder]


@pytest.mark.slow
def test_synthesize_writes_pairs_train_reads_and_resumes(tmp_path):
    data = make_face_folder(tmp_path / "set", n_per_class=6)
    (data / "real" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out = tmp_path / "sbi"
    result = run_script("-m", "deepfake.synthesize", "sbi", "--data", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "corrupt.png" in result.stderr and "Traceback" not in result.stderr
    assert "6 pairs" in result.stdout
    assert sorted(p.relative_to(out / "fake").as_posix() for p in (out / "fake").rglob("*.png"))[:1] == ["000/000.png"]
    assert (out / "real" / "000" / "000.png").resolve() == (data / "real" / "000.png").resolve()
    manifest = json.loads((out / "synthesis.json").read_text())
    assert manifest["method"] == "sbi" and manifest["n_pairs"] == 6 and manifest["n_failed"] == 1
    made = {p: p.stat().st_mtime_ns for p in (out / "fake").rglob("*.png")}
    again = run_script("-m", "deepfake.synthesize", "sbi", "--data", str(data), "--out", str(out))
    assert again.returncode == 0 and {p: p.stat().st_mtime_ns for p in made} == made  # nothing remade
    images = discover_labelled_images(out)
    train, val = split_train_val(images, 0.34, 0)
    assert {i.source_group for i in train}.isdisjoint({i.source_group for i in val})  # pairs stay whole


@pytest.mark.slow
def test_reals_only_training_never_sees_a_real_fake(tmp_path):
    data = make_face_folder(tmp_path / "set", n_per_class=12)
    run = tmp_path / "run"
    result = run_script("train.py", "--data", str(data), *TINY_TRAINING, "--epochs", "2",
                         "--pseudo-fakes", "sbi",
                        "--reals-only", "--epoch-size", "16", "--out", str(run))
    assert result.returncode == 0, result.stderr
    _, card = load_model(run / "best.safetensors")
    record = card.training["pseudo_fakes"]
    assert record["reals_only"] and record["methods"] == [{"method": "sbi", "version": 2}]
    # 12 reals split 9/3 (the folder's split, as without pseudo-fakes): one pseudo-fake each
    assert (record["n_train"], record["n_val"]) == (9, 3)
    assert card.training["split_by"] == "source" and card.training["epoch_size"] == 16
    assert len(list((run / "pseudo_fakes" / "sbi-v2").glob("*.png"))) == 12
    assert len((run / "log.csv").read_text().splitlines()) == 3  # a header and two epochs
    # --split val on this checkpoint scores its held-back reals against the folder's real fakes
    scores = tmp_path / "scores.csv"
    evaluation = run_script("evaluate.py", "--data", str(data), "--split", "val", "--weights",
                            str(run / "best.safetensors"), "--scores", str(scores))
    assert evaluation.returncode == 0, evaluation.stderr
    rows = scores.read_text().splitlines()[1:]
    assert len(rows) == 6 and sum("/fake/" in row for row in rows) == 3
    resumed = run_script("train.py", "--data", str(data), *TINY_TRAINING, "--epochs", "2",
                          "--epoch-size", "16",
                         "--out", str(run), "--resume")
    assert resumed.returncode == 2 and "--pseudo-fakes" in resumed.stderr


def test_old_checkpoints_keep_the_split_they_recorded(tmp_path):
    from types import SimpleNamespace
    from deepfake.data.datasets import discover_roots, select_split
    from deepfake.evaluation.evaluate import recorded_split
    root = make_paired_sources(tmp_path)
    images_by_root = discover_roots([root])
    images = images_by_root[str(root)]
    differs = False
    for seed in range(5):
        old = SimpleNamespace(training={"split_by": "folder", "seed": seed, "val_fraction": 0.25})
        val = select_split(images_by_root, "val", **recorded_split(old))
        assert [i.path for i in val] == [i.path for i in split_train_val(images, 0.25, seed, "folder")[1]]
        differs |= {i.path for i in val} != {i.path for i in split_train_val(images, 0.25, seed)[1]}
    assert differs  # so the recorded rule, not the new default, is what reproduced it
    peer = SimpleNamespace(training={})  # a converted model records no split: today's default
    assert recorded_split(peer)["split_by"] == "source"


def test_a_folder_of_pairs_can_be_capped_and_large_photos_cropped_at_native_scale(tmp_path):
    """synthesize --max-images takes the same N images on every machine; --max-pixels gives a large photo's
    central crop, unresized, on both sides of its pair."""
    from deepfake.synthesis.folder import synthesize_folder
    rng = np.random.default_rng(0)
    (tmp_path / "reals").mkdir()
    for index in range(5):
        face_image(rng, size=64).save(tmp_path / "reals" / f"{index}.png")
    runs = [synthesize_folder("sbi", tmp_path / "reals", tmp_path / f"out{run}", show_progress=False,
                              on_failure=lambda message: None, max_images=3) for run in range(2)]
    assert runs[0]["n_pairs"] == 3 and runs[0]["max_images"] == 3
    chosen = [sorted(path.name for path in (tmp_path / f"out{run}" / "real").rglob("*.png")) for run in range(2)]
    assert chosen[0] == chosen[1]
    (tmp_path / "big").mkdir()
    photo = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    photo[100:200, 150:250] = np.asarray(face_image(rng, size=100))  # the face self-blending needs, at the centre
    Image.fromarray(photo).save(tmp_path / "big" / "large.png")
    made = synthesize_folder("sbi", tmp_path / "big", tmp_path / "cropped", show_progress=False, max_pixels=100 * 100)
    assert made["n_cropped"] == 1
    crop = np.asarray(Image.open(tmp_path / "cropped" / "real" / "large" / "large.png"))
    assert np.array_equal(crop, photo[100:200, 150:250])  # the centre, not resized
    assert Image.open(tmp_path / "cropped" / "fake" / "large" / "large.png").size == (100, 100)
