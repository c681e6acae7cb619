"""python -m deepfake.export: the command lives with the others, in cli.py; the exporter in inference/onnx_export.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import export
    export(sys.argv[1:])
