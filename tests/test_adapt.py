"""Adaptation (deepfake/adaptation/, python -m deepfake.adapt, Detector.adapt): a few dozen images of a new kind
of fake change the verdict on that kind, and leave a control set's scores where they were."""
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from conftest import make_labelled_folder, run_script
from deepfake import DeepfakeError, load_detector
from deepfake.checkpoint import load_model
from deepfake.adaptation import (
    MIN_PER_CLASS,
    Replay,
    adapt_checkpoint,
    held_out_images,
    replay_path,
)


def new_generator_fakes(folder, n, seed=7):
    """A fake the base model never saw: a coarse 4-pixel stripe pattern instead of the fixture's 2-pixel checks."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n):
        base = rng.normal(128, 30, (6, 6, 3)).clip(0, 255).astype(np.uint8)
        pixels = np.asarray(Image.fromarray(base).resize((48, 48), Image.BICUBIC), dtype=np.float32)
        pixels[:, ::4] -= 45
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{index:03d}.png")
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def adapted(trained_checkpoint, labelled_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt")
    fakes = new_generator_fakes(root / "new" / "fake", 40)
    out = root / "adapted.safetensors"
    base = root / "base.safetensors"
    base.write_bytes(trained_checkpoint.read_bytes())  # its replay set is written beside it: keep the fixture's clean
    result = run_script("-m", "deepfake.adapt", "--weights", str(base), "--data", str(root / "new"),
                        "--out", str(out), "--replay-data", str(labelled_folder))
    assert result.returncode == 0, result.stderr
    return base, out, fakes, result, root


@pytest.mark.slow  # an adaptation run through the CLI
def test_adaptation_catches_the_new_fakes_and_keeps_the_old_scores(adapted, labelled_folder, tmp_path):
    base, out, fakes, result, root = adapted
    assert "adapted on 40 fake and 0 real images (10 and 0 of them held out" in result.stdout
    before, after = load_detector(base), load_detector(out)
    unseen = new_generator_fakes(tmp_path / "more", 20, seed=99)  # more of the new generator, never trained on
    caught_before = sum(before.predict(path).label == "fake" for path in unseen)
    caught_after = sum(after.predict(path).label == "fake" for path in unseen)
    assert caught_before <= 5 and caught_after >= 15, (caught_before, caught_after)  # measured: 1 -> 17 of 20
    # The control set, the base model's own kind of real and fake: ranked as well as before (ROC-AUC, as the
    # k-shot benchmark measures every other family), and still called right. Probabilities themselves move: the
    # calibration is fitted afresh, and the old fakes come out surer than before.
    control = make_labelled_folder(tmp_path / "control", n_per_class=40, seed=5)
    paths = sorted((control / "real").iterdir()) + sorted((control / "fake").iterdir())
    labels = [0] * 40 + [1] * 40
    old = [result.fake_probability for result in before.predict_paths(paths, workers=0)]
    new = list(after.predict_paths(paths, workers=0))
    assert roc_auc_score(labels, [result.fake_probability for result in new]) >= roc_auc_score(labels, old) - 0.03
    assert np.mean([result.label == ("fake" if label else "real") for result, label in zip(new, labels)]) >= 0.85


@pytest.mark.slow  # an adaptation run through the CLI
def test_the_checkpoint_records_what_it_was_adapted_on(adapted, labelled_folder):
    base, out, fakes, result, root = adapted
    card = load_model(out)[1]
    record = card.training["adaptations"][-1]
    assert record["n_fake"] == 40 and record["n_real"] == 0 and record["n_held_out"] == {"fake": 10, "real": 0}
    assert len(record["base_sha256"]) == 64 and record["date"].startswith("20")
    assert record["replay"]["data"] == [labelled_folder.name] and record["replay"]["n_train"] > 0
    assert "held-out quarter" in card.threshold_rule
    # The replay sets: the base's beside the base, and the adapted one beside the output, which holds the new
    # images' features too, so a second adaptation does not forget the first.
    base_replay, next_replay = Replay.load(replay_path(base)), Replay.load(replay_path(out))
    assert len(next_replay.train.crops_per_image) == len(base_replay.train.crops_per_image) + 30
    described = run_script("load_model.py", "--weights", str(out))
    assert f"adapted         {record['date']} on 40 fake + 0 real images" in described.stdout


def test_the_threshold_is_never_chosen_on_a_trained_image():
    paths = [f"new/fake/{index}.png" for index in range(40)] + [f"new/real/{index}.png" for index in range(12)]
    labels = [1] * 40 + [0] * 12
    held = held_out_images(paths, labels)
    assert sum(labels[index] for index in held) == 10 and sum(1 - labels[index] for index in held) == 3
    # Chosen by a hash of the path, not by the order given: a repeated run holds out the same images.
    assert sorted(paths[index] for index in held) == sorted(
        list(reversed(paths))[index] for index in held_out_images(list(reversed(paths)), list(reversed(labels))))


@pytest.mark.slow  # an adaptation run through the CLI
def test_detector_adapt_returns_a_new_detector(adapted, tmp_path):
    base, out, fakes, result, root = adapted
    detector = load_detector(base)
    adapted_detector = detector.adapt(fakes[:16], out=tmp_path / "again.safetensors")
    assert adapted_detector is not detector and adapted_detector.card.training["adaptations"][-1]["n_fake"] == 16
    assert detector.card.training.get("adaptations") is None  # the base is left as it was
    assert (tmp_path / "again.replay.safetensors").is_file()


@pytest.mark.slow  # an adaptation run through the CLI
def test_too_few_images_or_no_replay_is_one_clear_error(adapted, tmp_path):
    base, out, fakes, result, root = adapted
    few = new_generator_fakes(tmp_path / "few" / "fake", MIN_PER_CLASS - 1)
    with pytest.raises(DeepfakeError, match=f"7 fake images given: adaptation needs at least {MIN_PER_CLASS}"):
        adapt_checkpoint(base, few, [], tmp_path / "out.safetensors")
    cli = run_script("-m", "deepfake.adapt", "--weights", str(base), "--data", str(tmp_path / "few"),
                     "--out", str(tmp_path / "out.safetensors"))
    assert cli.returncode == 2 and cli.stderr.strip().splitlines()[-1].startswith("error: 7 fake images given")
    missing = run_script("-m", "deepfake.adapt", "--weights", str(base), "--data", str(tmp_path / "nothing"),
                         "--out", str(tmp_path / "out.safetensors"))
    assert missing.returncode == 2 and "no fake/ folder" in missing.stderr and "Traceback" not in missing.stderr
    lone = tmp_path / "lone.safetensors"  # a checkpoint without its replay set beside it
    lone.write_bytes(base.read_bytes())
    with pytest.raises(DeepfakeError, match="--replay-data"):
        load_detector(lone).adapt(fakes)


def test_the_shipped_weights_come_with_their_replay_set():
    from deepfake import DEFAULT_WEIGHTS
    from deepfake.models.base import frozen_weights_digest
    replay = Replay.load(replay_path(DEFAULT_WEIGHTS))
    card = load_model(DEFAULT_WEIGHTS)[1]
    assert replay.data == [entry["name"] for entry in card.training["data"]]  # every folder it trained on
    assert len(replay.train.crops_per_image) >= 500 and set(replay.train.labels.tolist()) == {0.0, 1.0}
    assert replay.embedding == frozen_weights_digest(load_model(DEFAULT_WEIGHTS)[0])  # made by this very network


def test_the_same_images_and_seed_give_the_same_head():
    """The head's dropout drew from torch's unseeded global generator: one command gave thresholds 0.59-0.65."""
    import torch
    from torch import nn

    from deepfake.adaptation import AdaptSettings, fit_head
    from deepfake.training.feature_cache import FeatureSet
    rng = torch.Generator().manual_seed(0)
    new = FeatureSet(torch.randn(40, 16, generator=rng), torch.tensor([1.0, 0.0] * 10), list(range(20)), [2] * 20)
    replay = FeatureSet(torch.randn(60, 16, generator=rng), torch.tensor([1.0, 0.0] * 15), list(range(30)), [2] * 30)
    head = nn.Sequential(nn.Dropout(0.5), nn.Linear(16, 1))  # as MobileNetV2's classifier
    heads = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # whatever state the caller left the global generator in
        heads.append(fit_head(head, new, replay, AdaptSettings(steps=20, seed=0)))
    assert all(torch.equal(a, b) for a, b in zip(heads[0].state_dict().values(), heads[1].state_dict().values()))
    other_seed = fit_head(head, new, replay, AdaptSettings(steps=20, seed=1))
    assert not torch.equal(other_seed[1].weight, heads[0][1].weight)  # the seed is what decides
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    fit_head(head, new, replay, AdaptSettings(steps=2))
    assert torch.equal(torch.rand(1), before)  # the caller's generator is left as it was
