import pytest
import torch

from deepfake import DeepfakeError, create_model, list_models, register_model


def test_default_model_is_registered_and_outputs_one_logit_per_image():
    assert "artifact_cnn" in list_models()
    model = create_model("artifact_cnn").eval()
    with torch.no_grad():
        logits = model(torch.randn(3, 3, 128, 128))
    assert logits.shape == (3,)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


def test_accepts_any_input_size():
    model = create_model("artifact_cnn_tiny").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 40, 72)).shape == (1,)


def test_unknown_and_duplicate_names():
    with pytest.raises(DeepfakeError, match="unknown architecture"):
        create_model("no_such_net")
    with pytest.raises(ValueError, match="registered twice"):
        register_model(type("artifact_cnn", (), {}))


def receptive_field(model, side: int = 320) -> int:
    """Rows of the input that one position of the final feature map depends on."""
    torch.manual_seed(0)
    images = torch.randn(1, 3, side, side, requires_grad=True)
    feature_map = model.eval().features(images)
    feature_map[0, :, feature_map.shape[2] // 2, feature_map.shape[3] // 2].sum().backward()
    rows = (images.grad.abs().sum(dim=(0, 1, 3)) > 0).nonzero()
    return int(rows.max() - rows.min() + 1)


def test_the_deep_variant_sees_all_of_a_128_px_view_where_the_default_sees_half():
    deep, default = create_model("artifact_cnn_deep"), create_model("artifact_cnn")
    assert receptive_field(default) == 76 and receptive_field(deep) == 156 >= 128
    assert sum(p.numel() for p in deep.parameters()) == 1_212_657
    with torch.no_grad():
        assert deep.eval()(torch.randn(2, 3, 128, 128)).shape == (2,)
