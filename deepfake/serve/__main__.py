if __name__ == "__main__":  # python -m deepfake.serve: the command lives with the others, in cli.py
    from deepfake.cli import serve
    serve()
