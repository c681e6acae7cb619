"""The two-view model (models/two_view.py): the whole-image view beside each native crop, at the same place;
branches started from trained checkpoints and kept frozen; prediction and Grad-CAM through the usual paths."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake.checkpoint import ModelCard, load_model, save_model
from deepfake.data.transforms import EvalTransform, build_train_transform
from deepfake.preprocessing import Preprocessing
from deepfake.registry import create_model

from conftest import run_script

SIDE = 64


def halves(width: int, height: int) -> Image.Image:
    """Left half red, right half blue: where a crop sits shows in its colour."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :width // 2, 0] = 255
    pixels[:, width // 2:, 2] = 255
    return Image.fromarray(pixels)


def test_each_crop_sits_beside_the_whole_image_at_the_same_place():
    two_view = Preprocessing(input_size=32, eval_crops=5, resize=0, global_view=32)
    image = halves(128, 64)
    views = EvalTransform(two_view)(image)
    crops = EvalTransform(Preprocessing(input_size=32, eval_crops=5, resize=0))(image)
    assert views.shape == (5, 6, 32, 32)
    assert torch.equal(views[:, 3:], crops)  # the native crops are the one-view model's
    whole_red, whole_blue = views[:, 0].mean(dim=(1, 2)), views[:, 2].mean(dim=(1, 2))
    # crops 0 and 2 are the left corners, 1 and 3 the right ones: the whole image's view follows them
    assert (whole_red[[0, 2]] > 0.9).all() and (whole_blue[[0, 2]] < -0.9).all()
    assert (whole_blue[[1, 3]] > 0.9).all() and (whole_red[[1, 3]] < -0.9).all()
    assert build_train_transform(two_view)(image).shape == (6, 32, 32)
    with pytest.raises(ValueError, match="global_view must be 0 or at least input_size"):
        Preprocessing(input_size=32, global_view=16)


def branch_checkpoint(path, resize: int, seed: int):
    torch.manual_seed(seed)
    model = create_model("mobilenet_v2", pretrained=False)
    save_model(path, model, ModelCard("mobilenet_v2", {"pretrained": False},
                                      Preprocessing(input_size=SIDE, resize=resize, eval_crops=1), threshold=0.5))
    return path, model


@pytest.mark.slow
def test_two_view_training_keeps_its_branches_and_predicts(labelled_folder, tmp_path):
    global_weights, global_model = branch_checkpoint(tmp_path / "global.safetensors", resize=SIDE, seed=1)
    trace_weights, trace_model = branch_checkpoint(tmp_path / "trace.safetensors", resize=0, seed=2)
    result = run_script("train.py", "--data", str(labelled_folder), "--arch", "two_view_mobilenet_v2",
                        "--model-kwargs", "pretrained=false", f"global_view={SIDE}", "--img-size", str(SIDE),
                        "--eval-crops", "5", "--init-branch", f"global={global_weights}",
                        "--init-branch", f"trace={trace_weights}", "--epochs", "1", "--batch-size", "8",
                        "--workers", "0", "--out", str(tmp_path / "two_view"))
    assert result.returncode == 0, result.stderr
    weights = tmp_path / "two_view" / "best.safetensors"
    model, card = load_model(weights)
    for branch, source in ((model.global_branch, global_model), (model.trace_branch, trace_model)):
        for name, tensor in source.state_dict().items():
            if not name.startswith("head."):
                assert torch.equal(branch.state_dict()[name], tensor), name  # frozen: only the head trained
    assert card.preprocessing.global_view == SIDE
    assert card.training["branches_initialised_from"]["trace"]["weights"] == str(trace_weights)
    image = tmp_path / "wide.png"
    halves(200, 120).save(image)
    predicted = run_script("predict.py", "--image_path", str(image), "--weights", str(weights), "--json",
                           "--explain", str(tmp_path / "maps"))
    assert predicted.returncode == 0, predicted.stderr
    record = json.loads(predicted.stdout)
    assert 0 <= record["fake_probability"] <= 1 and record["label"] in ("real", "fake")
    assert list((tmp_path / "maps").iterdir())


@pytest.mark.parametrize("branch, message", [
    ("face=x.safetensors", "--init-branch face=x.safetensors: this architecture has branches global, trace"),
    ("global=TRACE", "trained on images resized to native px, and the global branch reads 64 px"),
])
def test_a_branch_that_does_not_fit_fails_in_one_line(labelled_folder, tmp_path, capsys, branch, message):
    from deepfake.cli import train
    trace_weights, _ = branch_checkpoint(tmp_path / "trace.safetensors", resize=0, seed=2)
    with pytest.raises(SystemExit) as stopped:
        train(["--data", str(labelled_folder), "--arch", "two_view_mobilenet_v2", "--model-kwargs",
               "pretrained=false", f"global_view={SIDE}", "--img-size", str(SIDE), "--workers", "0",
               "--init-branch", branch.replace("TRACE", str(trace_weights)), "--epochs", "1",
               "--out", str(tmp_path / "run")])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2 and message in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
