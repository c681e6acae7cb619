"""The toolkit's tools on every pretrained architecture: ONNX export, Grad-CAM, robustness and stress sweeps,
and end-to-end fused training (DDP: test_distributed.py)."""
import json

import numpy as np
import pytest
import torch

from conftest import run_script, synthetic_image
from deepfake import create_model, load_detector
from deepfake.checkpoint import ModelCard, save_model
from deepfake.inference.explain import grad_cam
from deepfake.inference.onnx_export import export_onnx
from deepfake.preprocessing import Preprocessing
from test_pretrained import NEW_ARCHS

pytestmark = pytest.mark.slow  # the pretrained backbones' ports, exports and sweeps, DINOv2's among them


def random_checkpoint(arch: str, path, input_size: int = 96, **kwargs):
    """Random weights (no wheel read): what is tested here is the graph, not what it learnt."""
    kwargs = dict(kwargs, pretrained=False)
    if arch.startswith("fused_"):
        kwargs.update(cnn="artifact_cnn_tiny", cnn_input_size=64)  # the CNN branch on its own, smaller view
    torch.manual_seed(0)
    save_model(path, create_model(arch, **kwargs), ModelCard(arch, kwargs, Preprocessing(input_size=input_size, eval_crops=1)))
    return path


@pytest.mark.parametrize("arch", NEW_ARCHS)
def test_onnx_export_and_grad_cam_on_every_pretrained_architecture(arch, tmp_path):
    weights = random_checkpoint(arch, tmp_path / "m.safetensors")
    crops = torch.randn(3, 3, 96, 96)
    with torch.no_grad():
        eager = load_detector(weights, device="cpu").model(crops)
    exported = load_detector(export_onnx(weights, tmp_path / "m.onnx"), backend="onnx").model(crops)
    assert torch.allclose(eager, exported, atol=1e-4 * float(eager.abs().max()) + 1e-6)
    assert float(eager.std()) > 0  # three crops, three logits: not a constant graph

    image = synthetic_image(np.random.default_rng(1), fake=True, size=150)
    view, heatmap = grad_cam(load_detector(weights, device="cpu"), image)
    assert view.size == (96, 96) and heatmap.shape == (96, 96)  # the crop that is scored, explained
    assert np.isfinite(heatmap).all() and heatmap.max() == pytest.approx(1.0) and heatmap.min() >= 0
    assert heatmap.std() > 0.01  # a map with a place in it, not a flat wash


@pytest.mark.parametrize("arch", ["mobilenet_v2", "fused_dinov2_vits14"])
def test_export_at_the_backbones_native_size_keeps_height_and_width_dynamic(arch, tmp_path):
    """At 224 px the in-model resize has nothing to do; the exported graph must still take other sizes."""
    weights = random_checkpoint(arch, tmp_path / "m.safetensors", input_size=224)
    exported = load_detector(export_onnx(weights, tmp_path / "m.onnx"), backend="onnx").model
    eager = load_detector(weights, device="cpu").model
    for side in (224, 160):
        crops = torch.randn(2, 3, side, side)
        with torch.no_grad():
            expected = eager(crops)
        assert torch.allclose(expected, exported(crops), atol=1e-4 * float(expected.abs().max()) + 1e-6), side


@pytest.fixture(scope="module")
def fused_run(tmp_path_factory):
    """Fused end to end: the CNN branch trained from scratch beside a frozen pretrained MobileNetV2."""
    from test_pretrained import make_small_folder
    root = tmp_path_factory.mktemp("fused-e2e")
    data = make_small_folder(root / "data")
    result = run_script("train.py", "--data", str(data), "--arch", "fused_mobilenet_v2", "--model-kwargs",
                        "cnn=artifact_cnn_tiny", "--trainable-blocks", "0", "--img-size", "64", "--epochs", "2",
                        "--batch-size", "8", "--lr", "0.01", "--workers", "0", "--out", str(root / "run"))
    assert result.returncode == 0, result.stderr
    return data, root / "run"


def test_fused_end_to_end_trains_the_cnn_branch(fused_run):
    _, run = fused_run
    assert not (run / "feature_cache").exists()  # the CNN branch trains, so nothing is cached
    state = torch.load(run / "last.pt", weights_only=True)["model"]
    torch.manual_seed(0)
    initial = create_model("artifact_cnn_tiny").state_dict()
    moved = max((state[f"cnn.{name}"] - tensor).abs().max().item() for name, tensor in initial.items()
                if not name.startswith("head.") and tensor.is_floating_point())
    assert moved > 1e-3
    assert not any(name.startswith("backbone.") for name in state)  # frozen, so restored from the wheel


def test_robustness_and_stress_sweeps_on_a_fused_model(fused_run, tmp_path):
    data, run = fused_run
    out = tmp_path / "sweeps.json"
    result = run_script("evaluate.py", "--data", str(data), "--weights", str(run / "best.safetensors"),
                        "--robustness", "--stress", "--stress-images", "8", "--attack-images", "2",
                        "--json", str(out), "--workers", "0")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [row["condition"] for row in report["robustness"]][0] == "clean" and len(report["robustness"]) == 7
    assert all(0 <= row["roc_auc"] <= 1 for row in report["robustness"] if row["roc_auc"] is not None)
    assert {row["attack"] for row in report["stress"]["adversarial"]} == {"fgsm", "pgd"}


def test_robustness_and_stress_sweeps_on_a_vision_transformer(fused_run, tmp_path):
    """The attacks back-propagate through attention here, not convolutions: a path of its own."""
    data, _ = fused_run
    weights = random_checkpoint("dinov2_vits14", tmp_path / "vit.safetensors")
    out = tmp_path / "sweeps.json"
    result = run_script("evaluate.py", "--data", str(data), "--weights", str(weights), "--robustness", "--stress",
                        "--stress-images", "4", "--attack-images", "1", "--json", str(out), "--workers", "0")
    assert result.returncode == 0, result.stderr
    stress = json.loads(out.read_text())["stress"]
    assert len(json.loads(out.read_text())["robustness"]) == 7
    assert {row["attack"] for row in stress["adversarial"]} == {"fgsm", "pgd"} and stress["n_images"] == 4
