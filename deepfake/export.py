"""python -m deepfake.export, an alias of `deepfake export` (cli/export.py); the work is in inference/onnx_export.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import export
    export(sys.argv[1:])
