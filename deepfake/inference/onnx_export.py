"""Export a checkpoint to ONNX, with its model card inside, for onnxruntime and other serving stacks.

    python -m deepfake.export --onnx OUT.onnx [--weights W.safetensors] [--opset 18] [--int8]

The graph maps crops [N, C, H, W] (C = 3, or 6 for a two-view model; normalised, as `EvalTransform` makes them)
to one logit per crop; batch, height and width are dynamic. Averaging a picture's crops and the sigmoid stay outside, exactly as
in the PyTorch path, so both backends share every line of preprocessing and decision code. The checkpoint's
JSON card rides in the ONNX metadata under `MODEL_CARD_KEY`, so an exported file needs no flags either.

--int8 quantises the weights of convolutions and matrix products to int8 (onnxruntime's dynamic quantisation:
activations are quantised per batch at run time, so no calibration images are needed). The file runs with
--backend onnx like any other; what it costs in ROC-AUC is in the model card.
"""
import warnings
from pathlib import Path
from typing import Union

import torch

from ..checkpoint import atomic_write_bytes, load_model
from ..extras import needs

MODEL_CARD_KEY = "deepfake_model_card"
INPUT_NAME, OUTPUT_NAME = "crops", "logits"


def export_onnx(weights: Union[str, Path], out: Union[str, Path], opset: int = 18, int8: bool = False) -> Path:
    with needs("ONNX export"):
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter runs on it)
    model, card = load_model(weights)
    model.eval()
    size = card.preprocessing.input_size
    example = torch.zeros(2, model.input_channels, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals are not the user's business
        program = torch.onnx.export(model, (example,), dynamo=True, opset_version=opset, verbose=False,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_axes={INPUT_NAME: {0: "crops", 2: "height", 3: "width"},
                                                  OUTPUT_NAME: {0: "crops"}})
    proto = program.model_proto
    if int8:
        proto = quantized_int8(proto)
    onnx.helper.set_model_props(proto, {MODEL_CARD_KEY: card.to_json()})
    atomic_write_bytes(out, proto.SerializeToString())
    return Path(out)


def quantized_int8(proto):
    """The graph with int8 weights (per output channel) and dynamically quantised activations."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    with tempfile.TemporaryDirectory() as folder:
        source, prepared, quantized = (Path(folder) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        onnx.save(proto, source)
        quant_pre_process(str(source), str(prepared))  # folds and infers shapes, as quantisation expects
        quantize_dynamic(prepared, quantized, per_channel=True, weight_type=QuantType.QInt8)
        return onnx.load(quantized)
