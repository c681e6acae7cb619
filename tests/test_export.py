"""ONNX export: the exported graph, run by onnxruntime, gives the PyTorch model's probabilities."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_script
from deepfake import load_detector
from deepfake.errors import DeepfakeError
from deepfake.inference.onnx_export import export_onnx
from deepfake.inference.detector import DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def varied_images(tmp_path_factory):
    """Photos-like noise at several sizes and aspect ratios: exercises the dynamic height and width."""
    folder = tmp_path_factory.mktemp("varied")
    rng = np.random.default_rng(3)
    for index, (width, height) in enumerate([(128, 128), (300, 200), (97, 161), (512, 384), (640, 480)]):
        coarse = rng.integers(0, 255, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((width, height), Image.BICUBIC).save(folder / f"{index}.jpg", quality=85)
    return folder


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory):
    return export_onnx(DEFAULT_WEIGHTS, tmp_path_factory.mktemp("onnx") / "shipped.onnx")


@pytest.mark.slow
def test_onnx_probabilities_match_pytorch_within_1e_4(shipped_onnx, varied_images):
    paths = sorted(varied_images.iterdir())
    eager = [p.fake_probability for p in load_detector(DEFAULT_WEIGHTS, "cpu").predict_paths(paths)]
    onnx = [p.fake_probability for p in load_detector(shipped_onnx, backend="onnx").predict_paths(paths)]
    assert len(eager) == len(onnx) == len(paths)
    assert np.max(np.abs(np.array(eager) - np.array(onnx))) < 1e-4
    assert np.ptp(eager) > 1e-3  # the images differ in score, so agreement is not agreement on a constant


@pytest.mark.slow
def test_int8_export_is_smaller_keeps_the_card_and_ranks_alike(shipped_onnx, varied_images, tmp_path):
    """Quantisation moves the scores a little (how much ROC-AUC that costs is the model card's backend table,
    experiments/backend_table.py); here: a quarter of the size, the same card, scores that still track float32's."""
    int8 = export_onnx(DEFAULT_WEIGHTS, tmp_path / "int8.onnx", int8=True)
    assert int8.stat().st_size < 0.35 * shipped_onnx.stat().st_size
    assert load_detector(int8, backend="onnx").card == load_detector(shipped_onnx, backend="onnx").card
    paths = sorted(varied_images.iterdir())
    exact = [p.fake_probability for p in load_detector(shipped_onnx, backend="onnx").predict_paths(paths)]
    quantised = [p.fake_probability for p in load_detector(int8, backend="onnx").predict_paths(paths)]
    assert 0 < np.max(np.abs(np.array(exact) - np.array(quantised))) < 0.5
    assert np.corrcoef(exact, quantised)[0, 1] > 0.8


@pytest.mark.slow
def test_onnx_file_carries_the_model_card(shipped_onnx):
    onnx_detector = load_detector(shipped_onnx, backend="onnx")
    assert onnx_detector.card == load_detector(DEFAULT_WEIGHTS, "cpu").card


@pytest.mark.slow
def test_predict_cli_with_onnx_backend_matches_torch(trained_checkpoint, varied_images, tmp_path):
    exported = run_script("-m", "deepfake.export", "--weights", str(trained_checkpoint),
                          "--onnx", str(tmp_path / "tiny.onnx"))
    assert exported.returncode == 0, exported.stderr

    def scores(*backend):
        result = run_script("predict.py", "--image_path", str(varied_images), "--json", *backend)
        assert result.returncode == 0, result.stderr
        return {row["path"]: row for row in map(json.loads, result.stdout.splitlines())}

    torch_rows = scores("--weights", str(trained_checkpoint))
    onnx_rows = scores("--backend", "onnx", "--weights", str(tmp_path / "tiny.onnx"))
    assert torch_rows.keys() == onnx_rows.keys() and len(torch_rows) == 5
    for path, row in torch_rows.items():
        assert abs(row["fake_probability"] - onnx_rows[path]["fake_probability"]) < 1e-4
        assert row["label"] == onnx_rows[path]["label"]


@pytest.mark.slow
def test_onnx_backend_refuses_what_it_cannot_run(tmp_path, varied_images):
    result = run_script("predict.py", "--image_path", str(varied_images), "--backend", "onnx")
    assert result.returncode == 2 and "export this checkpoint first" in result.stderr
    assert "Traceback" not in result.stderr
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all")
    with pytest.raises(DeepfakeError, match="not a loadable ONNX model"):
        load_detector(garbage, backend="onnx")
