"""python -m deepfake.corpus build (an alias of `deepfake corpus build`): the command is deepfake/cli/corpus.py."""
if __name__ == "__main__":
    from deepfake.cli import corpus
    corpus()
