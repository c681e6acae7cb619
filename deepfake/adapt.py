"""python -m deepfake.adapt (an alias of `deepfake adapt`): the command is deepfake/cli/adapt.py, the work deepfake/adaptation/."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import adapt
    adapt(sys.argv[1:])
