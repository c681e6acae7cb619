"""python -m deepfake.recalibrate: the command lives with the others, in cli.py; the refit in evaluation/recalibrate.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import recalibrate
    recalibrate(sys.argv[1:])
