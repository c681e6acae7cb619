"""Run an exported .onnx file with onnxruntime behind the same call as the PyTorch model.

`OnnxModel` takes and returns torch tensors, so `Detector`, its crops, averaging, threshold and every output
format are shared with the PyTorch backend; only the arithmetic moves to onnxruntime (faster on CPU: see
benchmarks/README.md). The model card comes from the file's own metadata (see `onnx_export.py`).
"""
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ..checkpoint import ModelCard
from ..errors import DeepfakeError
from .onnx_export import INPUT_NAME, MODEL_CARD_KEY
from ..extras import needs


class OnnxModel:
    """Callable like an eval-mode nn.Module: crops [N, 3, H, W] -> logits [N]."""

    def __init__(self, session):
        self.session = session

    def eval(self) -> "OnnxModel":
        return self  # always in inference mode; here so that scoring code treats both backends alike

    def __call__(self, crops: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(crops.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {INPUT_NAME: pixels})[0])


def load_onnx_model(path: Union[str, Path]) -> "tuple[OnnxModel, ModelCard]":
    path = Path(path)
    if path.suffix != ".onnx":
        raise DeepfakeError(f"{path}: the onnx backend reads an .onnx file; export this checkpoint first: "
                            f"python -m deepfake.export --weights {path} --onnx model.onnx")
    with needs("--backend onnx"):
        import onnxruntime
    if not path.is_file():
        raise DeepfakeError(f"{path}: no such ONNX file (make one with: python -m deepfake.export --onnx {path})")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for files it cannot parse
        raise DeepfakeError(f"{path}: not a loadable ONNX model ({str(error).splitlines()[0]})") from None
    card_json = session.get_modelmeta().custom_metadata_map.get(MODEL_CARD_KEY)
    if card_json is None:
        raise DeepfakeError(f"{path}: an ONNX model, but not exported by deepfake (no model card in its "
                            f"metadata); export with: python -m deepfake.export --onnx OUT.onnx")
    return OnnxModel(session), ModelCard.from_json(card_json, path)
