"""`python load_model.py --help`: see deepfake/cli/info.py."""
from deepfake.cli import load_model

if __name__ == "__main__":
    load_model()
