import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from conftest import tiny_card
from deepfake import DeepfakeError, create_model
from deepfake.checkpoint import (FORMAT_VERSION, atomic_write_bytes, load_model, load_training_state,
                                 save_model, save_training_state)


def test_round_trip_restores_weights_and_card(tmp_path):
    model = create_model("artifact_cnn_tiny", hidden=8).eval()
    save_model(tmp_path / "m.safetensors", model, tiny_card())
    loaded, card = load_model(tmp_path / "m.safetensors")
    assert card.threshold == 0.37 and card.preprocessing.input_size == 32 and card.model_kwargs == {"hidden": 8}
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(images), loaded(images))


def test_foreign_and_missing_files_are_refused(tmp_path):
    with pytest.raises(DeepfakeError, match="no such checkpoint"):
        load_model(tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"definitely not a checkpoint")
    with pytest.raises(DeepfakeError, match="not a safetensors checkpoint"):
        load_model(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(DeepfakeError, match="not a deepfake checkpoint"):
        load_model(tmp_path / "other.safetensors")


def test_future_format_version_is_refused(tmp_path, monkeypatch):
    import deepfake.checkpoint as checkpoint
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", FORMAT_VERSION + 1)
    save_model(tmp_path / "future.safetensors", create_model("artifact_cnn_tiny"), tiny_card())
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", FORMAT_VERSION)
    with pytest.raises(DeepfakeError, match=f"format version {FORMAT_VERSION + 1}"):
        load_model(tmp_path / "future.safetensors")


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_pickle_with_a_payload_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"model": RunsCode()}, handle, protocol=2)
    with pytest.raises(DeepfakeError, match="refused to load"):
        load_training_state(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned.txt").exists()


def test_saved_files_are_readable_by_others_as_umask_allows(tmp_path):
    save_model(tmp_path / "m.safetensors", create_model("artifact_cnn_tiny"), tiny_card())
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o666 & ~mask


def test_training_state_round_trip(tmp_path):
    save_training_state(tmp_path / "last.pt", {"epoch": 3, "model": {"w": torch.ones(2)}})
    state = load_training_state(tmp_path / "last.pt")
    assert state["epoch"] == 3 and torch.equal(state["model"]["w"], torch.ones(2))


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "best.safetensors"
    target.write_bytes(b"old")

    def crash(*args):
        raise KeyboardInterrupt  # as if killed between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["best.safetensors"]  # no temp file left behind
