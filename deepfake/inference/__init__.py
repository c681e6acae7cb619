"""Turning media into verdicts: the Detector, the model over an image's crops, calibration, frame
aggregation, the ONNX backend and Grad-CAM explanations."""
