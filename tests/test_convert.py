"""The MesoNet port: architectures, the Keras weight mapping, and the published weights' verdicts."""
import h5py
import numpy as np
import pytest
import torch

from conftest import ROOT, run_script
from deepfake import DeepfakeError, create_model, load_detector
from deepfake.models.keras_import import convert_mesonet

ANCHORS = ROOT.parent / "shared" / "anchors" / "mesonet"

# Meso4 as Keras 2 names it in a fresh session: (layer, {weight: shape}), in creation order.
MESO4_KERAS_LAYERS = [
    ("conv2d_1", {"kernel": (3, 3, 3, 8), "bias": (8,)}),
    ("conv2d_2", {"kernel": (5, 5, 8, 8), "bias": (8,)}),
    ("conv2d_3", {"kernel": (5, 5, 8, 16), "bias": (16,)}),
    ("conv2d_4", {"kernel": (5, 5, 16, 16), "bias": (16,)}),
    *[(f"batch_normalization_{i}", {k: (n,) for k in ("gamma", "beta", "moving_mean", "moving_variance")})
      for i, n in zip(range(1, 5), (8, 8, 16, 16))],
    ("dense_1", {"kernel": (1024, 16), "bias": (16,)}),
    ("dense_2", {"kernel": (16, 1), "bias": (1,)}),
]


def write_keras_weights(path, layers, seed=0):
    """A weights file laid out like Keras 2's save_weights, layer groups listed out of creation order."""
    rng = np.random.default_rng(seed)
    arrays = {}
    with h5py.File(path, "w") as h5:
        names = [name for name, _ in layers][::-1]
        h5.attrs["layer_names"] = [name.encode() for name in names + ["flatten_1"]]
        h5.create_group("flatten_1").attrs["weight_names"] = []
        for name, weights in layers:
            group = h5.create_group(name)
            group.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w in weights]
            for weight, shape in weights.items():
                value = rng.uniform(0.5, 1.5, shape).astype(np.float32)
                group.create_dataset(f"{name}/{weight}:0", data=value)
                arrays[(name, weight)] = value
    return arrays


def test_mesonet_architectures_match_the_paper():
    assert sum(p.numel() for p in create_model("meso4").parameters()) == 27977
    assert sum(p.numel() for p in create_model("mesoinception4").parameters()) == 28615
    assert create_model("meso4").eval()(torch.rand(2, 3, 256, 256)).shape == (2,)


def test_keras_weights_land_in_the_right_places(tmp_path):
    arrays = write_keras_weights(tmp_path / "Meso4_tiny.h5", MESO4_KERAS_LAYERS)
    card = convert_mesonet(tmp_path / "Meso4_tiny.h5", tmp_path / "meso.safetensors")
    assert card.arch == "meso4" and card.preprocessing.mean == (0.0, 0.0, 0.0)
    model = load_detector(tmp_path / "meso.safetensors", device="cpu").model
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    dense = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    # Keras HWIO kernel [h, w, i, o] is our OIHW [o, i, h, w].
    assert np.allclose(convs[1].weight[3, 5, 4, 1].item(), arrays[("conv2d_2", "kernel")][4, 1, 5, 3])
    assert np.allclose(norms[2].running_var.numpy(), arrays[("batch_normalization_3", "moving_variance")])
    assert norms[0].eps == pytest.approx(1e-3)
    assert np.allclose(dense[0].weight.detach().numpy(), arrays[("dense_1", "kernel")].T)
    # Keras said P(real); our logit is for fake, so the output layer is negated.
    assert np.allclose(dense[1].bias.detach().numpy(), -arrays[("dense_2", "bias")])


def test_wrong_architecture_or_file_is_a_clear_error(tmp_path):
    write_keras_weights(tmp_path / "Meso4_tiny.h5", MESO4_KERAS_LAYERS)
    with pytest.raises(DeepfakeError, match="wrong architecture"):
        convert_mesonet(tmp_path / "Meso4_tiny.h5", tmp_path / "x.safetensors", arch="mesoinception4")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DeepfakeError, match="not a Keras HDF5"):
        convert_mesonet(tmp_path / "junk.h5", tmp_path / "x.safetensors")


@pytest.mark.skipif(not ANCHORS.is_dir(), reason="../shared/anchors/mesonet is not beside the project")
@pytest.mark.parametrize("name", ["Meso4_DF", "MesoInception_DF"])
def test_published_weights_classify_mesonets_own_test_images(tmp_path, name):
    out = tmp_path / f"{name}.safetensors"
    result = run_script("-m", "deepfake.convert", "mesonet", str(ANCHORS / "weights" / f"{name}.h5"), str(out))
    assert result.returncode == 0, result.stderr
    detector = load_detector(out, device="cpu")
    for folder, expected in (("df", "fake"), ("real", "real")):
        for image in sorted((ANCHORS / "test_images" / folder).glob("*.jpg")):
            assert detector.predict(image).label == expected, image


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["meso4", "mesoinception4"])
def test_mesonet_trains_with_our_train_py(labelled_folder, tmp_path, arch):
    result = run_script("train.py", "--data", str(labelled_folder), "--arch", arch, "--img-size", "32",
                        "--epochs", "1", "--batch-size", "8", "--workers", "0", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    detector = load_detector(tmp_path / "best.safetensors", device="cpu")
    assert detector.card.arch == arch and detector.card.model_kwargs == {"input_size": 32}
    assert 0 <= detector.predict(next(labelled_folder.glob("fake/*.png"))).fake_probability <= 1
