"""Evaluation crops: where they sit, how a batch of images with different crop counts is scored, and that
duplicate positions cost nothing and change nothing."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from conftest import run_script
from deepfake import create_model
from deepfake.checkpoint import ModelCard, load_model
from deepfake.data.datasets import ImagePathDataset, collate_skipping_failures
from deepfake.inference.forward import crop_averaged_logits
from deepfake.inference.detector import Detector
from deepfake.data.transforms import CROP_LAYOUTS, EvalTransform, crop_boxes
from deepfake.preprocessing import Preprocessing


@pytest.mark.parametrize("n_crops", sorted(CROP_LAYOUTS))
@pytest.mark.parametrize("width, height", [(128, 128), (256, 256), (512, 300), (130, 700)])
def test_crops_lie_inside_the_image_once_each(n_crops, width, height):
    boxes = crop_boxes(width, height, 128, n_crops)
    assert len(boxes) == len(set(boxes)) <= n_crops
    assert all(0 <= left <= width - 128 and 0 <= top <= height - 128 for left, top in boxes)
    if (width, height) == (128, 128):
        assert boxes == [(0, 0)]  # a face crop of exactly the model's size is scored once, not n_crops times


def test_grids_reach_every_corner_and_spread_evenly():
    assert crop_boxes(256, 256, 128, 9) == [(x, y) for y in (0, 64, 128) for x in (0, 64, 128)]
    assert crop_boxes(512, 512, 128, 16) == [(x, y) for y in (0, 128, 256, 384) for x in (0, 128, 256, 384)]
    assert set(crop_boxes(300, 200, 128, 5)) == {(0, 0), (172, 0), (0, 72), (172, 72), (86, 36)}


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="eval_crops must be one of"):
        Preprocessing(eval_crops=7)


def _model_and_card(n_crops: int):
    torch.manual_seed(0)
    model = create_model("artifact_cnn_tiny").eval()
    return model, ModelCard(arch="artifact_cnn_tiny", model_kwargs={},
                            preprocessing=Preprocessing(input_size=32, eval_crops=n_crops))


@pytest.mark.parametrize("workers", [0, 1])  # 1: the batch is concatenated in a worker's shared memory
def test_a_batch_of_mixed_sizes_scores_each_image_as_alone(tmp_path, workers):
    rng = np.random.default_rng(0)
    sizes = [(32, 32), (32, 64), (33, 33), (100, 70)]
    paths = []
    for i, (width, height) in enumerate(sizes):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(paths[-1])
    model, card = _model_and_card(9)
    transform = EvalTransform(card.preprocessing)
    loader = DataLoader(ImagePathDataset(paths, transform), batch_size=4, num_workers=workers,
                        collate_fn=collate_skipping_failures)
    batch = next(iter(loader))
    assert batch.crops_per_image == [1, 3, 4, 9]
    with torch.no_grad():
        batched = crop_averaged_logits(model, batch.images, batch.crops_per_image)
        alone = [model(transform(Image.open(path).convert("RGB"))).mean() for path in paths]
    assert torch.allclose(batched, torch.stack(alone), atol=1e-5)


def test_duplicate_positions_do_not_change_the_score(tmp_path):
    """A 32-px image under the 9-crop grid is the same single crop under every layout."""
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    probabilities = {n: Detector(*_model_and_card(n)).predict(image).fake_probability for n in CROP_LAYOUTS}
    assert np.ptp(list(probabilities.values())) < 1e-6


def test_recalibrate_switches_the_crop_layout(trained_checkpoint, labelled_folder, tmp_path):
    out = tmp_path / "sixteen.safetensors"
    result = run_script("-m", "deepfake.recalibrate", "--weights", str(trained_checkpoint), "--data",
                        str(labelled_folder), "--eval-crops", "16", "--workers", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "16 crops per image" in result.stdout
    _, before = load_model(trained_checkpoint)
    _, after = load_model(out)
    assert (before.preprocessing.eval_crops, after.preprocessing.eval_crops) == (9, 16)
    assert after.validation_metrics != before.validation_metrics  # refit on the new view, not copied


def test_crops_run_through_the_model_in_chunks_with_the_same_result(monkeypatch):
    """Bounded memory: a batch larger than CROPS_PER_FORWARD is scored chunk by chunk, and no image's mean
    depends on where the chunks fall, even when one image's crops straddle two chunks."""
    import deepfake.inference.forward as forward
    model, _ = _model_and_card(9)
    crops, counts = torch.randn(23, 3, 32, 32), [9, 4, 1, 9]
    calls = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    with torch.no_grad():
        whole = forward.crop_averaged_logits(model, crops, counts)
        monkeypatch.setattr(forward, "CROPS_PER_FORWARD", 5)
        chunked = forward.crop_averaged_logits(model, crops, counts)
    assert max(calls[1:]) <= 5 and len(calls) > 2  # the second pass really ran in chunks
    assert torch.allclose(whole, chunked, atol=1e-5)


def _mirrored(card: ModelCard) -> ModelCard:
    return replace(card, preprocessing=replace(card.preprocessing, mirror_views=True))


def test_mirror_views_follow_the_crops_and_score_an_image_and_its_mirror_alike():
    # 70x32 under the 3x3 grid: three crop positions, placed symmetrically, so the mirror image's crops are
    # the original's crops mirrored.
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (32, 70, 3), dtype=np.uint8))
    mirror_image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    model, card = _model_and_card(9)
    plain = EvalTransform(card.preprocessing)(image)
    views = EvalTransform(_mirrored(card).preprocessing)(image)
    assert len(plain) == 3 and len(views) == 6
    assert torch.equal(views[:3], plain) and torch.equal(views[3:], plain.flip(-1))
    without, with_mirrors = Detector(model, card), Detector(model, _mirrored(card))
    assert abs(without.predict(image).fake_probability - without.predict(mirror_image).fake_probability) > 1e-4
    assert with_mirrors.predict(image).fake_probability == pytest.approx(
        with_mirrors.predict(mirror_image).fake_probability, abs=1e-6)


def test_the_attack_sees_the_views_prediction_sees():
    from deepfake.evaluation.attacks import differentiable_view
    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (32, 48, 3), dtype=np.uint8))
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
    for card in _model_and_card(5)[1], _mirrored(_model_and_card(5)[1]):
        assert torch.allclose(differentiable_view(card.preprocessing)(pixels),
                              EvalTransform(card.preprocessing)(image), atol=1e-6)


def test_checkpoints_written_before_mirror_views_score_as_they_did():
    written_before = Preprocessing().to_dict()
    del written_before["mirror_views"]
    assert Preprocessing.from_dict(written_before).mirror_views is False
    assert Preprocessing.from_dict(Preprocessing(mirror_views=True).to_dict()).mirror_views is True


def test_recalibrate_adds_mirror_views(trained_checkpoint, labelled_folder, tmp_path):
    assert not load_model(trained_checkpoint)[1].preprocessing.mirror_views  # train.py's default
    plain, mirrored = tmp_path / "plain.safetensors", tmp_path / "mirrored.safetensors"
    for out, flag in (plain, "--no-mirror-views"), (mirrored, "--mirror-views"):
        result = run_script("-m", "deepfake.recalibrate", "--weights", str(trained_checkpoint), "--data",
                            str(labelled_folder), flag, "--workers", "0", "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert "each also mirrored" in result.stdout
    before, after = load_model(plain)[1], load_model(mirrored)[1]
    assert (before.preprocessing.mirror_views, after.preprocessing.mirror_views) == (False, True)
    assert after.validation_metrics != before.validation_metrics


def test_one_image_and_a_folder_decode_a_large_jpeg_alike(tmp_path):
    """A checkpoint that resizes lets a large JPEG decode at a reduced scale: predict() on the path and
    predict_paths() must then score the same pixels, or predict.py on a file and on its folder would differ."""
    model, card = _model_and_card(9)
    card = replace(card, preprocessing=replace(card.preprocessing, resize=32))
    path = tmp_path / "large.jpg"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(path)
    detector = Detector(model, card)
    alone = detector.predict(path).fake_probability
    in_folder = next(detector.predict_paths([path], workers=0)).fake_probability
    assert alone == pytest.approx(in_folder, abs=1e-6)
    assert detector.transform.decode_shorter_side == 32


def test_native_resolution_training_windows_large_images_at_their_own_scale():
    from deepfake.data.format_blind import FormatChain
    from deepfake.data.transforms import NATIVE_WINDOW_FACTOR, NativeWindow, build_train_transform
    # A gradient: each pixel's value says which column it came from, so a crop tells its position and scale.
    columns = np.tile(np.arange(2000, dtype=np.float64) * 255 / 1999, (1500, 1))
    photo = Image.fromarray(np.stack([columns, np.zeros_like(columns), columns], axis=-1).astype(np.uint8))
    window = NativeWindow(NATIVE_WINDOW_FACTOR * 64)
    torch.manual_seed(0)
    lefts = set()
    for _ in range(20):
        cut = window(photo)
        assert cut.size == (256, 256)
        lefts.add(int(np.asarray(cut)[0, 0, 0]))
    assert len(lefts) > 10  # a fresh place each draw, anywhere across the image
    assert window(Image.new("RGB", (100, 300))).size == (100, 256)  # a side shorter than the window stays whole
    native = Preprocessing(input_size=64, resize=0, eval_crops=1)
    crop = build_train_transform(native, format_chain=FormatChain())(photo)
    assert crop.shape == (3, 64, 64)
    # At native scale a 64-px crop spans at most 64 columns of 2000 (about 8 grey levels), up to a chain's 0.5x.
    span = (crop[0].max() - crop[0].min()) * 0.5 * 255  # the tensor is normalised with std 0.5
    assert span <= 2 * 64 * 255 / 1999 + 8
