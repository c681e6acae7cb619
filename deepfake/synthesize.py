"""python -m deepfake.synthesize, an alias of `deepfake synthesize` (cli/synthesize.py); the work is in synthesis/folder.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import synthesize
    synthesize(sys.argv[1:])
