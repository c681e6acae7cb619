"""python -m deepfake.corpus build: the command lives with the others, in cli.py; the builder in data/."""
if __name__ == "__main__":
    from deepfake.cli import corpus
    corpus()
