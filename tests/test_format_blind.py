"""The format-blind chain: its draws follow the stated shares and ranges, never depend on the image's content,
and after it the codec no longer tells two sources of different formats apart."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake.data.format_blind import CODECS, FormatBlind, FormatChain, Reencoding
from deepfake.data.transforms import NO_AUGMENTATION, build_train_transform
from deepfake.preprocessing import Preprocessing

N_DRAWS = 4000


def draws(chain: FormatChain, size=(1000, 800), view_size=1, seed=0):
    torch.manual_seed(seed)
    return [chain.draw(size, view_size) for _ in range(N_DRAWS)]


def test_the_draws_follow_the_stated_shares_and_ranges():
    chain = FormatChain()
    drawn = draws(chain)
    for codec, share in zip(CODECS, chain.codec_probabilities):
        observed = sum(d.codec == codec for d in drawn) / N_DRAWS
        assert observed == pytest.approx(share, abs=0.03), codec  # 4.5 standard errors at N = 4,000
    resized = [d.scale for d in drawn if d.scale < 1]
    assert len(resized) / N_DRAWS == pytest.approx(chain.resize_probability, abs=0.03)
    assert min(resized) >= chain.min_scale and np.mean(resized) == pytest.approx((1 + chain.min_scale) / 2, abs=0.02)
    qualities = [d.quality for d in drawn if d.codec != "none"]
    assert min(qualities) == chain.min_quality and max(qualities) == chain.max_quality
    assert np.mean(qualities) == pytest.approx((chain.min_quality + chain.max_quality) / 2, abs=1.0)
    assert all(d.quality == 0 for d in drawn if d.codec == "none")


def test_the_draws_ignore_the_image_but_never_shrink_below_the_view():
    # Two images of different sizes (the two classes of a corpus, say): the same seed draws the same codecs
    # and qualities; only the smallest scale may differ, and only to keep the network's view.
    big, small = draws(FormatChain(), (2000, 1500), 224), draws(FormatChain(), (300, 260), 224)
    assert [(d.codec, d.quality) for d in big] == [(d.codec, d.quality) for d in small]
    assert all(260 * d.scale >= 224 - 1e-6 for d in small)
    assert draws(FormatChain(), seed=1) != draws(FormatChain(), seed=0)


def encoded_bytes(image, format_name, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format_name, **options)
    return buffer.getvalue()


def test_after_the_chain_the_codec_carries_no_label():
    """'Reals' arrive as JPEG, 'fakes' as WebP: before the chain the format alone separates them; after it,
    the codec of what the model sees is drawn alike for both classes."""
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(0)
    chain, codecs_seen, labels = FormatChain(), [], []
    torch.manual_seed(0)
    for label, format_name in ((0, "JPEG"), (1, "WEBP")):
        for _ in range(300):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            original = Image.open(io.BytesIO(encoded_bytes(Image.fromarray(pixels), format_name, quality=90)))
            seen = chain.draw(original.size)
            codecs_seen.append(CODECS.index(seen.codec) if seen.codec != "none" else
                               {"JPEG": 3, "WEBP": 4}[original.format])
            labels.append(label)
    as_codec = [code if code < 3 else -1 for code in codecs_seen]  # what the model sees: a codec, or pixels
    raw_format = [0 if label == 0 else 1 for label in labels]
    assert roc_auc_score(labels, raw_format) == 1.0
    by_codec = [np.mean([c == code for c, l in zip(as_codec, labels) if l == label]) for label in (0, 1)
                for code in (0, 1, -1)]
    assert np.allclose(by_codec[:3], by_codec[3:], atol=0.08)  # the same shares in both classes


def test_a_reencoding_is_applied_as_drawn():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (100, 80, 3), dtype=np.uint8))
    assert Reencoding(1.0, "none", 0).apply(image) is image
    shrunk = Reencoding(0.5, "jpeg", 70).apply(image)
    assert shrunk.size == (40, 50) and shrunk.mode == "RGB"
    webp = Reencoding(1.0, "webp", 60).apply(image)
    assert webp.size == image.size and not np.array_equal(np.asarray(webp), np.asarray(image))


def test_the_training_transform_runs_the_chain_first():
    # First, or right after native-resolution training cuts the window its crop will come from.
    from deepfake.data.transforms import NativeWindow
    preprocessing = Preprocessing(input_size=32)
    transform = build_train_transform(preprocessing, NO_AUGMENTATION, FormatChain())
    assert [type(step) for step in transform.transforms[:2]] == [NativeWindow, FormatBlind]
    resized = build_train_transform(Preprocessing(input_size=32, resize=32), NO_AUGMENTATION, FormatChain())
    assert isinstance(resized.transforms[0], FormatBlind)
    assert transform(Image.new("RGB", (70, 50), "gray")).shape == (3, 32, 32)
    assert not any(isinstance(step, FormatBlind) for step in build_train_transform(preprocessing).transforms)


@pytest.mark.parametrize("bad", [dict(codec_probabilities=(0.5, 0.5, 0.5)), dict(min_scale=0),
                                 dict(min_quality=90, max_quality=80)])
def test_a_chain_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        FormatChain(**bad)


def test_training_records_the_chain_and_refuses_to_resume_without_it(labelled_folder, tmp_path):
    from deepfake.checkpoint import load_model
    from deepfake.errors import DeepfakeError
    from deepfake.training.trainer import TrainConfig, fit
    common = dict(data_dirs=[str(labelled_folder)], out_dir=str(tmp_path), arch="artifact_cnn_tiny", epochs=1,
                  img_size=32, batch_size=8, workers=0, show_progress=False, device="cpu")
    best = fit(TrainConfig(**common, format_blind=True), log=lambda message: None)
    assert load_model(best)[1].training["format_chain"] == FormatChain().to_dict()
    with pytest.raises(DeepfakeError, match="was started with --format-blind; resume the same way"):
        fit(TrainConfig(**common, resume=str(tmp_path / "last.pt")), log=lambda message: None)
