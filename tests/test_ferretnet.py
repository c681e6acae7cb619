"""The FerretNet port: its local pixel dependency, the authors' state dict layout, and the converter."""
import pytest
import torch

from conftest import ROOT
from deepfake import DeepfakeError, create_model, load_detector
from deepfake.models.ferretnet import FERRETNET_PREPROCESSING, convert_ferretnet, local_pixel_dependency

PUBLISHED = ROOT.parent / "shared" / "anchors" / "ferretnet" / "ferretnet-s-median-3.pth"


def test_local_pixel_dependency_is_each_pixel_minus_its_neighbours_median():
    images = torch.randn(2, 3, 5, 6)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    expected = torch.empty_like(images)
    for row in range(5):
        for column in range(6):
            window = padded[:, :, row:row + 3, column:column + 3].reshape(2, 3, 9)
            neighbours = torch.cat([window[:, :, :4], window[:, :, 5:]], dim=2)  # the centre left out
            expected[:, :, row, column] = images[:, :, row, column] - neighbours.median(dim=2).values
    assert torch.equal(local_pixel_dependency(images), expected)
    # A flat image has no local dependency to read, except where the zero border enters the window.
    flat = local_pixel_dependency(torch.full((1, 3, 8, 8), 0.7))
    assert flat[:, :, 1:-1, 1:-1].abs().max() == 0 and flat[:, :, 0, 0].abs().min() > 0


def test_authors_state_dict_converts_to_a_checkpoint_that_scores_alike(tmp_path):
    torch.manual_seed(0)
    model = create_model("ferretnet_s").eval()
    torch.save({"model": model.state_dict()}, tmp_path / "ferretnet.pth")
    card = convert_ferretnet(tmp_path / "ferretnet.pth", tmp_path / "ferretnet.safetensors")
    assert card.preprocessing == FERRETNET_PREPROCESSING and card.preprocessing.resize == 0  # never resized
    detector = load_detector(tmp_path / "ferretnet.safetensors")
    images = torch.randn(3, 3, 256, 256)
    with torch.no_grad():
        assert torch.allclose(detector.model(images), model(images), atol=1e-5)


def test_a_file_that_is_not_ferretnet_is_a_clear_error(tmp_path):
    torch.save({"model": {"conv.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(DeepfakeError, match="does not fit ferretnet_s"):
        convert_ferretnet(tmp_path / "other.pth", tmp_path / "out.safetensors")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(DeepfakeError, match="not a FerretNet checkpoint"):
        convert_ferretnet(tmp_path / "text.pth", tmp_path / "out.safetensors")
    with pytest.raises(DeepfakeError, match="no such file"):
        convert_ferretnet(tmp_path / "absent.pth", tmp_path / "out.safetensors")


@pytest.mark.skipif(not PUBLISHED.is_file(), reason="the published FerretNet-S weights are in ../shared/anchors")
def test_published_weights_fill_every_parameter(tmp_path):
    published = torch.load(PUBLISHED, map_location="cpu", weights_only=True)["model"]
    model = create_model("ferretnet_s")
    assert set(published) == set(model.state_dict())  # strict: every key of theirs has a place here, and back
    convert_ferretnet(PUBLISHED, tmp_path / "ferretnet_s.safetensors")
    detector = load_detector(tmp_path / "ferretnet_s.safetensors")
    assert torch.equal(detector.model.state_dict()["logit.1.weight"], published["logit.1.weight"])
