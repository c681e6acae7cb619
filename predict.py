"""`python predict.py --help`: see deepfake/cli/predict.py."""
from deepfake.cli import predict

if __name__ == "__main__":
    predict()
