"""Convert published weights of peer detectors into deepfake checkpoints.

    python -m deepfake.convert mesonet Meso4_DF.h5 meso4_df.safetensors

MesoNet's Keras HDF5 files hold weights only; layers are matched to ours in creation order (Keras numbers
its layers as it creates them), kernels go from Keras HWIO to PyTorch OIHW, dense kernels are transposed.
Keras' output is P(real): `flow_from_directory` sorted the class folders `df` < `real`, so class 1 was
real (checked on MesoNet's own four test images). Our logit means fake, so the last layer is negated.
"""
import re
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
import torch.nn as nn

from ..checkpoint import ModelCard, save_model
from ..errors import DeepfakeError
from ..extras import needs
from ..preprocessing import Preprocessing
from ..registry import create_model

# MesoNet's training pipeline: Keras ImageDataGenerator(rescale=1/255) on 256x256 images.
MESONET_PREPROCESSING = Preprocessing(input_size=256, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), eval_crops=1,
                                      resize=256)


def _keras_layers(h5_file) -> Dict[str, Dict[str, np.ndarray]]:
    """{layer name: {weight name: array}} from a Keras 2 weights file (model.save or save_weights)."""
    group = h5_file["model_weights"] if "model_weights" in h5_file else h5_file
    layers = {}
    for name in group.attrs["layer_names"]:
        name = name.decode() if isinstance(name, bytes) else name
        weight_names = [w.decode() if isinstance(w, bytes) else w for w in group[name].attrs["weight_names"]]
        if weight_names:
            layers[name] = {w.split("/")[-1].split(":")[0]: np.asarray(group[name][w]) for w in weight_names}
    return layers


def _in_creation_order(layers: Dict[str, Dict], kind: str) -> List[Dict[str, np.ndarray]]:
    numbered = [(int(match.group(1) or 0), name) for name in layers
                if (match := re.fullmatch(rf"{kind}(?:_(\d+))?", name))]
    return [layers[name] for _, name in sorted(numbered)]


def _copy(target: torch.Tensor, source: np.ndarray, what: str) -> None:
    if tuple(target.shape) != source.shape:
        raise DeepfakeError(f"{what}: Keras shape {source.shape} does not fit ours {tuple(target.shape)}; "
                            f"is this the right architecture?")
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(source)))


def load_keras_mesonet(model: nn.Module, h5_path: Path) -> None:
    with needs("converting MesoNet's Keras weights"):
        import h5py  # only the converter needs it

    try:
        with h5py.File(h5_path, "r") as h5_file:
            layers = _keras_layers(h5_file)
    except (OSError, KeyError) as error:
        raise DeepfakeError(f"{h5_path}: not a Keras HDF5 weights file ({error})") from None
    pairs = [(nn.Conv2d, "conv2d"), (nn.BatchNorm2d, "batch_normalization"), (nn.Linear, "dense")]
    for module_type, keras_kind in pairs:
        ours = [m for m in model.modules() if isinstance(m, module_type)]
        theirs = _in_creation_order(layers, keras_kind)
        if len(ours) != len(theirs):
            raise DeepfakeError(f"{h5_path}: has {len(theirs)} {keras_kind} layers, the model has {len(ours)}; "
                                f"wrong architecture (meso4 vs mesoinception4)?")
        for index, (module, weights) in enumerate(zip(ours, theirs)):
            what = f"{h5_path}: {keras_kind} #{index + 1}"
            if module_type is nn.Conv2d:
                _copy(module.weight, weights["kernel"].transpose(3, 2, 0, 1), what)  # HWIO -> OIHW
                _copy(module.bias, weights["bias"], what)
            elif module_type is nn.Linear:
                _copy(module.weight, weights["kernel"].T, what)
                _copy(module.bias, weights["bias"], what)
            else:
                _copy(module.weight, weights["gamma"], what)
                _copy(module.bias, weights["beta"], what)
                _copy(module.running_mean, weights["moving_mean"], what)
                _copy(module.running_var, weights["moving_variance"], what)
    output_layer = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():  # Keras predicted P(real); logit(P(fake)) = -logit(P(real))
        output_layer.weight.neg_()
        output_layer.bias.neg_()


def convert_mesonet(h5_path, out_path, arch: str = None) -> ModelCard:
    """Convert one of MesoNet's published files; the architecture is read from the file name if not given."""
    h5_path = Path(h5_path)
    if not h5_path.is_file():
        raise DeepfakeError(f"{h5_path}: no such file")
    arch = arch or ("mesoinception4" if "inception" in h5_path.name.lower() else "meso4")
    model = create_model(arch).eval()
    load_keras_mesonet(model, h5_path)
    card = ModelCard(
        arch=arch, model_kwargs={}, preprocessing=MESONET_PREPROCESSING, threshold=0.5,
        threshold_rule="0.5, MesoNet's own (not chosen on our data)",
        training={"source": f"converted from MesoNet's published Keras weights {h5_path.name} (Afchar et al., "
                            f"WIFS 2018; github.com/DariusAf/MesoNet, Apache-2.0)",
                  "data": []},
    )
    save_model(out_path, model, card)
    return card

