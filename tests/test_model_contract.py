"""Every registered architecture keeps the contract of models/base.py, as timm's tests/test_models.py checks
each of its models: built without pretrained weights, it maps [B, C, S, S] to [B] logits (C: its
input_channels), its cam_layer runs in its forward pass, and it survives a save and load through the checkpoint format."""
import pytest
import torch

from deepfake.checkpoint import ModelCard, load_model, save_model
from deepfake.preprocessing import Preprocessing
from deepfake.models.base import DetectorModel
from deepfake.registry import create_model, list_models, model_arguments

SIDE = 64  # small, for speed: fixed-size models are built for it, the others take any size


def built(arch: str):
    kwargs = {}
    if "pretrained" in model_arguments(arch):
        kwargs["pretrained"] = False  # random weights: no wheel needed, and the shapes are the same
    if "input_size" in model_arguments(arch):
        kwargs["input_size"] = SIDE
    if "global_view" in model_arguments(arch):
        kwargs["global_view"] = SIDE
    torch.manual_seed(0)
    return create_model(arch, **kwargs).eval(), kwargs


@pytest.mark.parametrize("arch", list_models())
def test_every_architecture_keeps_the_contract(arch, tmp_path):
    model, kwargs = built(arch)
    assert isinstance(model, DetectorModel)
    images = torch.randn(2, model.input_channels, SIDE, SIDE)
    called = []
    hook = model.cam_layer.register_forward_hook(lambda module, inputs, output: called.append(output.shape))
    with torch.no_grad():
        logits = model(images)
    hook.remove()
    assert logits.shape == (2,) and logits.dtype == torch.float32 and torch.isfinite(logits).all()
    assert called, f"{arch}: cam_layer is not on the forward path"
    assert len(called[0]) == 4, f"{arch}: cam_layer gives no spatial map"
    if model.splits_at_head:  # the head alone maps the embedding to the same logits
        with torch.no_grad():
            assert torch.allclose(model.head(model.embed(images)), logits, atol=1e-5), arch
    depths = list(model.parameter_depths())
    assert {id(parameter) for _, parameter, _, _ in depths} == {id(p) for p in model.parameters()}
    save_model(tmp_path / "m.safetensors", model, ModelCard(arch, kwargs, Preprocessing(input_size=SIDE)))
    loaded, card = load_model(tmp_path / "m.safetensors")
    with torch.no_grad():
        assert torch.allclose(loaded.eval()(images), logits, atol=1e-5), arch
    assert card.arch == arch


def test_a_model_that_names_no_cam_layer_says_what_to_add():
    class Bare(DetectorModel):
        def forward(self, images):
            return images.mean(dim=(1, 2, 3))

    with pytest.raises(NotImplementedError, match="names no cam_layer"):
        Bare().cam_layer
    assert not Bare.accepts_any_size and not Bare.splits_at_head
