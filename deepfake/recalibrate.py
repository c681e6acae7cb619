"""python -m deepfake.recalibrate, an alias of `deepfake recalibrate` (cli/recalibrate.py); the work is in evaluation/recalibrate.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import recalibrate
    recalibrate(sys.argv[1:])
