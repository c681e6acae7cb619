"""python -m deepfake.synthesize: the command lives with the others, in cli.py; the folder writer in synthesis/folder.py."""
if __name__ == "__main__":
    import sys

    from deepfake.cli import synthesize
    synthesize(sys.argv[1:])
