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
