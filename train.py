"""`python train.py --help`: see deepfake/cli/train.py."""
from deepfake.cli import train

if __name__ == "__main__":
    train()
