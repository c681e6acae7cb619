"""The weight average (--ema-decay): its arithmetic, what a run ships with it, and resuming it."""
import pytest
import torch
import torch.nn as nn

from deepfake.checkpoint import load_model, load_training_state
from deepfake.training.ema import ExponentialMovingAverage
from deepfake.errors import DeepfakeError
from deepfake.training.trainer import TrainConfig, fit


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_average_moves_towards_the_weights_by_the_warmed_up_decay():
    model = small_model()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    ema = ExponentialMovingAverage(model, decay=0.999)
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(2.0)
        model[1].num_batches_tracked.fill_(7)
    ema.update(model)
    # First update: the warm-up caps the decay at (1 + 1) / (10 + 1), far below 0.999.
    keep = 2 / 11
    averaged = ema.module.state_dict()
    torch.testing.assert_close(averaged["0.weight"], keep * before["0.weight"] + (1 - keep) * model[0].weight)
    torch.testing.assert_close(averaged["1.running_mean"], torch.full((4,), 2.0 * (1 - keep)))
    torch.testing.assert_close(averaged["0.bias"], before["0.bias"])  # unchanged weights stay put
    assert averaged["1.num_batches_tracked"].item() == 7  # a counter is copied, not averaged
    assert not any(parameter.requires_grad for parameter in ema.module.parameters())


def test_decay_reaches_its_nominal_value_after_warm_up():
    ema = ExponentialMovingAverage(small_model(), decay=0.99)
    assert ema.current_decay() == pytest.approx(1 / 10)
    ema.updates = 10_000
    assert ema.current_decay() == 0.99


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_decay_outside_zero_one_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(small_model(), decay)


def tiny_config(folder, out_dir, **changes) -> TrainConfig:
    settings = dict(data_dirs=[str(folder)], out_dir=str(out_dir), arch="artifact_cnn_tiny", epochs=3, batch_size=8,
                    lr=0.01, img_size=32, workers=0, show_progress=False, ema_decay=0.9)
    return TrainConfig(**{**settings, **changes})


def test_a_run_with_ema_validates_and_saves_the_average(labelled_folder, tmp_path):
    best = fit(tiny_config(labelled_folder, tmp_path, epochs=1))
    state = load_training_state(tmp_path / "last.pt")
    shipped, card = load_model(best)
    assert card.training["ema_decay"] == 0.9
    # One epoch: best.safetensors is that epoch's average, which is not the trained weights.
    for name, tensor in shipped.state_dict().items():
        torch.testing.assert_close(tensor, state["ema"]["module"][name])
    assert any(not torch.equal(tensor, state["model"][name]) for name, tensor in shipped.state_dict().items()
               if tensor.is_floating_point())
    # load_model.py on last.pt describes the same weights its card was calibrated for.
    from_state, _ = load_model(tmp_path / "last.pt")
    for name, tensor in from_state.state_dict().items():
        torch.testing.assert_close(tensor, state["ema"]["module"][name])


def test_an_interrupted_run_with_ema_resumes_to_the_same_result(labelled_folder, tmp_path):
    def interrupt_after_first_epoch(message):
        if message.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(tiny_config(labelled_folder, tmp_path / "interrupted"), log=interrupt_after_first_epoch)
    fit(tiny_config(labelled_folder, tmp_path / "interrupted",
                    resume=str(tmp_path / "interrupted" / "last.pt")), log=lambda message: None)
    fit(tiny_config(labelled_folder, tmp_path / "straight"), log=lambda message: None)

    resumed = load_training_state(tmp_path / "interrupted" / "last.pt")
    straight = load_training_state(tmp_path / "straight" / "last.pt")
    assert resumed["ema"]["updates"] == straight["ema"]["updates"] > 0
    for name, tensor in straight["ema"]["module"].items():
        torch.testing.assert_close(resumed["ema"]["module"][name], tensor)
    assert [row["val_roc_auc"] for row in resumed["history"]] == [row["val_roc_auc"] for row in straight["history"]]


@pytest.mark.parametrize("started, resumed", [(0.9, 0.0), (0.9, 0.99), (0.0, 0.9)])
def test_resuming_with_another_ema_decay_is_refused(labelled_folder, tmp_path, started, resumed):
    fit(tiny_config(labelled_folder, tmp_path, epochs=2, ema_decay=started), log=lambda message: None)
    with pytest.raises(DeepfakeError, match=f"started with --ema-decay {started:g}; resume with the same"):
        fit(tiny_config(labelled_folder, tmp_path, epochs=2, ema_decay=resumed, resume=str(tmp_path / "last.pt")))
