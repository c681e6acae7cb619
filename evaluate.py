"""`python evaluate.py --help`: see deepfake/cli/evaluate.py."""
from deepfake.cli import evaluate

if __name__ == "__main__":
    evaluate()
