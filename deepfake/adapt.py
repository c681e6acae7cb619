"""python -m deepfake.adapt: the command lives with the others, in cli.py; the work in inference/adaptation.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import adapt
    adapt(sys.argv[1:])
